package dev.persona.api;

import dev.persona.model.PersonaException;

/**
 * How a {@link ChatEngine} batches.
 *
 * @param maxBatch      rows decoded together (requests x choices), 1..256
 * @param contextTokens cache columns per row: the longest prompt + reply (capped by the model's context)
 * @param queueLimit    rows waiting for a place beyond the batch before requests are refused
 */
public record EngineOptions(int maxBatch, int contextTokens, int queueLimit) {
    public EngineOptions {
        if (maxBatch < 1 || maxBatch > 256) throw new PersonaException("--max-batch " + maxBatch + " is outside 1..256", "pass e.g. --max-batch 16");
        if (contextTokens < 2) throw new PersonaException("context of " + contextTokens + " tokens is too small", "pass at least 2");
        if (queueLimit < 0) throw new PersonaException("queue limit " + queueLimit + " is negative", "pass 0 or more");
    }

    /** 16 rows, 2048 tokens of context, 64 waiting. */
    public static EngineOptions defaults() {
        return new EngineOptions(16, 2048, 64);
    }

    public EngineOptions maxBatch(int v) {
        return new EngineOptions(v, contextTokens, queueLimit);
    }

    public EngineOptions contextTokens(int v) {
        return new EngineOptions(maxBatch, v, queueLimit);
    }

    public EngineOptions queueLimit(int v) {
        return new EngineOptions(maxBatch, contextTokens, v);
    }
}
