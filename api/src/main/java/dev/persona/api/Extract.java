package dev.persona.api;

import dev.persona.extract.ActivationSummaries;
import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Extraction;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.BatchSize;
import dev.persona.model.ModelConfig;
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
import java.util.Locale;
import java.util.Map;

/**
 * Extraction the reference's way: generate under the trait's pos and neg system prompts, judge, keep
 * pairs that pass the filter, capture activations, take the per-layer difference of means (or
 * another method). Writes responses.arrow, activations.arrow, TRAIT.safetensors, report.md and PNG
 * charts into the output directory; journaled there, so the same call after a crash resumes and
 * gives the same bytes.
 */
public final class Extract {
    /** The generation batch when memory allows it; also the batch of every run before batches were chosen from memory. */
    public static final int MAX_BATCH = 64;

    private Extract() { }

    public static ExtractResult run(Persona m, String trait, ExtractOptions o, Progress progress) {
        TraitSpec spec = TraitLibrary.load(trait, "extract");
        Path outDir = o.out() != null ? o.out() : Path.of("runs", "extract-" + spec.name());
        Progress p = Progress.orNone(progress);
        return Io.locked(outDir, "persona extract", () -> {
            try (Judge j = Judges.open(o.judge(), m.compute().precision(), p)) {
                return run(m, spec, j, outDir, o, p);
            }
        });
    }

    private static ExtractResult run(Persona m, TraitSpec spec, Judge j, Path outDir, ExtractOptions o, Progress p) throws IOException {
        String fingerprint = m.fingerprint();
        ModelConfig config = m.chatModel().model().config();
        int longest = Extraction.longestPrompt(m.chatModel(), spec);
        BatchSize generation = BatchSize.resolve(o.batch(), config, BatchSize.Work.GENERATION, longest + o.maxTokens(), MAX_BATCH);
        BatchSize capture = BatchSize.resolve(null, config, BatchSize.Work.CAPTURE, longest + o.maxTokens(), Extraction.CAPTURE_BATCH);
        p.note("generation batch " + generation.describe() + "; capture batch " + capture.describe());
        Extraction.Options eo = new Extraction.Options(o.samples(), o.maxTokens(), o.seed(), generation.rows(), o.posThreshold(),
                o.negThreshold(), o.coherenceThreshold());
        String runId = Journal.idOf(spec.sha256() + "|" + fingerprint + "|" + eo + m.compute().runSuffix());
        RunClock clock = RunClock.start(outDir, runId);
        Extraction.Result r = Extraction.run(m.chatModel(), spec, j, outDir, eo, runId, (stage, done, total) -> {
            p.update(stage, done, total);
            clock.tick();
        }, capture.rows());
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", TraitVector.FORMAT);
        meta.put("trait", spec.name());
        meta.put("model", m.dir().toAbsolutePath().normalize().toString());
        meta.put("model_fingerprint", fingerprint);
        meta.put("persona_version", Version.PERSONA);
        meta.put("trait_spec_sha256", spec.sha256());
        meta.put("judge", j.name());
        meta.put("compute_dtype", m.compute().precision().name().toLowerCase(Locale.ROOT));
        meta.put("samples", Integer.toString(o.samples()));
        meta.put("seed", Long.toString(o.seed()));
        TraitVector meanDiff = MeanDifference.vector(r, meta);
        TraitVector v = o.method().equals("mean_diff") ? meanDiff : VectorMethods.vector(r, o.method(), meta);
        List<MeanDifference.LayerReport> layers = MeanDifference.analyse(r, meanDiff);
        List<double[]> probes = VectorMethods.probeByLayer(r, layers.size());
        int best = MeanDifference.bestLayer(layers);
        Map<String, String> withBest = new LinkedHashMap<>(v.metadata());
        withBest.put("best_layer_by_separation", Integer.toString(best));
        v = new TraitVector(v.directions(), withBest);
        Path vectorFile = outDir.resolve(spec.name() + ".safetensors");
        v.save(vectorFile);
        ArrowDatasets.writeResponses(outDir.resolve("responses.arrow"), r, eo.batchSize());
        ArrowDatasets.writeActivations(outDir.resolve("activations.arrow"), r);
        writeCharts(outDir, r, layers, probes);
        double seconds = clock.finish();
        writeReport(outDir, spec, r, layers, probes, best, vectorFile, o.method(), seconds, clock.legs(), generation.rows());
        List<ExtractResult.Layer> rows = new ArrayList<>();
        for (MeanDifference.LayerReport l : layers) {
            rows.add(new ExtractResult.Layer(l.layer(), l.heldOutAuroc(), l.separation(), l.norm(), probes.get(l.layer())[0], probes.get(l.layer())[1]));
        }
        Extraction.FilterReport f = r.filter();
        return new ExtractResult(spec.name(), f.pairs(), f.kept(),
                new ExtractResult.Dropped(f.droppedPos(), f.droppedNeg(), f.droppedCoherence(), f.droppedNoScore()), best,
                layers.get(best).heldOutAuroc(), probes.get(best)[0], probes.get(best)[1], o.method(), rows, vectorFile,
                outDir.resolve("responses.arrow"), outDir.resolve("activations.arrow"), outDir.resolve("report.md"), outDir, seconds,
                generation.rows(), VectorRef.of(vectorFile, v), r);
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
                                    List<double[]> probes, int best, Path vectorFile, String method, double seconds, int legs, int batch) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("# Extraction report: ").append(spec.name()).append("\n\n");
        sb.append(String.format("Samples: %d responses (%d pairs), generated %d at a time; run time %.0f s over %d leg%s (a leg per start of the same command); report written %s.%n%n",
                r.samples().size(), r.filter().pairs(), batch, seconds, legs, legs == 1 ? "" : "s", OffsetDateTime.now().withNano(0)));
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
