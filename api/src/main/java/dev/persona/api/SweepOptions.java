package dev.persona.api;

import dev.persona.model.BatchSize;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.util.List;

/**
 * What a sweep tries: directions {@code kind} at each of {@code layers} (null: every block output
 * row 1..L-1) and {@code coefs}; the questions under {@code system} (null: none, as the reference);
 * {@code samples} answers per question of up to {@code maxTokens} tokens at temperature 1 with
 * {@code seed}; steering at {@code positions}; judged by {@code judge}; a recommended cell needs mean
 * coherence >= {@code coherenceFloor} (0..100). {@code suppress} sweeps against the trait (its pos
 * system prompts, -|coef|, lowest trait score). {@code batch} answers are generated together (null: as many
 * as fit in half the available memory, at most 64; a cell's answers depend on it when it splits the
 * cell). Journaled in {@code out}.
 */
public record SweepOptions(List<Integer> layers, List<Double> coefs, String kind, String system, String judge, int samples,
                           int maxTokens, String positions, boolean suppress, double coherenceFloor, long seed, Integer batch, Path out) {
    public SweepOptions {
        if (batch != null) BatchSize.given(batch); // refuses 0 and below, naming --batch
        layers = layers == null ? null : List.copyOf(layers);
        coefs = List.copyOf(coefs);
        if (coefs.isEmpty()) throw new PersonaException("no coefficients to sweep", "pass --coefs, e.g. 0,1,2,4");
        for (double c : coefs) {
            if (!Double.isFinite(c)) throw new PersonaException("--coefs holds " + c + ", not a finite number", "pass finite coefficients, e.g. --coefs 0,1,2,4");
        }
        if (samples < 1) throw new PersonaException("--samples " + samples + " is below 1", "use --samples 1 or more");
        if (maxTokens < 1) throw new PersonaException("--max-tokens " + maxTokens + " is below 1", "use --max-tokens 1 or more");
        if (out == null) out = Path.of("runs", "sweep");
    }

    /** The command's defaults: all layers, coefs 0,0.5,1,2,4, response_avg, no system prompt, rule judge, 2 samples, 48 tokens, response positions, floor 75, seed 0, runs/sweep. */
    public static SweepOptions defaults() {
        return new SweepOptions(null, List.of(0.0, 0.5, 1.0, 2.0, 4.0), "response_avg", null, "rule", 2, 48, "response", false, 75, 0, null, null);
    }

    public SweepOptions layers(List<Integer> v) {
        return new SweepOptions(v, coefs, kind, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions coefs(List<Double> v) {
        return new SweepOptions(layers, v, kind, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions kind(String v) {
        return new SweepOptions(layers, coefs, v, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions system(String v) {
        return new SweepOptions(layers, coefs, kind, v, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions judge(String v) {
        return new SweepOptions(layers, coefs, kind, system, v, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions samples(int v) {
        return new SweepOptions(layers, coefs, kind, system, judge, v, maxTokens, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions maxTokens(int v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, v, positions, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions positions(String v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, v, suppress, coherenceFloor, seed, batch, out);
    }

    public SweepOptions suppress(boolean v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, v, coherenceFloor, seed, batch, out);
    }

    public SweepOptions coherenceFloor(double v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, suppress, v, seed, batch, out);
    }

    public SweepOptions seed(long v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, v, batch, out);
    }

    /** Answers generated together per cell; null chooses from memory (at most 64). */
    public SweepOptions batch(Integer v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, v, out);
    }

    public SweepOptions out(Path v) {
        return new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, suppress, coherenceFloor, seed, batch, v);
    }
}
