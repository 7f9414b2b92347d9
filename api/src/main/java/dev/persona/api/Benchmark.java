package dev.persona.api;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.model.HookedTransformer;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelShapes;
import dev.persona.model.PersonaException;
import dev.persona.model.RuntimeBench;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code persona bench}: throughput and memory of the runtime on a model directory or a random model
 * of a known shape — the float32 matmul peak and the memory read bandwidth measured in the same run,
 * prefill and decode tokens per second, the weight stream of batch-1 decode as a fraction of the
 * bandwidth, resident memory after load and at peak. Results belong in docs/BENCHMARKS.md; no test
 * asserts a speed.
 */
public final class Benchmark {
    private Benchmark() { }

    /**
     * {@code model} (null: the organism) or a random model of {@code shape}; {@code batch} restricts
     * prefill and decode to one batch size (null: prefill 1 x promptTokens and 8 x 128, decode at
     * {@code decodeBatches}); decode runs generate {@code newTokens} after a 32-token prompt.
     */
    public record Options(Path model, String shape, Compute compute, Integer batch, int promptTokens, int newTokens, List<Integer> decodeBatches) {
        public Options {
            if (compute == null) compute = Compute.cpu();
            if (promptTokens < 1) throw new PersonaException("--prompt-tokens " + promptTokens + " is below 1", "pass 1 or more");
            if (newTokens < 2) throw new PersonaException("--new-tokens " + newTokens + " is below 2", "pass 2 or more (decode is timed from the second new token, after the prefill)");
            decodeBatches = decodeBatches == null ? List.of(1, 4, 16, 32, 64) : List.copyOf(decodeBatches);
        }

        public static Options defaults() {
            return new Options(null, null, null, null, 512, 32, null);
        }
    }

    /** One prefill: batch x tokens, tokens per second, useful GFLOP/s and their fraction of the matmul peak, RSS after it. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record PrefillRow(int batch, int tokens, double tokensPerS, double usefulGflops, double fractionOfPeak, long rssAfterBytes) { }

    /**
     * One decode: batch, prompt and new tokens, tokens per second over all rows (new tokens - 1
     * decode steps over the time from the end of the prefill to the end of the generation, the best
     * of {@code timedRuns} runs: 3 for batches up to 4, after at least 64 warm-up decode steps; else 1
     * after one warm-up run).
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record DecodeRow(int batch, int promptTokens, int newTokens, double tokensPerS, int timedRuns) { }

    /**
     * Everything {@code persona bench --json} prints. {@code decodeKernel}: "vector" when decode steps
     * (up to 8 rows in F32, 16 in BF16) multiply on Persona's vector-API kernel, "libtorch" otherwise
     * (models narrower than 512, a GPU, or a JVM without {@code --add-modules jdk.incubator.vector}).
     *
     * <p>{@code memoryBandwidthGbps}, which {@code decodeB1BandwidthFraction} divides by: on the kernel
     * with batch 1 measured, the best of four reads of the model's own weights, each at least a second
     * long, taken before each timed batch-1 decode run and after the last (the same pages, the same
     * threads and the same minutes as the runs); otherwise the burst figure. {@code
     * memoryBandwidthBurstGbps}: the best of five one-pass reads of a fresh 1 GiB buffer (about 20 ms
     * each) at the end of the run, by libtorch's sum and by the kernel's threads.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(String model, String date, int cores, String decodeKernel, long parameters, String computeDtype, long f32WeightBytes, long heldWeightBytes,
                         long rssAfterLoadBytes, long mappedWeightBytesResidentAfterLoad, double matmulPeakGflops, double memoryBandwidthGbps, double memoryBandwidthBurstGbps,
                         List<PrefillRow> prefill, List<DecodeRow> decode, Double decodeBatch16OverBatch1, Double decodeB1WeightStreamGbps,
                         Double decodeB1BandwidthFraction, long peakRssBytes, double peakRssOverF32Weights, double peakRssOverHeldWeights,
                         Map<String, Object> config) { }

    public static Result run(Options o, Progress progress) {
        Progress p = Progress.orNone(progress);
        HookedTransformer m = o.shape() != null
                ? HookedTransformer.random(ModelShapes.config(o.shape()), o.compute().device(), 7, o.compute().precision())
                : o.compute().weights(PersonaHome.modelDir(o.model()));
        try {
            ModelConfig c = m.config();
            long rssAfterLoad = RuntimeBench.currentRssBytes();
            long mapped = RuntimeBench.mappedResidentBytes(".safetensors");
            // rows are made once the matmul peak is known (measured after the peak RSS is read, below)
            record Measured(RuntimeBench.Prefill run, long rssAfter) { }
            List<Measured> prefillRuns = new ArrayList<>();
            int[][] prefillCases = o.batch() != null ? new int[][] {{o.batch(), o.promptTokens()}} : new int[][] {{1, o.promptTokens()}, {8, 128}};
            for (int[] pc : prefillCases) {
                RuntimeBench.Prefill r = RuntimeBench.prefill(m, pc[0], pc[1], 3);
                prefillRuns.add(new Measured(r, RuntimeBench.currentRssBytes()));
                p.note(String.format(Locale.ROOT, "prefill %dx%d: %.0f tok/s, %.1f GFLOP/s", r.batch(), r.tokens(), r.tokensPerSecond(), r.usefulGflops()));
            }
            List<DecodeRow> decodes = new ArrayList<>();
            List<Double> weightReads = new ArrayList<>();
            for (int b : o.batch() != null ? List.of(o.batch()) : o.decodeBatches()) {
                // batch 1's runs are compared with reads of the same weights between them: on a shared machine the
                // bandwidth moves from minute to minute (35-73 GB/s here), and a read minutes later compared luck
                Runnable between = b == 1 && m.decodesThroughKernel() ? () -> weightReads.add(m.weightReadGbps(1.0)) : null;
                // small batches take seconds a run and move most with the machine's noise: the best of three
                RuntimeBench.Decode d = RuntimeBench.decode(m, b, 32, o.newTokens(), b <= 4 ? 3 : 1, between);
                decodes.add(new DecodeRow(d.batch(), d.promptTokens(), d.newTokens(), d.tokensPerSecond(), d.timedRuns()));
                p.note(String.format(Locale.ROOT, "decode batch %d: %.1f tok/s", b, d.tokensPerSecond()));
            }
            // the peak is read before the probes of the machine (the matmul's three 16 MB matrices, the bandwidth
            // probe's 1 GiB buffer), which are not the model's memory: it is what loading, prefill and decode held
            long rss = RuntimeBench.peakRssBytes();
            double peak = RuntimeBench.matmulPeakGflops(m, 2048, 5);
            p.note(String.format(Locale.ROOT, "matmul peak %.1f GFLOP/s", peak));
            List<PrefillRow> prefills = new ArrayList<>();
            for (Measured pm : prefillRuns) {
                RuntimeBench.Prefill r = pm.run();
                prefills.add(new PrefillRow(r.batch(), r.tokens(), r.tokensPerSecond(), r.usefulGflops(), r.usefulGflops() / peak, pm.rssAfter()));
                p.note(String.format(Locale.ROOT, "prefill %dx%d: %.0f%% of the matmul peak", r.batch(), r.tokens(), 100 * r.usefulGflops() / peak));
            }
            // 1 GiB: far past any cache on the machines Persona runs on, small next to the weights it is compared with
            double burst = RuntimeBench.memoryBandwidthGbps(m, 1L << 30, 5);
            double bandwidth = weightReads.stream().mapToDouble(Double::doubleValue).max().orElse(burst);
            p.note(String.format(Locale.ROOT, "memory read bandwidth %.1f GB/s (%s), %.1f GB/s in 20 ms bursts", bandwidth,
                    weightReads.isEmpty() ? "bursts" : "reads of the weights between the batch-1 runs: " + weightReads.stream()
                            .map(g -> String.format(Locale.ROOT, "%.1f", g)).collect(java.util.stream.Collectors.joining(" ")), burst));
            Double b1 = rate(decodes, 1), b16 = rate(decodes, 16);
            // batch-1 decode reads every held weight once per token
            Double stream = b1 == null ? null : b1 * m.heldWeightBytes() / 1e9;
            return new Result(o.shape() != null ? "random " + o.shape() : m.directory().toString(), OffsetDateTime.now().toString(),
                    Runtime.getRuntime().availableProcessors(), m.decodesThroughKernel() ? "vector" : "libtorch", m.parameterCount(), m.precision().name().toLowerCase(Locale.ROOT), m.parameterCount() * 4,
                    m.heldWeightBytes(), rssAfterLoad, mapped, peak, bandwidth, burst, prefills, decodes, b1 == null || b16 == null ? null : b16 / b1,
                    stream, stream == null ? null : stream / bandwidth, rss, (double) rss / (m.parameterCount() * 4.0), (double) rss / m.heldWeightBytes(),
                    Map.of("family", c.family().modelType(), "layers", c.numLayers(), "d_model", c.dModel(), "vocab", c.vocabSize()));
        } finally {
            m.close();
        }
    }

    private static Double rate(List<DecodeRow> rows, int batch) {
        return rows.stream().filter(r -> r.batch() == batch).map(DecodeRow::tokensPerS).findFirst().orElse(null);
    }
}
