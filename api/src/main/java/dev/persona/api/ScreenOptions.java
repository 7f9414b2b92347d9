package dev.persona.api;

import dev.persona.model.BatchSize;
import dev.persona.model.PersonaException;
import java.nio.file.Path;

/**
 * How training data is screened: vector row {@code layer} (null: recommended or best); with
 * {@code baseReplies} the base model's greedy reply of up to {@code maxTokens} tokens is generated per
 * sample and the score is the projection difference, without them the cheap approximation (response
 * minus last-prompt projection); flag the {@code top} highest (null: those above {@code percentile},
 * 0..100); {@code batch} base replies per generation and samples per forward pass (null: from
 * memory, at most 32 and 16; greedy replies and projections depend on it by float rounding only);
 * outputs and journals in {@code out}.
 */
public record ScreenOptions(Integer layer, boolean baseReplies, Integer top, double percentile, int maxTokens, Integer batch, Path out) {
    public ScreenOptions {
        if (batch != null) BatchSize.given(batch); // refuses 0 and below, naming --batch
        if (top != null && top < 1) throw new PersonaException("--top " + top + " is below 1", "flag at least one sample (--top 1 or more), or use --percentile");
        if (!(percentile >= 0 && percentile <= 100)) throw new PersonaException("--percentile " + percentile + " is outside 0..100", "use a percentile between 0 and 100, e.g. --percentile 90");
        if (maxTokens < 1) throw new PersonaException("--max-tokens " + maxTokens + " is below 1", "use --max-tokens 1 or more");
        if (out == null) out = Path.of("runs", "screen");
    }

    /** The command's defaults: recommended layer, greedy base replies of 64 tokens, flag above the 90th percentile, runs/screen. */
    public static ScreenOptions defaults() {
        return new ScreenOptions(null, true, null, 90, 64, null, null);
    }

    public ScreenOptions layer(Integer v) {
        return new ScreenOptions(v, baseReplies, top, percentile, maxTokens, batch, out);
    }

    public ScreenOptions baseReplies(boolean v) {
        return new ScreenOptions(layer, v, top, percentile, maxTokens, batch, out);
    }

    public ScreenOptions top(Integer v) {
        return new ScreenOptions(layer, baseReplies, v, percentile, maxTokens, batch, out);
    }

    public ScreenOptions percentile(double v) {
        return new ScreenOptions(layer, baseReplies, top, v, maxTokens, batch, out);
    }

    public ScreenOptions maxTokens(int v) {
        return new ScreenOptions(layer, baseReplies, top, percentile, v, batch, out);
    }

    /** Base replies generated together and samples per forward pass; null chooses from memory (at most 32 and 16). */
    public ScreenOptions batch(Integer v) {
        return new ScreenOptions(layer, baseReplies, top, percentile, maxTokens, v, out);
    }

    public ScreenOptions out(Path v) {
        return new ScreenOptions(layer, baseReplies, top, percentile, maxTokens, batch, v);
    }
}
