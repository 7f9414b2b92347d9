package dev.persona.cli;

import dev.persona.api.ChatEngine;
import dev.persona.api.EngineOptions;
import dev.persona.api.Persona;
import dev.persona.api.VectorShelf;
import dev.persona.model.PersonaException;
import dev.persona.server.PersonaServer;
import dev.persona.server.ServeOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona serve}: an OpenAI-compatible server that steers and monitors every request. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve one model over OpenAI-compatible HTTP (POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics) with a playground page at /. "
                + "Requests may carry a persona object: steer [{vector, layer?, coef?, kind?, positions?}], ablate [names], monitor [names]; vectors are named by file stem or trait. "
                + "Concurrent requests share batched decode steps (continuous batching). Binds 127.0.0.1 unless told otherwise; any other address needs --api-key-env.")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--vectors", arity = "1..*", paramLabel = "DIR|FILE", description = "Vector files, or folders of them, that requests may name.")
    List<Path> vectors = new ArrayList<>();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "TCP port (default ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--api-key-env", paramLabel = "VAR", description = "Environment variable holding the API key clients must send as a bearer token.")
    String apiKeyEnv;

    @Option(names = "--insecure-no-key", description = "Allow binding a non-loopback address without an API key.")
    boolean insecureNoKey;

    @Option(names = "--max-batch", defaultValue = "16", description = "Rows decoded together (default ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--context", defaultValue = "2048", description = "Tokens of prompt + reply per row (default ${DEFAULT-VALUE}, capped by the model's context).")
    int context;

    @Option(names = "--queue", defaultValue = "64", description = "Requests waiting beyond the batch before 429 (default ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--max-body", defaultValue = "1048576", description = "Largest request body in bytes (default ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--name", description = "Model id clients send (default: the model folder's name).")
    String name;

    @Override
    public Integer call() throws Exception {
        String key = null;
        if (apiKeyEnv != null) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new PersonaException("--api-key-env " + apiKeyEnv + " names an environment variable that is unset or empty", "export " + apiKeyEnv + "=SECRET first");
            }
        }
        Path dir = model.resolve();
        String id = name != null ? name : dir.getFileName().toString();
        ServeOptions so = new ServeOptions(host, port, key, insecureNoKey, maxBody, id);
        if (key == null && !ServeOptions.isLoopback(host)) {
            System.err.println("persona: WARNING: serving " + host + " without an API key (--insecure-no-key): anyone who can reach it can use the model");
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        try (Persona m = Persona.load(dir, compute.compute());
             ChatEngine engine = ChatEngine.start(m, VectorShelf.load(m, vectors), new EngineOptions(maxBatch, context, queue));
             PersonaServer server = PersonaServer.start(engine, so)) {
            System.err.println("persona: serving " + id + " at " + server.baseUrl() + " (playground: " + server.baseUrl().replaceAll("/v1$", "/") + ")"
                    + "; vectors: " + (engine.vectors().names().isEmpty() ? "none" : String.join(", ", engine.vectors().names())));
            // Ctrl-C / SIGTERM: let the server, the engine and the model close before the JVM goes
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stop.countDown();
                try {
                    closed.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            stop.await();
        } finally {
            closed.countDown();
        }
        return 0;
    }
}
