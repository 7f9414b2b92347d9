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
    /** {@link System#nanoTime} when the last run's prefill had returned its logits: its decode steps ran after. */
    long lastPrefillEndNanos;

    /** One row's result: the new tokens (stop token excluded) and why it ended. */
    public record Result(int[] tokens, boolean stopped) { }

    /** New token ids for each prompt (stop token excluded). */
    public List<int[]> generate(List<int[]> prompts, GenerationOptions options) {
        return run(prompts, options).stream().map(Result::tokens).toList();
    }

    /**
     * Runs the prompts (left-padded to {@code t}: {@code ids}, {@code pos}, {@code valid}) through one
     * pass that fills {@code cache} slots 0..t-1, and returns the last position's logits, [rows x vocab].
     * Rows asking the same prompt (extraction samples each prompt many times) share one row of the
     * pass: the distinct prompts run once and their keys, values and logits are copied to every row
     * that asked for them. A row's numbers do not depend on the other rows of a pass, so the copies
     * are what each row would have computed; a registered capture sees every row, so with one the pass
     * runs every row as asked.
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
        boolean share = u < b && !model.capturing();
        lastPrefillRows = share ? u : b;
        if (!share) {
            try (NDManager step = model.manager().newSubManager()) {
                return model.run(step, step.create(ids, new Shape(b, t)), new HookedTransformer.PassInfo(true, pos, valid), keyValid, cache, 0, true)
                        .toFloatArray();
            }
        }
        long[] uIds = new long[u * t];
        int[][] uPos = new int[u][];
        boolean[][] uValid = new boolean[u][], uKeys = new boolean[u][];
        for (int k = 0; k < u; k++) {
            int i = distinct.get(k);
            System.arraycopy(ids, i * t, uIds, k * t, t);
            uPos[k] = pos[i];
            uValid[k] = valid[i];
            uKeys[k] = keyValid[i];
        }
        int vocab = model.config().vocabSize();
        float[] logits = new float[b * vocab];
        try (KVCache shared = new KVCache(model.manager(), model.config(), u, t); NDManager step = model.manager().newSubManager()) {
            float[] uLogits = model.run(step, step.create(uIds, new Shape(u, t)), new HookedTransformer.PassInfo(true, uPos, uValid), uKeys, shared, 0, true)
                    .toFloatArray();
            for (int i = 0; i < b; i++) {
                System.arraycopy(uLogits, source[i] * vocab, logits, i * vocab, vocab);
                NDIndex to = new NDIndex("{}, :, 0:{}", i, t), from = new NDIndex("{}", source[i]);
                for (int l = 0; l < cache.keys.length; l++) {
                    cache.keys[l].set(to, shared.keys[l].get(from));
                    cache.values[l].set(to, shared.values[l].get(from));
                }
            }
        }
        return logits;
    }

    /**
     * The float32 values of {@code a}, copied into {@code reuse} when it has their number: a step's
     * logits ([rows x vocab]; 39 MB at 64 rows of a 151936-token vocabulary) then need no new Java
     * array, which the garbage collector would have to find room for every step.
     */
    private static float[] floats(NDArray a, float[] reuse) {
        if (a.getDataType() != ai.djl.ndarray.types.DataType.FLOAT32 || a.size() != reuse.length) return a.toFloatArray();
        a.toByteBuffer(true).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().get(reuse);
        return reuse;
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
                    NDArray l = model.run(step, step.create(next, new Shape(b, 1)), new HookedTransformer.PassInfo(false, stepPos, stepValid), keyValid, cache, slot, true);
                    logits = floats(l, logits);
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
