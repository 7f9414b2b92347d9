package dev.persona.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Attention of a few query rows over the key/value cache on the Java side, for passes whose
 * products run on the decoding kernel ({@link Gemv}): the queries, keys and values are Java floats
 * there already, and the libtorch route (cache writes and reads, head repeats, two batched products,
 * a scale, a mask and a softmax) costs some twenty calls a layer for a few thousand multiply-adds.
 * Names the vector API, so it is only loaded when the kernel is.
 *
 * <p>Layouts: queries [rows = batch x pos, heads x headDim]; keys and values [rows, kvHeads x
 * headDim]; the cache [cacheBatch, kvHeads, capacity, headDim] float32 in native order; the output
 * [rows, heads x headDim]. Query head h reads key/value head h / (heads / kvHeads), as transformers'
 * repeat_kv does. Rounded as the libtorch route rounds, up to summation order: score = (q . k) x scale
 * in float, then the soft cap, then a softmax over the visible keys (max subtracted, exp, sum, divide),
 * then the probabilities times the values.
 */
final class AttentionKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private AttentionKernel() { }

    /** Writes keys or values [batch x pos, kvHeads x headDim] into the cache's slots {@code slot .. slot + pos - 1}. */
    static void write(float[] rows, int batch, int pos, int kvHeads, int headDim, ByteBuffer cache, int capacity, int slot) {
        for (int i = 0; i < batch; i++) {
            for (int j = 0; j < pos; j++) {
                for (int g = 0; g < kvHeads; g++) {
                    int from = ((i * pos + j) * kvHeads + g) * headDim;
                    long to = (((long) i * kvHeads + g) * capacity + slot + j) * headDim;
                    for (int e = 0; e < headDim; e++) cache.putFloat((int) (4 * (to + e)), rows[from + e]);
                }
            }
        }
    }

    /**
     * out = softmax(q . K^T x scale, over the visible keys) . V for every query row and head.
     *
     * @param keyValid which cache slots of each batch row hold real tokens
     * @param window   with a value > 0, keys more than window - 1 slots behind the query are hidden (sliding attention)
     * @param softcap  with a value > 0, scores become softcap x tanh(score / softcap) before the softmax
     */
    static void attend(float[] q, int batch, int pos, int heads, int kvHeads, int headDim, ByteBuffer keys, ByteBuffer values,
                       int capacity, int slot, boolean[][] keyValid, int window, float scale, float softcap, float[] out) {
        int group = heads / kvHeads;
        int span = slot + pos;
        float[] scores = new float[span];
        boolean[] visible = new boolean[span];
        float[] acc = new float[headDim];
        for (int i = 0; i < batch; i++) {
            for (int j = 0; j < pos; j++) {
                int query = slot + j;
                int seen = 0;
                for (int s = 0; s < span; s++) {
                    visible[s] = s <= query && keyValid[i][s] && (window <= 0 || s > query - window);
                    if (visible[s]) seen++;
                }
                for (int h = 0; h < heads; h++) {
                    int g = h / group;
                    int qo = ((i * pos + j) * heads + h) * headDim;
                    long head = ((long) i * kvHeads + g) * capacity;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int s = 0; s < span; s++) {
                        // a query that sees no key (a padding position) gets libtorch's uniform average over every slot
                        if (seen > 0 && !visible[s]) continue;
                        float score = dot(q, qo, keys, (int) (4 * (head + s) * headDim), headDim) * scale;
                        if (softcap > 0) score = (float) Math.tanh(score / softcap) * softcap;
                        if (seen == 0) score = 0f;
                        scores[s] = score;
                        max = Math.max(max, score);
                    }
                    float sum = 0f;
                    for (int s = 0; s < span; s++) {
                        if (seen > 0 && !visible[s]) continue;
                        scores[s] = (float) Math.exp(scores[s] - max);
                        sum += scores[s];
                    }
                    java.util.Arrays.fill(acc, 0f);
                    for (int s = 0; s < span; s++) {
                        if (seen > 0 && !visible[s]) continue;
                        axpy(scores[s] / sum, values, (int) (4 * (head + s) * headDim), acc, headDim);
                    }
                    System.arraycopy(acc, 0, out, qo, headDim);
                }
            }
        }
    }

    /** a[ao .. ao + n) . b's floats from byte {@code bo}. */
    private static float dot(float[] a, int ao, ByteBuffer b, int bo, int n) {
        int step = S.length();
        FloatVector sum = FloatVector.zero(S);
        int e = 0;
        for (; e + step <= n; e += step) sum = FloatVector.fromArray(S, a, ao + e).fma(FloatVector.fromByteBuffer(S, b, bo + 4 * e, NATIVE), sum);
        float s = sum.reduceLanes(VectorOperators.ADD);
        for (; e < n; e++) s += a[ao + e] * b.getFloat(bo + 4 * e);
        return s;
    }

    /** acc += p x b's floats from byte {@code bo}, n of them. */
    private static void axpy(float p, ByteBuffer b, int bo, float[] acc, int n) {
        int step = S.length();
        FloatVector pv = FloatVector.broadcast(S, p);
        int e = 0;
        for (; e + step <= n; e += step) {
            FloatVector.fromByteBuffer(S, b, bo + 4 * e, NATIVE).fma(pv, FloatVector.fromArray(S, acc, e)).intoArray(acc, e);
        }
        for (; e < n; e++) acc[e] += p * b.getFloat(bo + 4 * e);
    }
}
