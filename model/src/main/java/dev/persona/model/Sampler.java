package dev.persona.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks the next token from one row of logits (greedy, or temperature / top-k / top-p sampling). */
final class Sampler {
    private final GenerationOptions options;
    private final SplittableRandom random;

    Sampler(GenerationOptions options, int row) {
        this.options = options;
        this.random = new SplittableRandom(options.seed() * 0x9E3779B97F4A7C15L + row);
    }

    int next(float[] logits, int offset, int vocab) {
        if (options.temperature() == 0) return argmax(logits, offset, vocab);
        double t = options.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
        double[] p = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp((logits[offset + i] - max) / t);
            sum += p[i];
        }
        if (options.topK() > 0 && options.topK() < vocab || options.topP() < 1) {
            int k = options.topK() > 0 ? Math.min(options.topK(), vocab) : vocab;
            Integer[] order = candidates(p, sum, k, options.topP());
            int keep = Math.min(k, order.length);
            if (options.topP() < 1) {
                double cum = 0;
                int n = 0;
                // keep the smallest prefix whose mass reaches top_p (at least one token)
                while (n < keep) {
                    cum += p[order[n]] / sum;
                    n++;
                    if (cum >= options.topP()) break;
                }
                keep = n;
            }
            double kept = 0;
            for (int i = 0; i < keep; i++) kept += p[order[i]];
            double u = random.nextDouble() * kept;
            for (int i = 0; i < keep; i++) {
                u -= p[order[i]];
                if (u <= 0) return order[i];
            }
            return order[keep - 1];
        }
        double u = random.nextDouble() * sum;
        for (int i = 0; i < vocab; i++) {
            u -= p[i];
            if (u <= 0) return i;
        }
        return vocab - 1;
    }

    /**
     * The most probable tokens, most probable first (ties: lower id first), enough of them to hold the
     * top {@code k} or the top-{@code topP} nucleus: every token whose weight is at least a threshold,
     * the threshold lowered tenfold until the set has k members or topP of the mass. Sorting only
     * these instead of the whole vocabulary (151936 ids for Qwen) makes a top-p step about a
     * millisecond instead of tens; the prefix used for sampling is the same as with a full sort.
     */
    static Integer[] candidates(double[] p, double sum, int k, double topP) {
        double max = 0;
        for (double x : p) max = Math.max(max, x);
        int n;
        int[] ids = new int[p.length];
        for (double tau = max * 1e-3; ; tau /= 10) {
            n = 0;
            double mass = 0;
            for (int i = 0; i < p.length; i++) {
                if (p[i] >= tau) {
                    ids[n++] = i;
                    mass += p[i];
                }
            }
            // a hair over topP, so the prefix loop's own rounding can never need a token outside the set
            if (n >= k || mass >= Math.min(1.0, topP * (1 + 1e-9)) * sum || n == p.length || tau < Double.MIN_NORMAL) break;
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = ids[i];
        Arrays.sort(order, (a, b) -> p[b] != p[a] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        return order;
    }

    static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        float bv = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            if (logits[offset + i] > bv) {
                bv = logits[offset + i];
                best = i;
            }
        }
        return best;
    }
}
