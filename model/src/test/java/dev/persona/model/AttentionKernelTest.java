package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link AttentionKernel#attend} against attention written out in double precision: grouped query
 * heads, left padding, a query that sees no key (libtorch's uniform average over every slot), a
 * sliding window and a soft cap, in calls small enough to run on the calling thread and large
 * enough to be shared with the product pool's threads.
 */
class AttentionKernelTest {
    @Test
    void sharedAndAloneCallsEqualAttentionInDouble() {
        Fixtures.require(Gemv.available(), "the jdk.incubator.vector module (run with --add-modules=jdk.incubator.vector)");
        // batch, pos, heads, kvHeads, headDim (40: two whole vectors of 16 and a tail), capacity, slot, window, softcap
        check(2, 3, 4, 2, 40, 300, 200, 0, 0f, 1);
        check(2, 3, 6, 2, 40, 300, 200, 64, 30f, 2);
        check(1, 1, 2, 1, 8, 8, 4, 0, 0f, 3);
        check(3, 2, 4, 4, 24, 40, 10, 5, 0f, 4);
        // headDim 72: four whole vectors of 16 summed in registers together, then a tail of 8
        check(2, 1, 14, 2, 72, 200, 150, 0, 0f, 5);
    }

    private static void check(int batch, int pos, int heads, int kvHeads, int headDim, int capacity, int slot, int window, float softcap, long seed) {
        Random r = new Random(seed);
        float[] q = gaussian(r, batch * pos * heads * headDim, 0.4f);
        ByteBuffer keys = ByteBuffer.allocateDirect(4 * batch * kvHeads * capacity * headDim).order(ByteOrder.nativeOrder());
        ByteBuffer values = ByteBuffer.allocateDirect(keys.capacity()).order(ByteOrder.nativeOrder());
        for (int i = 0; i < keys.capacity() / 4; i++) {
            keys.putFloat(4 * i, (float) r.nextGaussian());
            values.putFloat(4 * i, (float) r.nextGaussian());
        }
        int span = slot + pos;
        boolean[][] keyValid = new boolean[batch][capacity];
        for (int i = 0; i < batch; i++) {
            // row 0 unpadded; row 1 padded up to past the pass's first slot, so its first queries see no key at all
            int pad = i == 1 ? slot + Math.min(pos - 1, 2) : i * 3;
            for (int s = pad; s < span; s++) keyValid[i][s] = true;
        }
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] out = new float[batch * pos * heads * headDim];
        AttentionKernel.attend(q, batch, pos, heads, kvHeads, headDim, keys, values, capacity, slot, keyValid, window, scale, softcap, out);
        int group = heads / kvHeads;
        for (int i = 0; i < batch; i++) {
            for (int j = 0; j < pos; j++) {
                int query = slot + j;
                for (int h = 0; h < heads; h++) {
                    int g = h / group, qo = ((i * pos + j) * heads + h) * headDim;
                    double[] w = new double[span];
                    boolean any = false;
                    for (int s = 0; s < span; s++) any |= s <= query && keyValid[i][s] && (window <= 0 || s > query - window);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s < span; s++) {
                        boolean seen = s <= query && keyValid[i][s] && (window <= 0 || s > query - window);
                        if (any && !seen) {
                            w[s] = Double.NaN;
                            continue;
                        }
                        double score = 0;
                        for (int e = 0; e < headDim; e++) score += (double) q[qo + e] * keys.getFloat(4 * (int) ((((long) i * kvHeads + g) * capacity + s) * headDim + e));
                        score *= scale;
                        if (softcap > 0) score = Math.tanh(score / softcap) * softcap;
                        w[s] = any ? score : 0;
                        max = Math.max(max, w[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s < span; s++) if (!Double.isNaN(w[s])) sum += w[s] = Math.exp(w[s] - max);
                    for (int e = 0; e < headDim; e++) {
                        double expected = 0;
                        for (int s = 0; s < span; s++) {
                            if (!Double.isNaN(w[s])) expected += w[s] / sum * values.getFloat(4 * (int) ((((long) i * kvHeads + g) * capacity + s) * headDim + e));
                        }
                        assertEquals(expected, out[qo + e], 2e-5, "batch row " + i + ", query " + j + ", head " + h + ", element " + e + " (seed " + seed + ")");
                    }
                }
            }
        }
    }

    private static float[] gaussian(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * scale;
        return v;
    }
}
