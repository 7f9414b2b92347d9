package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Continuous batching for a server: requests join a running batch between decode steps and leave
 * when they finish, so concurrent requests share every decode step. Each row carries its own
 * steering (interventions masked to that row, so a batch mixes unsteered rows and rows steered by
 * different vectors) and its own probes (projections onto unit directions, for live monitoring).
 *
 * <p>One engine thread owns the model while the batcher is open. Prompts that join at the same step
 * are prefilled together (left-padded, each with its own interventions active with the prefill
 * semantics of {@link PositionMask}) and their keys and values are copied into one shared cache of [max_batch, kv_heads, capacity, head_dim] per
 * layer. The active rows are the cache's first rows; row i's tokens fill columns
 * {@code start_i .. end-1} and every decode step writes column {@code end} for all of them. A longer
 * newcomer shifts the others right; a full cache shifts everything left; a leaving row's place is
 * taken by the last row. Listeners are called on the engine thread and must return quickly.
 */
public final class ContinuousBatcher implements AutoCloseable {
    /** A monitored direction: projections of the activation at {@code hook} onto the unit vector {@code unit}. */
    public record Probe(String name, String hook, float[] unit) { }

    /**
     * One request (one choice of a completion).
     *
     * @param prompt      token ids, at least one, shorter than the capacity
     * @param options     max new tokens, sampling, seed and stop ids (null stop ids: the model's eos)
     * @param sampleRow   the row index the sampler is seeded with, as a plain batch's row i would be
     * @param steers      interventions active for this row only
     * @param probes      directions to project onto
     * @param topLogprobs -1: no log-probabilities; 0..20: the chosen token's and this many alternatives
     * @param listener    receives tokens and the end, on the engine thread
     */
    public record Request(int[] prompt, GenerationOptions options, int sampleRow, List<HookIntervention> steers, List<Probe> probes, int topLogprobs,
                          Listener listener) { }

    /** A generated token with its natural-log probability under the model (before temperature) and the top alternatives. */
    public record Token(int id, float logprob, int[] topIds, float[] topLogprobs) { }

    /**
     * How a row ended.
     *
     * @param reason          "stop" (a stop id), "length" (max tokens or the context) or "cancelled"
     * @param tokens          generated ids (stop id excluded)
     * @param promptLast      per probe name: projection of the last prompt token
     * @param responseAverage per probe name: mean projection over the generated tokens (NaN without any)
     */
    public record Finish(String reason, int[] tokens, Map<String, Double> promptLast, Map<String, Double> responseAverage) { }

    /** Receives one row's output. */
    public interface Listener {
        void token(Token t);

        void finished(Finish f);

        /** The row failed; no {@link #finished} follows. */
        void failed(RuntimeException e);
    }

    /** A submitted request; cancel it to free its row at the next step. */
    public static final class Handle {
        private volatile boolean cancelled;

        public void cancel() {
            cancelled = true;
        }

        public boolean cancelled() {
            return cancelled;
        }
    }

    /** Thrown by {@link #submit} when a prompt leaves no room for a reply in the cache's context. */
    public static final class ContextExceededException extends PersonaException {
        public ContextExceededException(int promptTokens, int capacity) {
            super("a prompt of " + promptTokens + " tokens leaves no room in the server's context of " + capacity + " tokens", "shorten the prompt or conversation");
        }
    }

    /** Thrown by {@link #submit} when the queue is full. */
    public static final class QueueFullException extends PersonaException {
        public QueueFullException(int limit) {
            super("the request queue is full (" + limit + " waiting)", "retry after a moment");
        }
    }

    private final HookedTransformer model;
    private final int maxBatch;
    private final int capacity;
    private final int queueLimit;
    private final KVCache cache;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private final List<Row> active = new ArrayList<>();
    private final Thread worker;
    private final AtomicLong steps = new AtomicLong();
    private final AtomicLong tokens = new AtomicLong();
    private final AtomicLong stepNanos = new AtomicLong();
    private final AtomicLong prefillNanos = new AtomicLong();
    private final AtomicLong rowSteps = new AtomicLong();
    private volatile boolean closed;
    /** Next cache column to write; every active row's tokens end just before it. */
    private int end;
    /** The last decode step's logits [rows x vocab], the worker thread's only: the next step writes into them when it has as many rows. */
    private float[] stepLogits;
    private volatile int activeCount;

    private record Pending(Request request, Handle handle) { }

    /**
     * @param maxBatch   rows decoded together at most
     * @param capacity   cache columns per row (tokens of prompt + reply); capped by the model's context
     * @param queueLimit requests waiting beyond the running batch and its free rows before {@link #submit} refuses
     */
    public ContinuousBatcher(HookedTransformer model, int maxBatch, int capacity, int queueLimit) {
        if (maxBatch < 1) throw new PersonaException("--max-batch " + maxBatch + " is below 1", "pass a batch of 1 or more rows");
        this.model = model;
        this.maxBatch = maxBatch;
        this.capacity = Math.min(capacity, model.config().maxPositions());
        this.queueLimit = queueLimit;
        this.cache = new KVCache(model.manager(), model.config(), maxBatch, this.capacity);
        this.worker = new Thread(this::loop, "persona-batcher");
        worker.setDaemon(true);
        worker.start();
    }

    /** Cache columns per row: the longest prompt + reply a request can have. */
    public int capacity() {
        return capacity;
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** Bytes of the preallocated KV cache (allocated once; rows reuse it). */
    public long cacheBytes() {
        ModelConfig c = model.config();
        return 2L * c.numLayers() * maxBatch * c.numKvHeads() * capacity * c.headDim() * 4;
    }

    /** Requests waiting for a row. */
    public synchronized int queueDepth() {
        return queue.size();
    }

    /** Rows in the running batch. */
    public int activeRows() {
        return activeCount;
    }

    /** Decode steps run so far. */
    public long steps() {
        return steps.get();
    }

    /** Wall time spent in decode steps so far, in nanoseconds. */
    public long stepNanos() {
        return stepNanos.get();
    }

    /** Wall time spent prefilling newcomers so far, in nanoseconds. */
    public long prefillNanos() {
        return prefillNanos.get();
    }

    /** Sum over decode steps of the rows in each: divided by {@link #steps()}, the mean batch. */
    public long rowSteps() {
        return rowSteps.get();
    }

    /** Tokens generated so far. */
    public long tokensGenerated() {
        return tokens.get();
    }

    /** Queues a request; it joins the batch at the next step with a free row. */
    public Handle submit(Request r) {
        if (r.prompt().length == 0) throw new PersonaException("empty prompt: generation needs at least one token", "pass a non-empty prompt");
        if (r.prompt().length >= capacity) throw new ContextExceededException(r.prompt().length, capacity);
        Handle h = new Handle();
        synchronized (this) {
            if (closed) throw new PersonaException("the batcher is closed", "start a new one");
            // free rows take newcomers at the next step, so they do not count against the waiting limit
            if (queue.size() >= queueLimit + Math.max(0, maxBatch - activeCount)) throw new QueueFullException(queueLimit);
            queue.add(new Pending(r, h));
            notifyAll();
        }
        return h;
    }

    /** One running request. */
    private final class Row {
        final Request request;
        final Handle handle;
        final Sampler sampler;
        final Set<Integer> stops;
        final int maxNew;
        final List<Integer> out = new ArrayList<>();
        final Map<String, Double> promptLast = new LinkedHashMap<>();
        final double[] responseSum;
        int responseCount;
        int start;
        int nextPos;
        int last;
        /** Its last token still has to be fed so the probes see it; then it ends with "length". */
        boolean draining;
        String finished;

        Row(Request request, Handle handle) {
            this.request = request;
            this.handle = handle;
            this.sampler = new Sampler(request.options(), request.sampleRow());
            this.stops = request.options().stopIds() != null ? request.options().stopIds() : new HashSet<>(model.config().eosIds());
            this.maxNew = request.options().maxNewTokens();
            this.responseSum = new double[request.probes().size()];
        }

        List<HookedTransformer.RowHook> hooks(int row, boolean prefill) {
            List<HookedTransformer.RowHook> hooks = new ArrayList<>();
            for (HookIntervention s : request.steers()) hooks.add(new HookedTransformer.RowHook(row, s.hook(), s.intervention(), s.mask(), null, null));
            List<Probe> probes = request.probes();
            for (int i = 0; i < probes.size(); i++) {
                int k = i;
                Probe p = probes.get(i);
                hooks.add(new HookedTransformer.RowHook(row, p.hook(), null, null, p.unit(), v -> {
                    if (prefill) {
                        promptLast.put(p.name(), (double) v[v.length - 1]);
                    } else {
                        responseSum[k] += v[0];
                        if (k == 0) responseCount++;
                    }
                }));
            }
            return hooks;
        }

        /** Takes the next token from {@code logits} at {@code offset}; sets {@link #finished} when the row ends. */
        void accept(float[] logits, int offset, int vocab) {
            if (draining) {
                finished = "length";
                return;
            }
            int tok = sampler.next(logits, offset, vocab);
            if (stops.contains(tok)) {
                finished = "stop";
                return;
            }
            out.add(tok);
            tokens.incrementAndGet();
            request.listener().token(tokenInfo(tok, logits, offset, vocab, request.topLogprobs()));
            last = tok;
            if (out.size() >= maxNew) {
                if (request.probes().isEmpty()) finished = "length";
                else draining = true;
            }
        }

        Finish finish() {
            Map<String, Double> avg = new LinkedHashMap<>();
            for (int i = 0; i < request.probes().size(); i++) {
                avg.put(request.probes().get(i).name(), responseCount == 0 ? Double.NaN : responseSum[i] / responseCount);
            }
            return new Finish(finished, out.stream().mapToInt(Integer::intValue).toArray(), promptLast, avg);
        }
    }

    static Token tokenInfo(int tok, float[] logits, int offset, int vocab, int top) {
        if (top < 0) return new Token(tok, Float.NaN, new int[0], new float[0]);
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
        double logZ = max + Math.log(sum);
        // one pass keeping the top k in order (ties: lower id first), instead of k scans of the vocabulary
        int k = Math.min(top, vocab);
        int[] ids = new int[k];
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits[offset + i];
            if (n == k && (k == 0 || v <= logits[offset + ids[k - 1]])) continue;
            int at = n < k ? n++ : k - 1;
            while (at > 0 && logits[offset + ids[at - 1]] < v) {
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = i;
        }
        float[] lp = new float[k];
        for (int j = 0; j < k; j++) lp[j] = (float) (logits[offset + ids[j]] - logZ);
        return new Token(tok, (float) (logits[offset + tok] - logZ), ids, lp);
    }

    private void loop() {
        while (true) {
            List<Pending> joining = new ArrayList<>();
            synchronized (this) {
                while (!closed && queue.isEmpty() && active.isEmpty()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) break;
                while (!queue.isEmpty() && active.size() + joining.size() < maxBatch) joining.add(queue.poll());
            }
            try {
                long t0 = System.nanoTime();
                if (!joining.isEmpty()) admit(joining);
                long t1 = System.nanoTime();
                prefillNanos.addAndGet(t1 - t0);
                if (!active.isEmpty()) step();
                stepNanos.addAndGet(System.nanoTime() - t1);
            } catch (RuntimeException e) {
                // a failed pass fails its rows, not the server: every running row gets the error, the batch restarts empty
                for (Row r : active) r.request.listener().failed(e);
                active.clear();
                activeCount = 0;
            }
        }
        synchronized (this) {
            for (Pending p : queue) p.request().listener().failed(new PersonaException("the server is shutting down", "retry against a running server"));
            queue.clear();
        }
        for (Row r : active) r.request.listener().failed(new PersonaException("the server is shutting down", "retry against a running server"));
        active.clear();
        cache.close();
    }

    /**
     * Prefills the newcomers together (left-padded to the longest, each with its own interventions
     * and the prefill semantics of its masks), samples their first tokens and moves their keys and
     * values into the shared cache, right-aligned at the current end.
     */
    private void admit(List<Pending> joining) {
        List<Row> rows = new ArrayList<>();
        for (Pending p : joining) {
            Row row = new Row(p.request(), p.handle());
            if (p.handle().cancelled() || row.maxNew == 0) {
                row.finished = p.handle().cancelled() ? "cancelled" : "length";
                row.request.listener().finished(row.finish());
            } else {
                rows.add(row);
            }
        }
        if (rows.isEmpty()) return;
        int b = rows.size();
        int t = rows.stream().mapToInt(r -> r.request.prompt().length).max().orElseThrow();
        int vocab = model.config().vocabSize();
        long[] ids = new long[b * t];
        int[][] pos = new int[b][t];
        boolean[][] valid = new boolean[b][t];
        List<HookedTransformer.RowHook> hooks = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            int[] prompt = rows.get(i).request.prompt();
            int pad = t - prompt.length;
            for (int j = 0; j < t; j++) {
                valid[i][j] = j >= pad;
                pos[i][j] = Math.max(0, j - pad);
                ids[i * t + j] = j >= pad ? prompt[j - pad] : 0;
            }
            hooks.addAll(rows.get(i).hooks(i, true));
        }
        float[] logits;
        try (KVCache own = new KVCache(model.manager(), model.config(), b, t); NDManager step = model.manager().newSubManager()) {
            logits = model.lastLogits(step, step.create(ids, new Shape(b, t)), new HookedTransformer.PassInfo(true, pos, valid, hooks), valid, own, 0, null);
            if (active.isEmpty()) {
                end = t;
            } else if (t > end) {
                shift(step, t - end);
            }
            for (int i = 0; i < b; i++) {
                Row row = rows.get(i);
                int n = row.request.prompt().length;
                int r = active.size();
                row.start = end - n;
                for (int layer = 0; layer < model.config().numLayers(); layer++) {
                    NDIndex to = new NDIndex("{}, :, {}:{}", r, row.start, end);
                    NDIndex from = new NDIndex("{}, :, {}:{}", i, t - n, t);
                    cache.keys[layer].set(to, copy(own.keys[layer], from, step));
                    cache.values[layer].set(to, copy(own.values[layer], from, step));
                }
                row.nextPos = n;
                // the row holds its place from here on; if its first token ends it, the next step's retire() frees it
                active.add(row);
                activeCount = active.size();
            }
        }
        for (int i = 0; i < b; i++) rows.get(i).accept(logits, i * vocab, vocab);
    }

    /** One decode step for every active row. */
    private void step() {
        retire();
        if (active.isEmpty()) return;
        if (end == capacity) {
            // a row that fills every column has reached the context; the others move left to make room
            for (Row r : active) if (r.start == 0) r.finished = "length";
            retire();
            if (active.isEmpty()) return;
            int m = active.stream().mapToInt(r -> r.start).min().orElseThrow();
            try (NDManager step = model.manager().newSubManager()) {
                shift(step, -m);
            }
        }
        int k = active.size();
        int vocab = model.config().vocabSize();
        long[] ids = new long[k];
        int[][] pos = new int[k][1];
        boolean[][] valid = new boolean[k][1];
        boolean[][] keyValid = new boolean[k][end + 1];
        List<HookedTransformer.RowHook> hooks = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            Row r = active.get(i);
            ids[i] = r.last;
            pos[i][0] = r.nextPos++;
            valid[i][0] = true;
            Arrays.fill(keyValid[i], r.start, end + 1, true);
            hooks.addAll(r.hooks(i, false));
        }
        try (NDManager step = model.manager().newSubManager()) {
            cache.rows = k;
            // reused while the number of rows stays: the garbage collector need not find room for [k x vocab] floats a step
            stepLogits = model.lastLogits(step, step.create(ids, new Shape(k, 1)), new HookedTransformer.PassInfo(false, pos, valid, hooks), keyValid, cache,
                    end, stepLogits);
        }
        float[] logits = stepLogits;
        end++;
        steps.incrementAndGet();
        rowSteps.addAndGet(k);
        for (int i = 0; i < k; i++) active.get(i).accept(logits, i * vocab, vocab);
        retire();
    }

    /** Removes finished and cancelled rows, telling their listeners; the last row takes each freed place. */
    private void retire() {
        for (int i = active.size() - 1; i >= 0; i--) {
            Row r = active.get(i);
            if (r.finished == null && r.handle.cancelled()) r.finished = "cancelled";
            if (r.finished == null) continue;
            int lastIdx = active.size() - 1;
            if (i != lastIdx) {
                Row moved = active.get(lastIdx);
                try (NDManager step = model.manager().newSubManager()) {
                    for (int layer = 0; layer < model.config().numLayers(); layer++) {
                        NDIndex from = new NDIndex("{}, :, {}:{}", lastIdx, moved.start, end);
                        NDIndex to = new NDIndex("{}, :, {}:{}", i, moved.start, end);
                        cache.keys[layer].set(to, copy(cache.keys[layer], from, step));
                        cache.values[layer].set(to, copy(cache.values[layer], from, step));
                    }
                }
                active.set(i, moved);
            }
            active.remove(lastIdx);
            activeCount = active.size();
            r.request.listener().finished(r.finish());
        }
    }

    /** Moves every active row's columns by {@code d} (right when positive), in place. */
    private void shift(NDManager step, int d) {
        int k = active.size();
        int from0 = d > 0 ? 0 : -d;
        for (int layer = 0; layer < model.config().numLayers(); layer++) {
            NDIndex from = new NDIndex(":{}, :, {}:{}", k, from0, end);
            NDIndex to = new NDIndex(":{}, :, {}:{}", k, from0 + d, end + d);
            cache.keys[layer].set(to, copy(cache.keys[layer], from, step));
            cache.values[layer].set(to, copy(cache.values[layer], from, step));
        }
        for (Row r : active) r.start += d;
        end += d;
    }

    /** A copy of {@code src[index]} owned by {@code step} (the view too, so nothing stays behind in the cache's manager). */
    private static NDArray copy(NDArray src, NDIndex index, NDManager step) {
        NDArray view = src.get(index);
        view.attach(step);
        NDArray dup = view.duplicate();
        dup.attach(step);
        return dup;
    }

    /** Stops the engine thread; waiting and running requests fail with a shutdown error. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            worker.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
