package dev.persona.api;

import dev.persona.model.BatchSize;
import dev.persona.model.PersonaException;
import dev.persona.vectors.VectorMethods;
import java.nio.file.Path;

/**
 * How {@link Extract} runs: the vector {@code method} (mean_diff, pca_diff, pca_center, probe);
 * {@code samples} per (question, instruction pair) and polarity; {@code maxTokens} new tokens per
 * response, sampled at temperature 1 with {@code seed}; the {@code judge} specification (see
 * {@link Judges}); the pair filter (pos trait score >= {@code posThreshold}, neg < {@code negThreshold},
 * both coherences >= {@code coherenceThreshold}, all 0..100); {@code batch} prompts per generation
 * batch (null: as many as fit in half the available memory, at most 64; see {@link dev.persona.model.BatchSize}); {@code out}, the output directory (null: runs/extract-TRAIT). Change one field with its
 * same-named method: {@code ExtractOptions.defaults().samples(2).seed(7)}.
 */
public record ExtractOptions(String method, int samples, int maxTokens, long seed, String judge, double posThreshold,
                             double negThreshold, double coherenceThreshold, Integer batch, Path out) {
    public ExtractOptions {
        if (!VectorMethods.METHODS.contains(method)) {
            throw new PersonaException("--method " + method + " is not one of " + VectorMethods.METHODS, "use --method mean_diff, pca_diff, pca_center or probe");
        }
        if (samples < 1) throw new PersonaException("--samples " + samples + " is below 1", "use --samples 1 or more");
        if (maxTokens < 1) throw new PersonaException("--max-tokens " + maxTokens + " is below 1", "use --max-tokens 1 or more");
        if (batch != null) BatchSize.given(batch); // refuses 0 and below, naming --batch
    }

    /** The command's defaults: mean_diff, 10 samples, 64 tokens, seed 0, rule judge, thresholds 50/50/50, batch from memory (at most 64). */
    public static ExtractOptions defaults() {
        return new ExtractOptions("mean_diff", 10, 64, 0, "rule", 50, 50, 50, null, null);
    }

    public ExtractOptions method(String v) {
        return new ExtractOptions(v, samples, maxTokens, seed, judge, posThreshold, negThreshold, coherenceThreshold, batch, out);
    }

    public ExtractOptions samples(int v) {
        return new ExtractOptions(method, v, maxTokens, seed, judge, posThreshold, negThreshold, coherenceThreshold, batch, out);
    }

    public ExtractOptions maxTokens(int v) {
        return new ExtractOptions(method, samples, v, seed, judge, posThreshold, negThreshold, coherenceThreshold, batch, out);
    }

    public ExtractOptions seed(long v) {
        return new ExtractOptions(method, samples, maxTokens, v, judge, posThreshold, negThreshold, coherenceThreshold, batch, out);
    }

    public ExtractOptions judge(String v) {
        return new ExtractOptions(method, samples, maxTokens, seed, v, posThreshold, negThreshold, coherenceThreshold, batch, out);
    }

    public ExtractOptions thresholds(double pos, double neg, double coherence) {
        return new ExtractOptions(method, samples, maxTokens, seed, judge, pos, neg, coherence, batch, out);
    }

    /** Prompts per generation batch; null chooses from memory (at most {@value Extract#MAX_BATCH}). */
    public ExtractOptions batch(Integer v) {
        return new ExtractOptions(method, samples, maxTokens, seed, judge, posThreshold, negThreshold, coherenceThreshold, v, out);
    }

    public ExtractOptions out(Path v) {
        return new ExtractOptions(method, samples, maxTokens, seed, judge, posThreshold, negThreshold, coherenceThreshold, batch, v);
    }
}
