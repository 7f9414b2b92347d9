package dev.persona.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.api.ChatEngine;
import dev.persona.api.ChatReply;
import dev.persona.api.Steering;
import dev.persona.api.VectorRef;
import dev.persona.model.PersonaException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@code persona serve}: OpenAI-compatible endpoints over a {@link ChatEngine} ({@code POST
 * /v1/chat/completions}, {@code POST /v1/completions}, {@code GET /v1/models}), plus {@code GET
 * /health}, {@code GET /metrics} (Prometheus text), {@code GET /v1/persona/vectors} (the loaded
 * vectors and their defaults) and the playground page at {@code /}. Every request may carry a
 * {@code persona} object (steer, ablate, monitor); errors are OpenAI-shaped and never stop the server.
 */
public final class PersonaServer implements AutoCloseable {
    private final ChatEngine engine;
    private final ServeOptions options;
    private final ServerMetrics metrics;
    private final byte[] keyDigest;
    private final Javalin app;

    private PersonaServer(ChatEngine engine, ServeOptions options) {
        this.engine = engine;
        this.options = options;
        this.metrics = new ServerMetrics(engine);
        this.keyDigest = options.apiKey() == null ? null : sha256(options.apiKey());
        this.app = Javalin.create(c -> {
            c.showJavalinBanner = false;
            // bodies are read here with our own limit, so the error is OpenAI-shaped
            c.http.maxRequestSize = Long.MAX_VALUE;
            c.jetty.defaultHost = options.host();
        });
        app.before(this::authorize);
        app.get("/", ctx -> ctx.contentType("text/html; charset=utf-8").result(playground()));
        app.get("/health", ctx -> json(ctx, 200, health()));
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
        app.get("/v1/models", ctx -> json(ctx, 200, models()));
        app.get("/v1/persona/vectors", ctx -> json(ctx, 200, vectors()));
        app.post("/v1/chat/completions", ctx -> complete(ctx, true));
        app.post("/v1/completions", ctx -> complete(ctx, false));
        app.exception(ApiError.class, (e, ctx) -> fail(ctx, e));
        app.exception(PersonaException.class, (e, ctx) -> fail(ctx, OpenAiProtocol.of(e)));
        app.exception(Exception.class, (e, ctx) -> fail(ctx, new ApiError(500, "server_error", null, null, "internal error: " + e)));
        app.error(404, ctx -> {
            if (ctx.result() == null) fail(ctx, new ApiError(404, "invalid_request_error", null, "not_found", "no route " + ctx.method() + " " + ctx.path()));
        });
    }

    /** Starts listening; {@link #port()} tells where. */
    public static PersonaServer start(ChatEngine engine, ServeOptions options) {
        PersonaServer s = new PersonaServer(engine, options);
        s.app.start(options.host(), options.port());
        return s;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return app.port();
    }

    /** The base URL clients use, e.g. http://127.0.0.1:8000/v1. */
    public String baseUrl() {
        String h = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + h + ":" + port() + "/v1";
    }

    // ---------------------------------------------------------------- security

    private void authorize(Context ctx) {
        if (keyDigest == null) return;
        String p = ctx.path();
        if (!p.startsWith("/v1/") && !p.equals("/metrics")) return;
        String h = ctx.header("Authorization");
        String given = h != null && h.startsWith("Bearer ") ? h.substring(7) : "";
        // digests have one length whatever was sent, and isEqual compares them in constant time
        if (!MessageDigest.isEqual(sha256(given), keyDigest)) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "Incorrect or missing API key: send Authorization: Bearer KEY");
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- completions

    private void complete(Context ctx, boolean chat) throws IOException {
        long t0 = System.nanoTime();
        String endpoint = chat ? "chat" : "completions";
        int status = 200;
        try {
            byte[] body = readBody(ctx);
            OpenAiProtocol.Parsed p = OpenAiProtocol.parse(OpenAiProtocol.parseBody(body), chat, options.modelName());
            OpenAiProtocol.Header h = new OpenAiProtocol.Header((chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", ""),
                    System.currentTimeMillis() / 1000, options.modelName(), chat);
            if (p.stream()) stream(ctx, p, h);
            else {
                ChatEngine.Call call = engine.submit(p.request(), null);
                ChatReply r = await(call);
                metrics.tokens(r.completionTokens());
                json(ctx, 200, OpenAiProtocol.reply(h, r));
            }
        } catch (ApiError e) {
            status = e.status;
            throw e;
        } catch (PersonaException e) {
            status = OpenAiProtocol.of(e).status;
            throw e;
        } catch (RuntimeException e) {
            status = 500;
            throw e;
        } finally {
            metrics.request(endpoint, status, System.nanoTime() - t0);
        }
    }

    private static ChatReply await(ChatEngine.Call call) {
        try {
            return call.result().get();
        } catch (InterruptedException e) {
            call.cancel();
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, null, "interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof PersonaException pe) throw new ApiError(500, "server_error", null, null, "generation failed: " + pe.getMessage());
            throw new ApiError(500, "server_error", null, null, "generation failed: " + e.getCause());
        }
    }

    private byte[] readBody(Context ctx) throws IOException {
        long declared = ctx.req().getContentLengthLong();
        if (declared > options.maxBodyBytes()) throw tooLarge(declared);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try (InputStream in = ctx.req().getInputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                if (out.size() > options.maxBodyBytes()) throw tooLarge(out.size());
            }
        }
        return out.toByteArray();
    }

    private ApiError tooLarge(long n) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large",
                "the request body has " + n + " bytes, more than this server's limit of " + options.maxBodyBytes());
    }

    /** One streamed event for the handler thread to write. */
    private record Event(int choice, String text, ChatReply.TokenLogprob logprob) { }

    /**
     * Server-sent events: one chunk per token delta, a last chunk per choice with its finish reason
     * and monitor projections, optionally usage, then {@code data: [DONE]}. A client that goes away
     * cancels its rows (found at the next write; while a request waits for a row, a comment line is
     * written every second to find out).
     */
    private void stream(Context ctx, OpenAiProtocol.Parsed p, OpenAiProtocol.Header h) throws IOException {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        ChatEngine.Call call = engine.submit(p.request(), (choice, text, lp) -> events.add(new Event(choice, text, lp)));
        ctx.res().setStatus(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        OutputStream out = ctx.res().getOutputStream();
        CompletableFuture<ChatReply> result = call.result();
        boolean[] roleSent = new boolean[p.request().n()];
        try {
            while (true) {
                Event e = events.poll(1, TimeUnit.SECONDS);
                if (e == null) {
                    if (result.isDone() && events.isEmpty()) break;
                    write(out, ": waiting\n\n");
                    continue;
                }
                write(out, "data: " + OpenAiProtocol.deltaChunk(h, e.choice(), !roleSent[e.choice()], e.text(), e.logprob()) + "\n\n");
                roleSent[e.choice()] = true;
                if (result.isDone() && events.isEmpty()) break;
            }
            ChatReply r = await(call);
            metrics.tokens(r.completionTokens());
            for (ChatReply.Choice c : r.choices()) write(out, "data: " + OpenAiProtocol.finalChunk(h, r, c, !roleSent[c.index()]) + "\n\n");
            if (p.includeUsage()) write(out, "data: " + OpenAiProtocol.usageChunk(h, r) + "\n\n");
            write(out, "data: [DONE]\n\n");
        } catch (IOException | UncheckedIOException e) {
            // the client went away: free its rows now rather than generating for nobody
            call.cancel();
            metrics.disconnect();
        } catch (InterruptedException e) {
            call.cancel();
            Thread.currentThread().interrupt();
        }
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    // ---------------------------------------------------------------- other endpoints

    private ObjectNode health() {
        ChatEngine.Stats s = engine.stats();
        ObjectNode o = OpenAiProtocol.JSON.createObjectNode();
        o.put("status", "ok").put("model", options.modelName()).put("active_rows", s.activeRows()).put("queue_depth", s.queueDepth())
                .put("max_batch", s.maxBatch()).put("context_tokens", s.contextTokens());
        return o;
    }

    private ObjectNode models() {
        ObjectNode o = OpenAiProtocol.JSON.createObjectNode();
        o.put("object", "list");
        o.putArray("data").addObject().put("id", options.modelName()).put("object", "model").put("created", 0).put("owned_by", "persona");
        return o;
    }

    private ObjectNode vectors() {
        ObjectNode o = OpenAiProtocol.JSON.createObjectNode();
        o.put("model", options.modelName()).put("num_layers", engine.model().numLayers());
        ArrayNode a = o.putArray("vectors");
        for (Map.Entry<String, VectorRef> e : engine.vectors().files().entrySet()) {
            VectorRef v = e.getValue();
            // the defaults a steer entry without layer or coef gets, as persona steer resolves them
            Steering.Applied d = Steering.of(v).resolve();
            a.addObject().put("name", e.getKey()).put("trait", v.trait()).put("default_layer", d.layer()).put("default_coef", d.coef());
        }
        ArrayNode names = o.putArray("names");
        engine.vectors().names().forEach(names::add);
        return o;
    }

    private static byte[] playgroundPage;

    private static synchronized byte[] playground() throws IOException {
        if (playgroundPage == null) {
            try (InputStream in = PersonaServer.class.getResourceAsStream("playground.html")) {
                playgroundPage = in.readAllBytes();
            }
        }
        return playgroundPage;
    }

    private static void json(Context ctx, int status, JsonNode body) {
        ctx.status(status).contentType("application/json").result(body.toString());
    }

    private void fail(Context ctx, ApiError e) {
        if (e.status == 429) ctx.header("Retry-After", "1");
        json(ctx, e.status, OpenAiProtocol.error(e));
    }

    /** Stops listening (the engine stays open: its owner closes it). */
    @Override
    public void close() {
        app.stop();
        metrics.close();
    }
}
