package dev.persona.model;

import java.util.Set;

/**
 * How to pick new tokens. Temperature 0 means greedy (argmax). Sampling applies temperature, then
 * top-k, then top-p, as transformers does. Row i of a batch samples from its own generator seeded
 * with {@code seed} and i, so a prompt's sample does not depend on its batch-mates.
 *
 * @param maxNewTokens upper bound on generated tokens per row
 * @param temperature  0 for greedy, else the softmax temperature
 * @param topP         nucleus mass in (0, 1]; 1 disables
 * @param topK         keep the k most likely tokens; 0 disables
 * @param seed         sampling seed
 * @param stopIds      token ids that end a row (not included in the output); null means the model's eos ids
 */
public record GenerationOptions(int maxNewTokens, double temperature, double topP, int topK, long seed, Set<Integer> stopIds) {
    public GenerationOptions {
        if (maxNewTokens < 0) throw new PersonaException("--max-tokens " + maxNewTokens + " is negative", "pass 0 or more new tokens");
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new PersonaException("--temperature " + temperature + " is not a finite number >= 0", "pass 0 (greedy) or a positive temperature");
        if (!(topP > 0 && topP <= 1)) throw new PersonaException("--top-p " + topP + " is outside (0, 1]", "pass a nucleus mass such as 0.9, or 1 to keep every token");
        if (topK < 0) throw new PersonaException("--top-k " + topK + " is negative", "pass 0 (off) or a positive k");
    }

    /** Greedy decoding of up to {@code n} tokens, stopping on the model's eos ids. */
    public static GenerationOptions greedy(int n) {
        return new GenerationOptions(n, 0, 1, 0, 0, null);
    }

    /** Sampling at {@code temperature} with {@code seed}, no top-k/top-p truncation. */
    public static GenerationOptions sample(int n, double temperature, long seed) {
        return new GenerationOptions(n, temperature, 1, 0, seed, null);
    }

    public GenerationOptions withStopIds(Set<Integer> ids) {
        return new GenerationOptions(maxNewTokens, temperature, topP, topK, seed, ids);
    }

    public GenerationOptions withTopP(double p) {
        return new GenerationOptions(maxNewTokens, temperature, p, topK, seed, stopIds);
    }

    public GenerationOptions withTopK(int k) {
        return new GenerationOptions(maxNewTokens, temperature, topP, k, seed, stopIds);
    }
}
