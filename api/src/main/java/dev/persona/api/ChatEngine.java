package dev.persona.api;

import dev.persona.model.ContinuousBatcher;
import dev.persona.model.GenerationOptions;
import dev.persona.model.HookIntervention;
import dev.persona.model.HookPoint;
import dev.persona.model.Interventions;
import dev.persona.model.PersonaException;
import dev.persona.steer.SteeringPlan;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Generation for many concurrent callers on one model: requests share batched decode steps
 * ({@link ContinuousBatcher}), each row with its own steering, ablation and monitoring, and text
 * arrives as it is generated. What {@code persona serve} answers HTTP requests with.
 *
 * <pre>{@code
 * try (Persona m = Persona.organism();
 *      ChatEngine e = ChatEngine.start(m, VectorShelf.load(m, List.of(dir)), EngineOptions.defaults())) {
 *     ChatReply r = e.call(ChatRequest.chat(messages, 48).steer(List.of(ChatRequest.Steer.of("sycophancy").coef(3))));
 * }
 * }</pre>
 *
 * Thread-safe. Closing it stops the engine (the {@link Persona} stays open).
 */
public final class ChatEngine implements AutoCloseable {
    private final Persona model;
    private final VectorShelf vectors;
    private final ContinuousBatcher batcher;
    /** The tokenizer and template are used from request threads and the text thread: one at a time. */
    private final Object textLock = new Object();
    /**
     * Turns tokens into text (decoding, stop strings, stream callbacks) in order, off the engine
     * thread, so that a decode step never waits for the tokenizer.
     */
    private final java.util.concurrent.ExecutorService text = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "persona-text");
        t.setDaemon(true);
        return t;
    });

    private ChatEngine(Persona model, VectorShelf vectors, ContinuousBatcher batcher) {
        this.model = model;
        this.vectors = vectors;
        this.batcher = batcher;
    }

    /** Starts the engine thread on {@code model}, which it then owns until {@link #close}. */
    public static ChatEngine start(Persona model, VectorShelf vectors, EngineOptions o) {
        return new ChatEngine(model, vectors == null ? VectorShelf.empty() : vectors,
                new ContinuousBatcher(model.chatModel().model(), o.maxBatch(), o.contextTokens(), o.queueLimit()));
    }

    public Persona model() {
        return model;
    }

    public VectorShelf vectors() {
        return vectors;
    }

    /** Receives a choice's text as it is generated (on the engine's text thread: return quickly). */
    public interface Stream {
        /** {@code text} extends choice {@code choice}'s text; {@code logprob} is the token's, when asked for (else null). */
        void delta(int choice, String text, ChatReply.TokenLogprob logprob);
    }

    /** A running request. */
    public static final class Call {
        private final CompletableFuture<ChatReply> result = new CompletableFuture<>();
        private final List<ContinuousBatcher.Handle> handles = new ArrayList<>();

        /** Completes with the reply, or exceptionally with the engine's error. */
        public CompletableFuture<ChatReply> result() {
            return result;
        }

        /** Frees the request's rows at the next step; its choices end with "cancelled". */
        public void cancel() {
            synchronized (handles) {
                handles.forEach(ContinuousBatcher.Handle::cancel);
            }
        }
    }

    /**
     * Counters for metrics.
     *
     * @param rowSteps       sum over decode steps of the rows in each (rowSteps / steps = mean batch)
     * @param stepSeconds    wall time in decode steps
     * @param prefillSeconds wall time prefilling newcomers
     */
    public record Stats(int queueDepth, int activeRows, long tokensGenerated, long steps, long rowSteps, double stepSeconds, double prefillSeconds,
                        int maxBatch, int contextTokens, long cacheBytes) { }

    public Stats stats() {
        return new Stats(batcher.queueDepth(), batcher.activeRows(), batcher.tokensGenerated(), batcher.steps(), batcher.rowSteps(), batcher.stepNanos() / 1e9,
                batcher.prefillNanos() / 1e9, batcher.maxBatch(), batcher.capacity(), batcher.cacheBytes());
    }

    /** Answers {@code r}, blocking until every choice is done. */
    public ChatReply call(ChatRequest r) {
        try {
            return submit(r, null).result().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PersonaException("interrupted while generating", "retry");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        }
    }

    /** The token ids the model sees for {@code r}: the chat template's rendering, or the raw prompt. */
    public int[] promptIds(ChatRequest r) {
        synchronized (textLock) {
            return r.messages() != null ? model.chatModel().encode(r.messages(), true) : model.chatModel().tokenizer().encode(r.prompt());
        }
    }

    /**
     * Queues {@code r}; everything about it is checked before anything runs, so a bad request fails
     * here with a {@link PersonaException}: {@link VectorShelf.UnknownVectorException} for a vector
     * name, {@link ContinuousBatcher.ContextExceededException} for a prompt past the context (checked
     * as the first choice is queued), {@link ContinuousBatcher.QueueFullException} for a full queue.
     */
    public Call submit(ChatRequest r, Stream stream) {
        int[] prompt = promptIds(r);
        List<Steering> steerings = steerings(r);
        SteeringPlan plan = new SteeringPlan();
        for (Steering s : steerings) plan.add(s.toSteer());
        plan.check(model.chatModel().model(), model.fingerprint(), false);
        List<HookIntervention> steers = plan.bind();
        List<ContinuousBatcher.Probe> probes = new ArrayList<>();
        Map<String, Integer> probeLayers = new LinkedHashMap<>();
        for (String name : r.monitor()) {
            VectorRef v = vectors.get(name);
            int layer = v.defaultLayer();
            // the same row persona monitor projects onto: the response_avg direction at the recommended layer
            float[] unit = Interventions.unit(v.vector().layer("response_avg", layer));
            probes.add(new ContinuousBatcher.Probe(name, HookPoint.hiddenStateRow(layer, model.numLayers()), unit));
            probeLayers.put(name, layer);
        }
        GenerationOptions g = r.generation().stopIds() == null ? r.generation().withStopIds(model.chatModel().stopIds()) : r.generation();
        List<Steering.Applied> applied = steerings.stream().map(Steering::resolve).toList();
        Call call = new Call();
        Choice[] choices = new Choice[r.n()];
        Runnable done = () -> {
            for (Choice c : choices) if (c == null || c.result == null) return;
            List<ChatReply.Choice> out = new ArrayList<>();
            int total = 0;
            for (Choice c : choices) {
                out.add(c.result);
                total += c.result.tokens();
            }
            call.result.complete(new ChatReply(out, applied, prompt.length, total));
        };
        synchronized (call.handles) {
            try {
                for (int i = 0; i < r.n(); i++) {
                    choices[i] = new Choice(i, r, stream, probeLayers, call, done);
                    call.handles.add(batcher.submit(new ContinuousBatcher.Request(prompt, g, i, steers, probes, r.topLogprobs(), choices[i])));
                    choices[i].handle = call.handles.get(i);
                }
            } catch (RuntimeException e) {
                // all choices or none: the ones already queued leave again
                call.handles.forEach(ContinuousBatcher.Handle::cancel);
                throw e;
            }
        }
        return call;
    }

    /** The request's steering and ablation as library steerings (vector names resolved, defaults left to the file). */
    private List<Steering> steerings(ChatRequest r) {
        List<Steering> out = new ArrayList<>();
        for (ChatRequest.Steer s : r.steer()) {
            Steering st = Steering.of(vectors.get(s.vector()));
            if (s.layer() != null) st = st.layer(s.layer());
            if (s.coef() != null) st = st.coef(s.coef());
            if ("ablate".equals(s.kind())) st = st.ablate();
            else if (s.kind() != null) st = st.kind(s.kind());
            if (s.positions() != null) st = st.positions(s.positions());
            out.add(st);
        }
        for (String a : r.ablate()) out.add(Steering.of(vectors.get(a)).ablate().positions("all"));
        return out;
    }

    /** One choice's text as it grows: decoded incrementally, cut at stop strings. */
    private final class Choice implements ContinuousBatcher.Listener {
        final int index;
        final ChatRequest request;
        final Stream stream;
        final Map<String, Integer> probeLayers;
        final Call call;
        final Runnable done;
        final List<Integer> ids = new ArrayList<>();
        final List<ChatReply.TokenLogprob> logprobs = new ArrayList<>();
        ContinuousBatcher.Handle handle;
        int sent;
        String stoppedText;
        volatile ChatReply.Choice result;

        Choice(int index, ChatRequest request, Stream stream, Map<String, Integer> probeLayers, Call call, Runnable done) {
            this.index = index;
            this.request = request;
            this.stream = stream;
            this.probeLayers = probeLayers;
            this.call = call;
            this.done = done;
        }

        @Override
        public void token(ContinuousBatcher.Token t) {
            text.execute(() -> onToken(t));
        }

        @Override
        public void finished(ContinuousBatcher.Finish f) {
            text.execute(() -> onFinish(f));
        }

        @Override
        public void failed(RuntimeException e) {
            text.execute(() -> call.result.completeExceptionally(e));
        }

        private void onToken(ContinuousBatcher.Token t) {
            if (stoppedText != null) return;
            ids.add(t.id());
            // nobody reads the text before the end: decode once, then
            if (stream == null && request.stop().isEmpty() && request.topLogprobs() < 0) return;
            String text;
            ChatReply.TokenLogprob lp = null;
            synchronized (textLock) {
                text = decode(ids);
                if (request.topLogprobs() >= 0) {
                    List<ChatReply.Alternative> top = new ArrayList<>();
                    for (int k = 0; k < t.topIds().length; k++) top.add(new ChatReply.Alternative(piece(t.topIds()[k]), t.topLogprobs()[k]));
                    lp = new ChatReply.TokenLogprob(piece(t.id()), t.logprob(), top);
                    logprobs.add(lp);
                }
            }
            int cut = -1;
            for (String s : request.stop()) {
                int at = text.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            int safe;
            if (cut >= 0) {
                stoppedText = text.substring(0, cut);
                safe = cut;
                if (handle != null) handle.cancel();
            } else {
                // hold back a partial UTF-8 character and any tail that may yet become a stop string
                safe = text.endsWith("\uFFFD") ? text.length() - 1 : text.length();
                for (String s : request.stop()) {
                    for (int k = Math.min(s.length() - 1, safe); k > 0; k--) {
                        if (text.startsWith(s.substring(0, k), safe - k)) {
                            safe -= k;
                            break;
                        }
                    }
                }
            }
            if (stream != null && (safe > sent || lp != null)) {
                stream.delta(index, safe > sent ? text.substring(sent, safe) : "", lp);
            }
            sent = Math.max(sent, safe);
        }

        private void onFinish(ContinuousBatcher.Finish f) {
            String text;
            synchronized (textLock) {
                text = stoppedText != null ? stoppedText : decode(ids);
            }
            if (stream != null && text.length() > sent) stream.delta(index, text.substring(sent), null);
            String reason = stoppedText != null ? "stop" : f.reason();
            Map<String, ChatReply.Projection> monitor = new LinkedHashMap<>();
            probeLayers.forEach((name, layer) -> monitor.put(name,
                    new ChatReply.Projection(name, layer, f.promptLast().getOrDefault(name, Double.NaN), f.responseAverage().getOrDefault(name, Double.NaN))));
            result = new ChatReply.Choice(index, text, reason, ids.size(), request.topLogprobs() >= 0 ? List.copyOf(logprobs) : null, monitor);
            done.run();
        }
    }

    private String decode(List<Integer> ids) {
        return model.chatModel().tokenizer().decode(ids.stream().mapToInt(Integer::intValue).toArray(), true);
    }

    private String piece(int id) {
        return model.chatModel().tokenizer().decode(new int[] {id}, false);
    }

    /** Stops the engine; waiting and running requests fail with a shutdown error. */
    @Override
    public void close() {
        batcher.close();
        text.shutdown();
    }
}
