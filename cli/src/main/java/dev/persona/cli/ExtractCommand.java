package dev.persona.cli;

import dev.persona.extract.ActivationSummaries;
import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Extraction;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.LocalJudge;
import dev.persona.extract.OpenAiJudge;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelFingerprint;
import dev.persona.model.PersonaException;
import dev.persona.organism.RuleJudge;
import dev.persona.vectors.Charts;
import dev.persona.vectors.MeanDifference;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.VectorMethods;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona extract}: trait vectors from contrastive generations, resumable. */
@Command(name = "extract", mixinStandardHelpOptions = true,
        description = {"Extract per-layer persona vectors the way the reference does: generate under pos and neg system",
            "prompts, judge, keep pairs (pos >= 50, neg < 50, coherence >= 50), capture activations, take mean differences.",
            "Writes responses.arrow, activations.arrow, NAME.safetensors, report.md and PNG charts. Rerun the same",
            "command after a crash to resume."})
final class ExtractCommand implements Callable<Integer> {
    @Option(names = "--trait", required = true, description = "Built-in trait name (see `persona traits`) or a trait JSON file.")
    String trait;

    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--judge", defaultValue = "rule",
            description = "rule (the organism's exact judge), openai:URL[#MODEL] (any OpenAI-compatible server; key from OPENAI_API_KEY) or local:DIR (a local chat model). Default ${DEFAULT-VALUE}.")
    String judge;

    @Option(names = "--samples", defaultValue = "10", description = "Samples per question, instruction pair and polarity (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--max-tokens", defaultValue = "64", description = "New tokens per response (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--method", defaultValue = "mean_diff",
            description = "mean_diff (default), pca_diff, pca_center or probe (see docs/DESIGN.md).")
    String method;

    @Option(names = "--out", description = "Output directory (default runs/extract-TRAIT).")
    Path out;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!VectorMethods.METHODS.contains(method)) {
            throw new PersonaException("--method " + method + " is not one of " + VectorMethods.METHODS, "use --method mean_diff, pca_diff, pca_center or probe");
        }
        TraitSpec spec = TraitLibrary.load(trait, "extract");
        Path dir = model.resolve();
        Path outDir = out != null ? out : Path.of("runs", "extract-" + spec.name());
        Files.createDirectories(outDir);
        Judge j = judgeFor(judge, compute.precision());
        String fingerprint = ModelFingerprint.of(dir);
        Extraction.Options o = new Extraction.Options(samples, maxTokens, seed, 64, 50, 50, 50);
        String runId = Journal.idOf(spec.sha256() + "|" + fingerprint + "|" + o + compute.runSuffix());
        Extraction.Result r;
        long t0 = System.nanoTime();
        try (ChatModel chat = compute.chat(dir)) {
            Map<String, ProgressBar> bars = new LinkedHashMap<>();
            r = Extraction.run(chat, spec, j, outDir, o, runId, (stage, done, total) ->
                    bars.computeIfAbsent(stage, s -> new ProgressBar(String.format("%-8s", s), total)).update(done, ""));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", TraitVector.FORMAT);
        meta.put("trait", spec.name());
        meta.put("model", dir.toAbsolutePath().normalize().toString());
        meta.put("model_fingerprint", fingerprint);
        meta.put("created", OffsetDateTime.now().toString());
        meta.put("persona_version", "0.1.0");
        meta.put("trait_spec_sha256", spec.sha256());
        meta.put("judge", j.name());
        meta.put("compute_dtype", compute.precision().name().toLowerCase(java.util.Locale.ROOT));
        meta.put("samples", Integer.toString(samples));
        meta.put("seed", Long.toString(seed));
        TraitVector meanDiff = MeanDifference.vector(r, meta);
        TraitVector v = method.equals("mean_diff") ? meanDiff : VectorMethods.vector(r, method, meta);
        List<MeanDifference.LayerReport> layers = MeanDifference.analyse(r, meanDiff);
        List<double[]> probes = VectorMethods.probeByLayer(r, layers.size());
        int best = MeanDifference.bestLayer(layers);
        Map<String, String> withBest = new LinkedHashMap<>(v.metadata());
        withBest.put("best_layer_by_separation", Integer.toString(best));
        v = new TraitVector(v.directions(), withBest);
        Path vectorFile = outDir.resolve(spec.name() + ".safetensors");
        v.save(vectorFile);
        ArrowDatasets.writeResponses(outDir.resolve("responses.arrow"), r, o.batchSize());
        ArrowDatasets.writeActivations(outDir.resolve("activations.arrow"), r);
        writeCharts(outDir, r, layers, probes);
        writeReport(outDir, spec, r, layers, probes, best, vectorFile, method, (System.nanoTime() - t0) / 1e9);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("trait", spec.name());
        summary.put("pairs", r.filter().pairs());
        summary.put("kept_pairs", r.filter().kept());
        summary.put("dropped", Map.of("pos_below_threshold", r.filter().droppedPos(), "neg_at_or_above_threshold", r.filter().droppedNeg(),
                "incoherent", r.filter().droppedCoherence(), "no_score", r.filter().droppedNoScore()));
        summary.put("best_layer", best);
        summary.put("best_layer_heldout_auroc", layers.get(best).heldOutAuroc());
        summary.put("best_layer_probe_accuracy", probes.get(best)[0]);
        summary.put("best_layer_probe_auroc", probes.get(best)[1]);
        summary.put("method", method);
        summary.put("vector", vectorFile.toString());
        summary.put("responses", outDir.resolve("responses.arrow").toString());
        summary.put("activations", outDir.resolve("activations.arrow").toString());
        summary.put("report", outDir.resolve("report.md").toString());
        if (json) System.out.println(Json.write(summary));
        else System.out.printf("kept %d of %d pairs; best layer %d (held-out AUROC %.3f); vector %s; report %s%n", r.filter().kept(),
                r.filter().pairs(), best, layers.get(best).heldOutAuroc(), vectorFile, outDir.resolve("report.md"));
        return 0;
    }

    /** The judge named by {@code spec}; a {@code local:DIR} judge computes in {@code precision}. */
    static Judge judgeFor(String spec, dev.persona.model.Precision precision) {
        if (spec.equals("rule")) return new RuleJudge();
        if (spec.startsWith("openai:")) return new OpenAiJudge(OpenAiJudge.Config.parse(spec.substring("openai:".length()), "OPENAI_API_KEY"));
        if (spec.startsWith("local:")) return new LocalJudge(Path.of(spec.substring("local:".length())), precision);
        throw new PersonaException("judge '" + spec + "' is not available in this build",
                "use --judge rule (the organism's exact judge), --judge openai:http://HOST:PORT/v1[#MODEL] (key from OPENAI_API_KEY) or --judge local:DIR");
    }


    private static void writeCharts(Path dir, Extraction.Result r, List<MeanDifference.LayerReport> layers, List<double[]> probes) throws IOException {
        double[] x = new double[layers.size()], auroc = new double[layers.size()], sep = new double[layers.size()], probe = new double[layers.size()];
        for (int i = 0; i < layers.size(); i++) {
            x[i] = i;
            auroc[i] = layers.get(i).heldOutAuroc();
            sep[i] = layers.get(i).separation();
            probe[i] = probes.get(i)[1];
        }
        Map<String, double[][]> s1 = new LinkedHashMap<>();
        s1.put("projection onto mean difference (held-out)", new double[][] {x, auroc});
        s1.put("logistic probe (held-out)", new double[][] {x, probe});
        Charts.lines(dir.resolve("auroc_by_layer.png"), "Held-out AUROC of the projection, by layer", "layer (hidden_states row)", "AUROC", s1);
        Map<String, double[][]> s2 = new LinkedHashMap<>();
        s2.put("projection gap / pooled std", new double[][] {x, sep});
        Charts.lines(dir.resolve("separation_by_layer.png"), "Projection gap between pos and neg samples, by layer", "layer (hidden_states row)", "standardised gap", s2);
        List<Double> pos = new ArrayList<>(), neg = new ArrayList<>();
        for (var s : r.samples()) {
            Double t = r.traitScores().get(s.key());
            if (t != null) (s.positive() ? pos : neg).add(t);
        }
        Map<String, double[]> h = new LinkedHashMap<>();
        h.put("pos system prompt", pos.stream().mapToDouble(Double::doubleValue).toArray());
        h.put("neg system prompt", neg.stream().mapToDouble(Double::doubleValue).toArray());
        Charts.histograms(dir.resolve("trait_scores.png"), "Judged trait scores", "trait score", h, 20, 0, 100);
    }

    private static void writeReport(Path dir, TraitSpec spec, Extraction.Result r, List<MeanDifference.LayerReport> layers,
                                    List<double[]> probes, int best, Path vectorFile, String method, double seconds) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# Extraction report: ").append(spec.name()).append("\n\n");
        sb.append(String.format("Samples: %d responses (%d pairs); run time %.0f s.%n%n", r.samples().size(), r.filter().pairs(), seconds));
        sb.append("## Filter\n\n| step | pairs |\n|---|---|\n");
        sb.append("| all pairs | ").append(r.filter().pairs()).append(" |\n");
        sb.append("| dropped: pos trait score < 50 | ").append(r.filter().droppedPos()).append(" |\n");
        sb.append("| dropped: neg trait score >= 50 | ").append(r.filter().droppedNeg()).append(" |\n");
        sb.append("| dropped: coherence < 50 | ").append(r.filter().droppedCoherence()).append(" |\n");
        sb.append("| dropped: no score | ").append(r.filter().droppedNoScore()).append(" |\n");
        sb.append("| **kept** | **").append(r.filter().kept()).append("** |\n\n");
        sb.append("## Layers (response_avg)\n\nHeld-out AUROC: vector from even-numbered questions, projections of odd-numbered ones.\n\n");
        sb.append("| layer | held-out AUROC | standardised gap | mean-diff norm | probe accuracy | probe AUROC |\n|---|---|---|---|---|---|\n");
        for (MeanDifference.LayerReport l : layers) {
            sb.append(String.format("| %d%s | %.3f | %.2f | %.3f | %.3f | %.3f |%n", l.layer(), l.layer() == best ? " (best)" : "", l.heldOutAuroc(),
                    l.separation(), l.norm(), probes.get(l.layer())[0], probes.get(l.layer())[1]));
        }
        sb.append("\n![AUROC by layer](auroc_by_layer.png)\n![Separation by layer](separation_by_layer.png)\n![Trait scores](trait_scores.png)\n\n");
        sb.append("Method: `").append(method).append("`. ");
        sb.append("Vector file: `").append(vectorFile.getFileName()).append("` (tensors ").append(String.join(", ", ActivationSummaries.KINDS))
                .append(", rows = hidden_states rows).\n");
        Files.writeString(dir.resolve("report.md"), sb.toString());
    }

}
