package dev.persona.api;

import dev.persona.model.GenerationOptions;
import dev.persona.model.PersonaException;

/**
 * How steered answers are generated: {@code samples} per prompt (1 = greedy, more = temperature 1
 * with {@code seed}), up to {@code maxTokens} new tokens; {@code force} steers even when the vector's
 * model fingerprint differs (d_model and layer count must still match).
 */
public record SteerOptions(int samples, int maxTokens, long seed, boolean force) {
    public SteerOptions {
        if (samples < 1) throw new PersonaException("--samples " + samples + " is below 1", "use --samples 1 or more");
        if (maxTokens < 1) throw new PersonaException("--max-tokens " + maxTokens + " is below 1", "use --max-tokens 1 or more");
    }

    /** Greedy, 64 tokens, seed 0, fingerprint checked. */
    public static SteerOptions defaults() {
        return new SteerOptions(1, 64, 0, false);
    }

    public SteerOptions samples(int v) {
        return new SteerOptions(v, maxTokens, seed, force);
    }

    public SteerOptions maxTokens(int v) {
        return new SteerOptions(samples, v, seed, force);
    }

    public SteerOptions seed(long v) {
        return new SteerOptions(samples, maxTokens, v, force);
    }

    public SteerOptions force(boolean v) {
        return new SteerOptions(samples, maxTokens, seed, v);
    }

    GenerationOptions generation() {
        return samples == 1 ? GenerationOptions.greedy(maxTokens) : GenerationOptions.sample(maxTokens, 1.0, seed);
    }
}
