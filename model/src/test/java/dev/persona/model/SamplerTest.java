package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The sampler sorts only the most probable tokens for top-k / top-p; it must draw exactly the token a
 * full sort of the vocabulary would (reimplemented here as the reference), for peaked and flat
 * distributions, ties, and every combination of k and p.
 */
class SamplerTest {
    @Test
    void candidateSortingDrawsWhatAFullSortDraws() {
        Random rnd = new Random(11);
        int checked = 0;
        for (int vocab : new int[] {7, 500, 4000}) {
            for (double scale : new double[] {0.1, 1, 4, 12}) {
                for (int trial = 0; trial < 6; trial++) {
                    float[] logits = new float[vocab];
                    for (int i = 0; i < vocab; i++) logits[i] = (float) (rnd.nextGaussian() * scale);
                    // ties: copy some values so that equal probabilities must fall back to token order
                    for (int i = 0; i + 3 < vocab; i += 5) logits[i + 3] = logits[i];
                    for (int k : new int[] {0, 1, 5, 40}) {
                        for (double topP : new double[] {1.0, 0.9, 0.5, 0.05}) {
                            if (k == 0 && topP == 1.0) continue;
                            GenerationOptions o = new GenerationOptions(8, 0.8, topP, k, 1234 + trial, null);
                            Sampler s = new Sampler(o, 3);
                            SplittableRandom ref = new SplittableRandom(o.seed() * 0x9E3779B97F4A7C15L + 3);
                            for (int draw = 0; draw < 5; draw++) {
                                assertEquals(reference(logits, vocab, o, ref), s.next(logits, 0, vocab),
                                        "vocab " + vocab + " scale " + scale + " k " + k + " p " + topP + " draw " + draw);
                                checked++;
                            }
                        }
                    }
                }
            }
        }
        assertEquals(3 * 4 * 6 * 15 * 5, checked);
    }

    /** The sampler before candidate sorting: temperature, a stable full sort of the vocabulary, top-k, top-p. */
    private static int reference(float[] logits, int vocab, GenerationOptions o, SplittableRandom random) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        double[] p = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp((logits[i] - max) / o.temperature());
            sum += p[i];
        }
        if (!(o.topK() > 0 && o.topK() < vocab || o.topP() < 1)) {
            // nothing to truncate: draw in token order
            double u = random.nextDouble() * sum;
            for (int i = 0; i < vocab; i++) {
                u -= p[i];
                if (u <= 0) return i;
            }
            return vocab - 1;
        }
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), vocab) : vocab;
        if (o.topP() < 1) {
            double cum = 0;
            int n = 0;
            while (n < keep) {
                cum += p[order[n]] / sum;
                n++;
                if (cum >= o.topP()) break;
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
}
