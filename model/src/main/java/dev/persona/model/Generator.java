package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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

    /** Rows the last prefill pass ran (fewer than the batch when rows shared prompts). */
    int lastPrefillRows;
    /** How many prompt passes the last run's prefill took. */
    int lastPrefillPasses;
    /** {@link System#nanoTime} when the last run's prefill had returned its logits: its decode steps ran after. */
    long lastPrefillEndNanos;

    /** One row's result: the new tokens (stop token excluded) and why it ended. */
    public record Result(int[] tokens, boolean stopped) { }

    /** New token ids for each prompt (stop token excluded). */
    public List<int[]> generate(List<int[]> prompts, GenerationOptions options) {
        return run(prompts, options).stream().map(Result::tokens).toList();
    }

    /**
     * Runs the prompts (left-padded to {@code t}: {@code ids}, {@code pos}, {@code valid}) through
     * prompt passes that fill {@code cache} slots 0..t-1, and returns the last position's logits,
     * [rows x vocab]. Rows asking the same prompt (extraction samples each prompt many times) share
     * one row of a pass, and the distinct prompts go in passes of at most {@link
     * HookedTransformer#promptsPerPass} (a pass's temporaries grow with its rows: a 64 x 32 prompt
     * pass in one piece took the process from 1.1x to 1.5-1.65x its weights); each pass's keys,
     * values and logits are copied to every row that asked for its prompts. A row's numbers do not
     * depend on the other rows of a pass, so the copies are what each row would have computed; a
     * registered capture sees every row, so with one everything runs in one pass as asked.
     */
    private float[] prefill(List<int[]> prompts, int t, long[] ids, int[][] pos, boolean[][] valid, boolean[][] keyValid, KVCache cache) {
        int b = prompts.size();
        java.util.Map<String, Integer> seen = new java.util.HashMap<>();
        int[] source = new int[b];
        List<Integer> distinct = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            Integer first = seen.putIfAbsent(java.util.Arrays.toString(prompts.get(i)), distinct.size());
            if (first == null) distinct.add(i);
            source[i] = first == null ? distinct.size() - 1 : first;
        }
        int u = distinct.size();
        int perPass = model.promptsPerPass(t);
        boolean pieces = !model.capturing() && (u < b || u > perPass);
        lastPrefillRows = pieces ? u : b;
        lastPrefillPasses = pieces ? (u - 1) / perPass + 1 : 1;
        if (!pieces) {
            try (NDManager step = model.manager().newSubManager()) {
                return model.lastLogits(step, step.create(ids, new Shape(b, t)), new HookedTransformer.PassInfo(true, pos, valid), keyValid, cache, 0, null);
            }
        }
        int vocab = model.config().vocabSize();
        float[] logits = new float[b * vocab];
        for (int from = 0; from < u; from += perPass) {
            int n = Math.min(perPass, u - from);
            long[] pIds = new long[n * t];
            int[][] pPos = new int[n][];
            boolean[][] pValid = new boolean[n][], pKeys = new boolean[n][];
            for (int k = 0; k < n; k++) {
                int i = distinct.get(from + k);
                System.arraycopy(ids, i * t, pIds, k * t, t);
                pPos[k] = pos[i];
                pValid[k] = valid[i];
                pKeys[k] = keyValid[i];
            }
            try (KVCache part = new KVCache(model.manager(), model.config(), n, t); NDManager step = model.manager().newSubManager()) {
                float[] pLogits = model.lastLogits(step, step.create(pIds, new Shape(n, t)), new HookedTransformer.PassInfo(true, pPos, pValid), pKeys, part, 0,
                        null);
                for (int i = 0; i < b; i++) {
                    int k = source[i] - from;
                    if (k < 0 || k >= n) continue;
                    System.arraycopy(pLogits, k * vocab, logits, i * vocab, vocab);
                    NDIndex to = new NDIndex("{}, :, 0:{}", i, t), row = new NDIndex("{}", k);
                    for (int l = 0; l < cache.keys.length; l++) {
                        cache.keys[l].set(to, part.keys[l].get(row));
                        cache.values[l].set(to, part.values[l].get(row));
                    }
                }
            }
        }
        return logits;
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
            float[] logits = prefill(prompts, t, ids, pos, valid, keyValid, cache);
            lastPrefillEndNanos = System.nanoTime();
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
                    // the step's logits reuse the array of the last ones ([rows x vocab]; 39 MB at 64 rows of a
                    // 151936-token vocabulary), which the garbage collector then never has to find room for
                    logits = model.lastLogits(step, step.create(next, new Shape(b, 1)), new HookedTransformer.PassInfo(false, stepPos, stepValid), keyValid,
                            cache, slot, logits);
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
