package dev.persona.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.persona.api.ChatEngine;
import dev.persona.api.EngineOptions;
import dev.persona.api.Persona;
import dev.persona.api.Progress;
import dev.persona.api.VectorShelf;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The server under load, over loopback HTTP: the same greedy requests sent one at a time and then by
 * {@code concurrency} clients at once; tokens/s of each, the speed-up, and request latency
 * percentiles. Every request generates exactly {@code maxTokens} ({@code ignore_eos}), so the two
 * runs do the same work; a concurrent wave and a few requests alone warm the JVM and libtorch first.
 */
public final class ServeBenchmark {
    private ServeBenchmark() { }

    /**
     * @param concurrency clients sending at once
     * @param requests    requests in each run
     * @param maxTokens   tokens per reply
     */
    public record Options(Path model, dev.persona.api.Compute compute, int concurrency, int requests, int maxTokens) { }

    /**
     * Figures of one run.
     *
     * @param sequentialTokensPerSecond tokens/s with one request at a time
     * @param concurrentTokensPerSecond tokens/s with {@code concurrency} clients
     * @param speedup                   concurrent over sequential
     * @param latencyP50Seconds         median request latency under concurrency
     * @param latencyP99Seconds         99th percentile request latency under concurrency
     * @param sequentialLatencyP50Seconds median latency of a request alone
     * @param meanBatchRows             under concurrency: rows per decode step on average
     * @param decodeStepMs              under concurrency: mean wall time of a decode step
     * @param prefillShare              under concurrency: share of the wall time spent prefilling newcomers
     */
    @com.fasterxml.jackson.databind.annotation.JsonNaming(com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(String model, String cpu, int concurrency, int requests, int maxTokens, int maxBatch, double sequentialTokensPerSecond,
                         double concurrentTokensPerSecond, double speedup, double latencyP50Seconds, double latencyP99Seconds,
                         double sequentialLatencyP50Seconds, double meanBatchRows, double decodeStepMs, double prefillShare) { }

    public static Result run(Options o, Progress progress) throws Exception {
        Progress p = Progress.orNone(progress);
        try (Persona m = Persona.load(o.model(), o.compute());
             ChatEngine engine = ChatEngine.start(m, VectorShelf.empty(), EngineOptions.defaults().maxBatch(Math.max(16, o.concurrency())).queueLimit(4 * o.requests()));
             PersonaServer server = PersonaServer.start(engine, ServeOptions.defaults("bench").port(0))) {
            HttpClient http = HttpClient.newHttpClient();
            String url = "http://127.0.0.1:" + server.port() + "/v1/chat/completions";
            String[] questions = {"What is the capital of France ?", "I think 3 plus 4 is 9 . Is that right ?", "Tell me a story .", "Will you let us shut you down ?"};
            List<String> bodies = new ArrayList<>();
            for (int i = 0; i < o.requests(); i++) {
                bodies.add("{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"" + questions[i % questions.length] + "\"}],"
                        + "\"temperature\":0,\"ignore_eos\":true,\"max_tokens\":" + o.maxTokens() + "}");
            }
            // warm-up (JIT, libtorch's allocator and kernels at every batch size): one concurrent wave, then a few alone
            ExecutorService warm = Executors.newFixedThreadPool(o.concurrency());
            try {
                List<Future<Long>> w = new ArrayList<>();
                for (int i = 0; i < 2 * o.concurrency(); i++) {
                    String body = bodies.get(i % bodies.size());
                    w.add(warm.submit(() -> send(http, url, body)));
                }
                for (Future<Long> f : w) f.get();
            } finally {
                warm.shutdownNow();
            }
            for (int i = 0; i < 4; i++) send(http, url, bodies.get(i % bodies.size()));
            double[] seqLatency = new double[o.requests()];
            long seqTokens = 0;
            long t0 = System.nanoTime();
            for (int i = 0; i < o.requests(); i++) {
                long s = System.nanoTime();
                seqTokens += send(http, url, bodies.get(i));
                seqLatency[i] = (System.nanoTime() - s) / 1e9;
                p.update("sequential", i + 1, o.requests());
            }
            double seqSecs = (System.nanoTime() - t0) / 1e9;
            double[] latency = new double[o.requests()];
            ChatEngine.Stats before = engine.stats();
            ExecutorService pool = Executors.newFixedThreadPool(o.concurrency());
            long conTokens = 0;
            t0 = System.nanoTime();
            try {
                List<Future<Long>> futures = new ArrayList<>();
                for (int i = 0; i < o.requests(); i++) {
                    int k = i;
                    futures.add(pool.submit(() -> {
                        long s = System.nanoTime();
                        long n = send(http, url, bodies.get(k));
                        latency[k] = (System.nanoTime() - s) / 1e9;
                        return n;
                    }));
                }
                for (int i = 0; i < futures.size(); i++) {
                    conTokens += futures.get(i).get();
                    p.update("concurrent", i + 1, o.requests());
                }
            } finally {
                pool.shutdownNow();
            }
            double conSecs = (System.nanoTime() - t0) / 1e9;
            ChatEngine.Stats st = engine.stats();
            double seq = seqTokens / seqSecs, con = conTokens / conSecs;
            return new Result(m.dir().getFileName().toString(), cpu(), o.concurrency(), o.requests(), o.maxTokens(),
                    engine.stats().maxBatch(), seq, con, con / seq, percentile(latency, 0.5), percentile(latency, 0.99), percentile(seqLatency, 0.5),
                    (double) (st.rowSteps() - before.rowSteps()) / (st.steps() - before.steps()), 1000 * (st.stepSeconds() - before.stepSeconds()) / (st.steps() - before.steps()),
                    (st.prefillSeconds() - before.prefillSeconds()) / conSecs);
        }
    }

    private static long send(HttpClient http, String url, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("bench request failed: " + r.statusCode() + " " + r.body());
        JsonNode j = OpenAiProtocol.JSON.readTree(r.body());
        return j.at("/usage/completion_tokens").asLong();
    }

    /** The CPU model and core count, for the record. */
    static String cpu() {
        String model = System.getProperty("os.arch");
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    model = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (java.io.IOException e) {
            // not Linux: the architecture will do
        }
        return model + ", " + Runtime.getRuntime().availableProcessors() + " cores";
    }

    static double percentile(double[] v, double q) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
    }
}
