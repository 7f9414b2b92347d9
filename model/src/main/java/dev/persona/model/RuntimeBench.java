package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Throughput measurements of the runtime: prefill and decode tokens per second, the machine's
 * float32 matmul peak through the same engine, and the process's peak resident memory. Used by
 * {@code persona bench}; results belong in docs/BENCHMARKS.md, not in timed unit tests.
 */
public final class RuntimeBench {
    private RuntimeBench() { }

    /** One prefill measurement. */
    public record Prefill(int batch, int tokens, double seconds, double tokensPerSecond, double usefulGflops) { }

    /** One decode measurement: the best of {@code timedRuns} runs. */
    public record Decode(int batch, int promptTokens, int newTokens, double seconds, double tokensPerSecond, int timedRuns) { }

    /** Best-of-{@code reps} GFLOP/s of an n x n x n float32 matmul. */
    public static double matmulPeakGflops(HookedTransformer model, int n, int reps) {
        double best = 0;
        try (NDManager m = model.manager().newSubManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n));
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n));
            try (NDManager w = m.newSubManager()) {
                a.matMul(b).attach(w);
            }
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                try (NDManager s = m.newSubManager()) {
                    NDArray c = a.matMul(b);
                    c.attach(s);
                    c.getFloat(0, 0);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, 2.0 * n * n * n / secs / 1e9);
            }
        }
        return best;
    }

    /** Useful FLOPs of a prefill of {@code tokens} per row: 2 x (matmul weights) per token plus causal attention, head for the last token only. */
    public static double prefillFlops(ModelConfig c, int batch, int tokens) {
        double perTokenLinear = 0;
        long d = c.dModel();
        perTokenLinear += (double) d * c.qWidth() + 2.0 * d * c.kvWidth() + (double) c.qWidth() * d;
        perTokenLinear += (c.family().gatedMlp() ? 3.0 : 2.0) * d * c.dFF();
        perTokenLinear *= c.numLayers();
        double linear = 2.0 * perTokenLinear * tokens;
        // q.k and p.v over the causal triangle
        double attention = c.numLayers() * 2.0 * 2.0 * c.numHeads() * c.headDim() * (tokens * (tokens + 1) / 2.0);
        double head = 2.0 * d * c.vocabSize();
        return batch * (linear + attention + head);
    }

    /** Times the prompt pass of generation (head on the last position) for batch x tokens random ids; best of reps. */
    public static Prefill prefill(HookedTransformer model, int batch, int tokens, int reps) {
        List<int[]> prompts = randomPrompts(model.config(), batch, tokens, 1);
        GenerationOptions o = GenerationOptions.greedy(0).withStopIds(Set.of());
        double best = Double.MAX_VALUE;
        Generator g = new Generator(model);
        g.run(prompts, o);
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            g.run(prompts, o);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        double flops = prefillFlops(model.config(), batch, tokens);
        return new Prefill(batch, tokens, best, batch * tokens / best, flops / best / 1e9);
    }

    /** Decode steps run before timing: the JIT compiles the rest of the decode path over the first 50 or so. */
    static final int WARM_UP_STEPS = 64;

    /**
     * Decode tokens per second: batch x (newTokens - 1) decode steps (with the sampling of every
     * new token) over the time from the end of the prompt's prefill to the end of the generation,
     * the best of {@code runs} runs. The clock starts when the prefill has returned its logits, so
     * the prefill's time, however noisy, is not in the figure (a difference of two timed runs was
     * zero or negative when a widened BF16 prefill varied by more than the steps between them).
     * Before the timed runs one warm-up run, or with {@code runs} > 1 (small batches, whose runs are
     * short) warm-up runs of at least {@link #WARM_UP_STEPS} decode steps.
     */
    public static Decode decode(HookedTransformer model, int batch, int promptTokens, int newTokens, int runs) {
        return decode(model, batch, promptTokens, newTokens, runs, null);
    }

    /**
     * {@link #decode(HookedTransformer, int, int, int, int)}, running {@code aroundRuns} (when not
     * null) before each timed run and after the last: measurements that belong to the same minutes.
     */
    public static Decode decode(HookedTransformer model, int batch, int promptTokens, int newTokens, int runs, Runnable aroundRuns) {
        if (newTokens < 2) throw new IllegalArgumentException("decode is timed from the second new token: " + newTokens + " is too few");
        List<int[]> prompts = randomPrompts(model.config(), batch, promptTokens, 2);
        Generator g = new Generator(model);
        GenerationOptions full = GenerationOptions.greedy(newTokens).withStopIds(Set.of());
        // steady state, so the JIT has compiled the decode path
        int warmUp = runs > 1 ? WARM_UP_STEPS : 1;
        for (int steps = 0; steps < warmUp; steps += newTokens - 1) g.run(prompts, full);
        double best = Double.MAX_VALUE;
        for (int r = 0; r < Math.max(1, runs); r++) {
            if (aroundRuns != null) aroundRuns.run();
            g.run(prompts, full);
            best = Math.min(best, (System.nanoTime() - g.lastPrefillEndNanos) / 1e9);
        }
        if (aroundRuns != null) aroundRuns.run();
        return new Decode(batch, promptTokens, newTokens, best, batch * (newTokens - 1) / best, Math.max(1, runs));
    }

    private static List<int[]> randomPrompts(ModelConfig c, int batch, int tokens, long seed) {
        Random r = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int[] p = new int[tokens];
            for (int i = 0; i < tokens; i++) p[i] = r.nextInt(c.vocabSize());
            out.add(p);
        }
        return out;
    }

    /**
     * The machine's memory read bandwidth in GB/s: the best of {@code reps} multi-threaded sums over
     * a float32 buffer of {@code bytes} (far larger than the caches), taken two ways in the same
     * process, libtorch's sum with its intra-op threads (all cores) and a vector-API sum split across
     * the decoding kernel's threads (all cores, when the vector API is present); the larger one is
     * the machine's figure, since neither reader can read faster than the memory delivers.
     */
    public static double memoryBandwidthGbps(HookedTransformer model, long bytes, int reps) {
        double best = 0;
        try (NDManager m = model.manager().newSubManager()) {
            NDArray big = m.ones(new Shape(bytes / 4));
            big.sum().getFloat();
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                try (NDArray s = big.sum()) {
                    s.getFloat();
                }
                best = Math.max(best, bytes / ((System.nanoTime() - t0) / 1e9) / 1e9);
            }
        }
        if (Gemv.available()) best = Math.max(best, Gemv.readBandwidthGbps(bytes, reps));
        return best;
    }

    /** Bytes of file mappings whose path ends with {@code suffix} that are resident now (Linux smaps Rss), or -1 where unknown. */
    public static long mappedResidentBytes(String suffix) {
        long total = 0;
        boolean inMapping = false;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                    inMapping = line.trim().endsWith(suffix);
                } else if (inMapping && line.startsWith("Rss:")) {
                    total += Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return total;
    }

    /** Peak resident set size of this process in bytes (Linux VmHWM), or -1 where unknown. */
    public static long peakRssBytes() {
        return procStatus("VmHWM:");
    }

    /** Current resident set size in bytes (Linux VmRSS), or -1 where unknown. */
    public static long currentRssBytes() {
        return procStatus("VmRSS:");
    }

    private static long procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
