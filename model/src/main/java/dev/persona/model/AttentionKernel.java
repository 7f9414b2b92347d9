package dev.persona.model;

import java.nio.ByteBuffer;
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
 * repeat_kv does. Rounded as the libtorch route rounds, up to summation order and the exponential
 * (the vector API's, within an ulp or so of the exact one, as libtorch's own vectorised exp is):
 * score = (q . k) x scale in float, then the soft cap, then a softmax over the visible keys (max
 * subtracted, exp, sum, divide), then the probabilities times the values.
 */
final class AttentionKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

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
     * Layer {@code layer}'s attention of a pass over the cache: keys and values [batch x pos, kvHeads
     * x headDim] written into the cache's slots {@code slot .. slot + pos - 1}, then {@link #attend}
     * with the model's heads, scale and soft cap; returns the heads' outputs [batch x pos, heads x headDim].
     *
     * @param window the layer's sliding window, 0 for full attention
     */
    static float[] overCache(ModelConfig c, float[] q, float[] k, float[] v, int batch, int pos, KVCache cache, int layer, int slot,
                             boolean[][] keyValid, int window) {
        ByteBuffer keys = cache.keyView(layer), values = cache.valueView(layer);
        write(k, batch, pos, c.numKvHeads(), c.headDim(), keys, cache.capacity, slot);
        write(v, batch, pos, c.numKvHeads(), c.headDim(), values, cache.capacity, slot);
        float[] out = new float[batch * pos * c.qWidth()];
        attend(q, batch, pos, c.numHeads(), c.numKvHeads(), c.headDim(), keys, values, cache.capacity, slot, keyValid, window,
                (float) c.attention().scale(), (float) c.attention().scoreSoftcap(), out);
        return out;
    }

    /**
     * out = softmax(q . K^T x scale, over the visible keys) . V for every query row and head.
     * The work goes to the product pool's threads ({@link Gemv#runShared}) in units of one query
     * row and one key/value head with its group of query heads, which read that head's keys and
     * values together while they are in cache.
     *
     * @param keyValid which cache slots of each batch row hold real tokens
     * @param window   with a value > 0, keys more than window - 1 slots behind the query are hidden (sliding attention)
     * @param softcap  with a value > 0, scores become softcap x tanh(score / softcap) before the softmax
     */
    static void attend(float[] q, int batch, int pos, int heads, int kvHeads, int headDim, ByteBuffer keys, ByteBuffer values,
                       int capacity, int slot, boolean[][] keyValid, int window, float scale, float softcap, float[] out) {
        int group = heads / kvHeads, span = slot + pos, units = batch * pos * kvHeads;
        Gemv.Task task = (from, to) -> {
            float[] scores = Gemv.scratch(SCORES, group * span, group * capacity);
            for (int u = from; u < to; u++) {
                int i = u / (pos * kvHeads), j = u / kvHeads % pos, g = u % kvHeads;
                unit(q, i, j, g, pos, heads, kvHeads, headDim, keys, values, capacity, slot, keyValid[i], window, scale, softcap, scores, out);
            }
        };
        // two multiply-adds per query head, key and element (score and output): at batch 1 of a 0.5B model
        // (7 query heads a key/value head, 64 wide) the pool and one thread are level at 32 keys, 8.5-12
        // against 9.6-9.8 us a layer, and the pool is ahead from there on (docs/BENCHMARKS.md, session 15)
        boolean alone = (long) units * group * span * headDim < 16_384;
        if (alone) task.run(0, units);
        else Gemv.runShared(task, units, 1);
    }

    /** Per thread: scores [group, span] of one unit (a decode step's span is one longer than the last step's, so these arrays grow by doubling). */
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Per thread: one key/value head's keys or values over a unit's span, [span, headDim], copied
     * out of the cache: every vector load from a direct buffer re-checks the buffer (about a dozen
     * instructions, docs/BENCHMARKS.md session 18), and a unit reads each key and value once per
     * query head of its group, so loads from an array cost less than the copy.
     */
    private static final ThreadLocal<float[]> KEYS = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> VALUES = ThreadLocal.withInitial(() -> new float[0]);

    /** Attention of query row (i, j) over key/value head g, for the query heads of g's group. */
    private static void unit(float[] q, int i, int j, int g, int pos, int heads, int kvHeads, int headDim, ByteBuffer keys, ByteBuffer values,
                             int capacity, int slot, boolean[] keyValid, int window, float scale, float softcap, float[] scores, float[] out) {
        int group = heads / kvHeads, span = slot + pos, query = slot + j;
        int seen = 0;
        for (int s = 0; s < span; s++) {
            if (visible(s, query, keyValid, window)) seen++;
        }
        int head = (int) (((long) i * kvHeads + g) * capacity * headDim), n = span * headDim;
        int q0 = ((i * pos + j) * heads + g * group) * headDim;
        float[] k = Gemv.scratch(KEYS, n, capacity * headDim);
        keys.asFloatBuffer().get(head, k, 0, n);
        for (int s = 0; s < span; s++) {
            // a query that sees no key (a padding position) gets libtorch's uniform average over every slot
            boolean hidden = seen > 0 && !visible(s, query, keyValid, window);
            for (int h = 0; h < group; h++) {
                float score;
                if (hidden) {
                    // exp of it is 0: the key drops out of the sum and the output
                    score = Float.NEGATIVE_INFINITY;
                } else if (seen == 0) {
                    score = 0f;
                } else {
                    score = dot(q, q0 + h * headDim, k, s * headDim, headDim) * scale;
                    if (softcap > 0) score = (float) Math.tanh(score / softcap) * softcap;
                }
                scores[h * span + s] = score;
            }
        }
        for (int h = 0; h < group; h++) softmax(scores, h * span, span);
        float[] v = Gemv.scratch(VALUES, n, capacity * headDim);
        values.asFloatBuffer().get(head, v, 0, n);
        for (int h = 0; h < group; h++) weightedValues(scores, h * span, span, v, headDim, out, q0 + h * headDim);
    }

    /**
     * out[o .. o + headDim) = the sum over slots s of p[ps + s] x v's row s (rows of headDim), in
     * slot order; slots of probability 0 are left out (a hidden slot may hold anything, and 0 x NaN
     * is not 0). Up to four vectors of each row are summed at once, in registers.
     */
    private static void weightedValues(float[] p, int ps, int span, float[] v, int headDim, float[] out, int o) {
        int step = S.length(), e = 0;
        for (; e + 4 * step <= headDim; e += 4 * step) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int s = 0; s < span; s++) {
                float ps1 = p[ps + s];
                if (ps1 == 0f) continue;
                FloatVector pv = FloatVector.broadcast(S, ps1);
                int row = s * headDim + e;
                a0 = FloatVector.fromArray(S, v, row).fma(pv, a0);
                a1 = FloatVector.fromArray(S, v, row + step).fma(pv, a1);
                a2 = FloatVector.fromArray(S, v, row + 2 * step).fma(pv, a2);
                a3 = FloatVector.fromArray(S, v, row + 3 * step).fma(pv, a3);
            }
            a0.intoArray(out, o + e);
            a1.intoArray(out, o + e + step);
            a2.intoArray(out, o + e + 2 * step);
            a3.intoArray(out, o + e + 3 * step);
        }
        for (; e + step <= headDim; e += step) {
            FloatVector a = FloatVector.zero(S);
            for (int s = 0; s < span; s++) {
                float ps1 = p[ps + s];
                if (ps1 != 0f) a = FloatVector.fromArray(S, v, s * headDim + e).fma(FloatVector.broadcast(S, ps1), a);
            }
            a.intoArray(out, o + e);
        }
        for (; e < headDim; e++) {
            float a = 0f;
            for (int s = 0; s < span; s++) {
                float ps1 = p[ps + s];
                if (ps1 != 0f) a += ps1 * v[s * headDim + e];
            }
            out[o + e] = a;
        }
    }

    private static boolean visible(int s, int query, boolean[] keyValid, int window) {
        return s <= query && keyValid[s] && (window <= 0 || s > query - window);
    }

    /**
     * x[o .. o + n) = softmax of those values: max subtracted, exp ({@link VectorExp}, on the vector
     * unit), divided by their sum (the maximum and the divisions exact, so in vectors as well).
     */
    private static void softmax(float[] x, int o, int n) {
        int step = S.length(), s = 0;
        FloatVector maxes = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; s + step <= n; s += step) maxes = maxes.max(FloatVector.fromArray(S, x, o + s));
        float max = maxes.reduceLanes(VectorOperators.MAX);
        for (; s < n; s++) max = Math.max(max, x[o + s]);
        FloatVector sums = FloatVector.zero(S);
        for (s = 0; s + step <= n; s += step) {
            FloatVector e = VectorExp.exp(FloatVector.fromArray(S, x, o + s).sub(max));
            e.intoArray(x, o + s);
            sums = sums.add(e);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; s < n; s++) {
            x[o + s] = VectorExp.exp(x[o + s] - max);
            sum += x[o + s];
        }
        FloatVector sumv = FloatVector.broadcast(S, sum);
        for (s = 0; s + step <= n; s += step) FloatVector.fromArray(S, x, o + s).div(sumv).intoArray(x, o + s);
        for (; s < n; s++) x[o + s] /= sum;
    }

    /** a[ao .. ao + n) . b[bo .. bo + n), in two vector sums (alternate vectors) added before the lanes are. */
    private static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int step = S.length(), e = 0;
        FloatVector even = FloatVector.zero(S), odd = even;
        for (; e + 2 * step <= n; e += 2 * step) {
            even = FloatVector.fromArray(S, a, ao + e).fma(FloatVector.fromArray(S, b, bo + e), even);
            odd = FloatVector.fromArray(S, a, ao + e + step).fma(FloatVector.fromArray(S, b, bo + e + step), odd);
        }
        if (e + step <= n) {
            even = FloatVector.fromArray(S, a, ao + e).fma(FloatVector.fromArray(S, b, bo + e), even);
            e += step;
        }
        float sum = even.add(odd).reduceLanes(VectorOperators.ADD);
        for (; e < n; e++) sum += a[ao + e] * b[bo + e];
        return sum;
    }
}
