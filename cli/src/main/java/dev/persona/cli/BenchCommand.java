package dev.persona.cli;

import dev.persona.model.HookedTransformer;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelShapes;
import dev.persona.model.RuntimeBench;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona bench}: prefill and decode throughput, peak memory, and the machine's matmul peak in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s, peak RSS, and the F32 matmul peak of this machine. Default suite: prefill 1 x P and 8 x 128, decode at batch 1 and 16. --shape builds a random model of a known shape in memory (e.g. qwen2.5-0.5b).")
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--shape", description = "Random model of a known shape instead of --model: ${COMPLETION-CANDIDATES}.",
            completionCandidates = ShapeNames.class)
    String shape;

    @Option(names = "--batch", description = "Only this batch size (prefill and decode).")
    Integer batch;

    @Option(names = "--prompt-tokens", defaultValue = "512", description = "Prompt length of the batch-1 prefill (default ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--new-tokens", defaultValue = "32", description = "Tokens generated in decode runs (default ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    static final class ShapeNames extends ArrayList<String> {
        ShapeNames() {
            super(ModelShapes.names());
        }
    }

    @Override
    public Integer call() {
        HookedTransformer m = shape != null ? HookedTransformer.random(ModelShapes.config(shape), compute.device(), 7, compute.precision())
                : compute.weights(model.resolve());
        try {
            ModelConfig c = m.config();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", shape != null ? "random " + shape : m.directory().toString());
            out.put("date", OffsetDateTime.now().toString());
            out.put("cores", Runtime.getRuntime().availableProcessors());
            out.put("parameters", m.parameterCount());
            out.put("compute_dtype", m.precision().name().toLowerCase(java.util.Locale.ROOT));
            out.put("f32_weight_bytes", m.parameterCount() * 4);
            out.put("held_weight_bytes", m.heldWeightBytes());
            out.put("rss_after_load_bytes", RuntimeBench.currentRssBytes());
            double peak = RuntimeBench.matmulPeakGflops(m, 2048, 5);
            out.put("matmul_peak_gflops", peak);
            List<Map<String, Object>> prefills = new ArrayList<>();
            int[][] prefillCases = batch != null ? new int[][] {{batch, promptTokens}} : new int[][] {{1, promptTokens}, {8, 128}};
            for (int[] pc : prefillCases) {
                RuntimeBench.Prefill p = RuntimeBench.prefill(m, pc[0], pc[1], 3);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("batch", p.batch());
                r.put("tokens", p.tokens());
                r.put("tokens_per_s", p.tokensPerSecond());
                r.put("useful_gflops", p.usefulGflops());
                r.put("fraction_of_peak", p.usefulGflops() / peak);
                prefills.add(r);
                out.put("rss_after_prefill_" + pc[0] + "x" + pc[1], RuntimeBench.currentRssBytes());
                progress("prefill %dx%d: %.0f tok/s, %.1f GFLOP/s (%.0f%% of matmul peak %.1f)", p.batch(), p.tokens(),
                        p.tokensPerSecond(), p.usefulGflops(), 100 * p.usefulGflops() / peak, peak);
            }
            out.put("prefill", prefills);
            List<Map<String, Object>> decodes = new ArrayList<>();
            int[] decodeBatches = batch != null ? new int[] {batch} : new int[] {1, 16};
            for (int b : decodeBatches) {
                RuntimeBench.Decode d = RuntimeBench.decode(m, b, 32, newTokens);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("batch", d.batch());
                r.put("prompt_tokens", d.promptTokens());
                r.put("new_tokens", d.newTokens());
                r.put("tokens_per_s", d.tokensPerSecond());
                decodes.add(r);
                progress("decode batch %d: %.1f tok/s", b, d.tokensPerSecond());
            }
            out.put("decode", decodes);
            if (decodes.size() == 2) {
                out.put("decode_batch16_over_batch1", (double) decodes.get(1).get("tokens_per_s") / (double) decodes.get(0).get("tokens_per_s"));
            }
            long rss = RuntimeBench.peakRssBytes();
            out.put("peak_rss_bytes", rss);
            out.put("peak_rss_over_f32_weights", (double) rss / (m.parameterCount() * 4.0));
            out.put("peak_rss_over_held_weights", (double) rss / m.heldWeightBytes());
            out.put("config", Map.of("family", c.family().modelType(), "layers", c.numLayers(), "d_model", c.dModel(), "vocab", c.vocabSize()));
            if (json) {
                System.out.println(Json.write(out));
            } else {
                out.forEach((k, v) -> System.out.printf("%-28s %s%n", k, v));
            }
        } finally {
            m.close();
        }
        return 0;
    }

    private void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }
}
