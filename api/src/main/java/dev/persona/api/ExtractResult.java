package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.extract.Extraction;
import java.nio.file.Path;
import java.util.List;

/**
 * What an extraction produced: the filter counts, the layer analysis (held-out AUROC of the
 * response-average projection and probe figures per hidden_states row), the best layer, the files
 * written, the generation batch used ({@code batch}: a run's sampled answers depend on it), and the vector itself ({@code vector}, rows 0..L of d_model floats per kind).
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ExtractResult(String trait, int pairs, int keptPairs, Dropped dropped, int bestLayer, double bestLayerHeldoutAuroc,
                            double bestLayerProbeAccuracy, double bestLayerProbeAuroc, String method, List<Layer> layers,
                            Path vectorFile, Path responses, Path activations, Path report, Path out, double seconds,
                            int batch, @JsonIgnore VectorRef vector, @JsonIgnore Extraction.Result data) {

    /** Pairs dropped by each filter step. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Dropped(int posBelowThreshold, int negAtOrAboveThreshold, int incoherent, int noScore) { }

    /**
     * One hidden_states row: held-out AUROC of the projection onto the mean difference (vector from
     * even-numbered questions, projections of odd-numbered ones), the standardised gap between pos and
     * neg projections, the mean difference's norm, and the logistic probe's held-out accuracy and AUROC.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Layer(int layer, double heldoutAuroc, double separation, double norm, double probeAccuracy, double probeAuroc) { }

    /**
     * Projections of the kept samples' response-average activations at {@code layer} onto this
     * vector's unit direction there, by the system prompt they were generated under.
     */
    public java.util.Map<String, double[]> projections(int layer) {
        float[] v = vector.vector().layer(layer);
        java.util.List<Double> pos = new java.util.ArrayList<>(), neg = new java.util.ArrayList<>();
        for (dev.persona.extract.Sample s : data.samples()) {
            dev.persona.extract.ActivationSummaries a = data.summaries().get(s.key());
            if (a == null) continue;
            (s.positive() ? pos : neg).add(dev.persona.vectors.Stats.projection(a.responseAvg()[layer], v));
        }
        java.util.Map<String, double[]> out = new java.util.LinkedHashMap<>();
        out.put("pos system prompt", pos.stream().mapToDouble(Double::doubleValue).toArray());
        out.put("neg system prompt", neg.stream().mapToDouble(Double::doubleValue).toArray());
        return out;
    }

    /** The layer analysis as a table. */
    public TextTable layerTable() {
        TextTable t = TextTable.of("layer", "held-out AUROC", "standardised gap", "mean-diff norm", "probe accuracy", "probe AUROC");
        for (Layer l : layers) t = t.row(l.layer(), l.heldoutAuroc(), l.separation(), l.norm(), l.probeAccuracy(), l.probeAuroc());
        return t;
    }

    /** The one-line summary the command prints. */
    @Override
    public String toString() {
        return String.format("kept %d of %d pairs; best layer %d (held-out AUROC %.3f); vector %s; report %s", keptPairs, pairs, bestLayer,
                bestLayerHeldoutAuroc, vectorFile, report);
    }
}
