package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Batched autoregressive generation with a preallocated KV cache. Prompts are left-padded to the
 * longest; one prefill pass feeds them, then one decode pass per new token. Registered interventions
 * and captures are active throughout, with the prefill/decode position semantics of
 * {@link PositionMask}.
 */
public final class Generator {
    private final HookedTransformer model;

    public Generator(HookedTransformer model) {
        this.model = model;
    }

    /** One row's result: the new tokens (stop token excluded) and why it ended. */
    public record Result(int[] tokens, boolean stopped) { }

    /** New token ids for each prompt (stop token excluded). */
    public List<int[]> generate(List<int[]> prompts, GenerationOptions options) {
        return run(prompts, options).stream().map(Result::tokens).toList();
    }

    /** Generates for every prompt; each row stops at a stop id or after maxNewTokens. */
    public List<Result> run(List<int[]> prompts, GenerationOptions options) {
        ModelConfig c = model.config();
        int b = prompts.size();
        int t = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        if (b == 0) return List.of();
        for (int[] p : prompts) {
            if (p.length == 0) throw new PersonaException("empty prompt: generation needs at least one token (e.g. BOS)", "pass a non-empty prompt");
        }
        if (t >= c.maxPositions()) {
            throw new PersonaException("a prompt of " + t + " tokens leaves no room in the model's context of " + c.maxPositions()
                    + " tokens (max_position_embeddings)", "shorten the prompt or conversation");
        }
        // generation stops where the context ends, as a full context does in llama.cpp
        options = new GenerationOptions(Math.min(options.maxNewTokens(), c.maxPositions() - t), options.temperature(), options.topP(),
                options.topK(), options.seed(), options.stopIds());
        Set<Integer> stops = options.stopIds() != null ? options.stopIds() : new HashSet<>(c.eosIds());
        int capacity = t + Math.max(options.maxNewTokens(), 1);
        boolean[][] keyValid = new boolean[b][capacity];
        int[] nextPos = new int[b];
        long[] ids = new long[b * t];
        int[][] pos = new int[b][t];
        boolean[][] valid = new boolean[b][t];
        for (int i = 0; i < b; i++) {
            int[] p = prompts.get(i);
            int pad = t - p.length;
            for (int j = 0; j < t; j++) {
                valid[i][j] = keyValid[i][j] = j >= pad;
                pos[i][j] = Math.max(0, j - pad);
                ids[i * t + j] = j >= pad ? p[j - pad] : 0;
            }
            nextPos[i] = p.length;
        }
        Sampler[] samplers = new Sampler[b];
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            samplers[i] = new Sampler(options, i);
            out.add(new ArrayList<>());
        }
        boolean[] done = new boolean[b];
        boolean[] stopped = new boolean[b];
        int vocab = c.vocabSize();
        try (KVCache cache = new KVCache(model.manager(), c, b, capacity)) {
            float[] logits;
            try (NDManager step = model.manager().newSubManager()) {
                NDArray l = model.run(step, step.create(ids, new Shape(b, t)), new HookedTransformer.PassInfo(true, pos, valid), keyValid, cache, 0, true);
                logits = l.toFloatArray();
            }
            int slot = t;
            for (int n = 0; n < options.maxNewTokens(); n++) {
                long[] next = new long[b];
                int live = 0;
                for (int i = 0; i < b; i++) {
                    if (done[i]) continue;
                    int tok = samplers[i].next(logits, i * vocab, vocab);
                    if (stops.contains(tok)) {
                        done[i] = true;
                        stopped[i] = true;
                        continue;
                    }
                    out.get(i).add(tok);
                    next[i] = tok;
                    live++;
                }
                if (live == 0 || n == options.maxNewTokens() - 1) break;
                int[][] stepPos = new int[b][1];
                boolean[][] stepValid = new boolean[b][1];
                for (int i = 0; i < b; i++) {
                    stepPos[i][0] = nextPos[i]++;
                    // finished rows keep running (fixed batch shape) but their tokens are never read
                    stepValid[i][0] = true;
                    keyValid[i][slot] = true;
                }
                try (NDManager step = model.manager().newSubManager()) {
                    NDArray l = model.run(step, step.create(next, new Shape(b, 1)), new HookedTransformer.PassInfo(false, stepPos, stepValid), keyValid, cache, slot, true);
                    logits = l.toFloatArray();
                }
                slot++;
            }
        }
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            results.add(new Result(out.get(i).stream().mapToInt(Integer::intValue).toArray(), stopped[i]));
        }
        return results;
    }
}
