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
        Integer[] order = null;
        if (options.topK() > 0 && options.topK() < vocab || options.topP() < 1) {
            order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) order[i] = i;
            final double[] pp = p;
            Arrays.sort(order, (a, b) -> Double.compare(pp[b], pp[a]));
            int keep = options.topK() > 0 ? Math.min(options.topK(), vocab) : vocab;
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
