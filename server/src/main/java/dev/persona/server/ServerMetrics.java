package dev.persona.server;

import dev.persona.api.ChatEngine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * The server's Prometheus metrics: requests by endpoint and status, request latency histograms,
 * tokens generated (and tokens/s over the last 10 s), queue depth, batch rows, decode steps and the
 * KV cache's size.
 */
final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ChatEngine engine;
    /** (nanoTime, tokens generated) samples of the last 10 s, for the rate gauge. */
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();

    private final java.util.concurrent.ScheduledExecutorService sampler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "persona-metrics");
        t.setDaemon(true);
        return t;
    });

    ServerMetrics(ChatEngine engine) {
        this.engine = engine;
        sampler.scheduleAtFixedRate(this::sample, 0, 1, java.util.concurrent.TimeUnit.SECONDS);
        Gauge.builder("persona_queue_depth", engine, e -> e.stats().queueDepth()).description("requests waiting for a batch row").register(registry);
        Gauge.builder("persona_batch_rows", engine, e -> e.stats().activeRows()).description("rows in the running decode batch").register(registry);
        Gauge.builder("persona_batch_rows_max", engine, e -> e.stats().maxBatch()).description("rows a decode step may hold").register(registry);
        Gauge.builder("persona_kv_cache_bytes", engine, e -> e.stats().cacheBytes()).description("bytes of the preallocated KV cache").register(registry);
        FunctionCounter.builder("persona_generated_tokens", engine, e -> e.stats().tokensGenerated()).description("tokens generated").register(registry);
        FunctionCounter.builder("persona_decode_steps", engine, e -> e.stats().steps()).description("batched decode steps run").register(registry);
        FunctionCounter.builder("persona_decode_row_steps", engine, e -> e.stats().rowSteps()).description("rows summed over decode steps (over steps: the mean batch size)").register(registry);
        FunctionCounter.builder("persona_decode_seconds", engine, e -> e.stats().stepSeconds()).description("time in decode steps").register(registry);
        FunctionCounter.builder("persona_prefill_seconds", engine, e -> e.stats().prefillSeconds()).description("time prefilling prompts").register(registry);
        Gauge.builder("persona_tokens_per_second", this, ServerMetrics::tokensPerSecond).description("tokens generated per second over the last 10 s").register(registry);
    }

    void request(String endpoint, int status, long nanos) {
        Counter.builder("persona_requests").tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
        Timer.builder("persona_request_latency").tag("endpoint", endpoint).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(5)).maximumExpectedValue(Duration.ofMinutes(5)).register(registry).record(Duration.ofNanos(nanos));
    }

    void tokens(int n) {
        Counter.builder("persona_completion_tokens").description("tokens returned in replies").register(registry).increment(n);
    }

    void disconnect() {
        Counter.builder("persona_client_disconnects").description("streams cancelled because the client went away").register(registry).increment();
    }

    private synchronized void sample() {
        long now = System.nanoTime();
        samples.addLast(new long[] {now, engine.stats().tokensGenerated()});
        while (samples.size() > 1 && now - samples.peekFirst()[0] > 10_000_000_000L) samples.removeFirst();
    }

    private synchronized double tokensPerSecond() {
        if (samples.size() < 2) return 0;
        long[] first = samples.peekFirst(), last = samples.peekLast();
        return (last[1] - first[1]) / ((last[0] - first[0]) / 1e9);
    }

    void close() {
        sampler.shutdownNow();
    }

    String scrape() {
        return registry.scrape();
    }
}
