package dev.persona.api;

import dev.persona.steer.Sweep;
import dev.persona.vectors.Charts;
import dev.persona.vectors.Stats;
import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Charts of results as images (800 x 480 pixels), for notebook cells: a Java kernel shows an image that
 * a cell evaluates to inline, as PNG.
 */
public final class Plots {
    private Plots() { }

    /** Held-out AUROC of the mean-difference projection and of the logistic probe, per hidden_states row. */
    public static BufferedImage aurocByLayer(ExtractResult r) {
        double[] x = r.layers().stream().mapToDouble(ExtractResult.Layer::layer).toArray();
        Map<String, double[][]> s = new LinkedHashMap<>();
        s.put("projection onto mean difference (held-out)", new double[][] {x, r.layers().stream().mapToDouble(ExtractResult.Layer::heldoutAuroc).toArray()});
        s.put("logistic probe (held-out)", new double[][] {x, r.layers().stream().mapToDouble(ExtractResult.Layer::probeAuroc).toArray()});
        return Charts.lines(r.trait() + ": held-out AUROC by layer", "layer (hidden_states row)", "AUROC", s);
    }

    /** Histograms of the kept samples' response-average projections at {@code layer}, pos vs neg system prompts. */
    public static BufferedImage projectionHistogram(ExtractResult r, int layer) {
        return histograms(r.trait() + ": projection onto the vector at layer " + layer + " (kept samples)", "projection", r.projections(layer));
    }

    /** Overlaid histograms of several samples (30 bins over their common range). */
    public static BufferedImage histograms(String title, String xLabel, Map<String, double[]> samples) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double[] v : samples.values()) for (double d : v) {
            if (Double.isNaN(d)) continue;
            lo = Math.min(lo, d);
            hi = Math.max(hi, d);
        }
        double pad = (hi - lo) * 0.05 + 1e-9;
        return Charts.histograms(title, xLabel, samples, 30, lo - pad, hi + pad);
    }

    /** The sweep's trait score (or, with {@code coherence}, coherence) as a layer x coefficient heatmap, 0..100. */
    public static BufferedImage sweepHeatmap(SweepResult s, boolean coherence) {
        List<Integer> layers = s.cells().stream().map(Sweep.Cell::layer).distinct().sorted().toList();
        List<Double> coefs = s.cells().stream().map(Sweep.Cell::coef).distinct().sorted().toList();
        double[][] v = new double[layers.size()][coefs.size()];
        for (double[] row : v) java.util.Arrays.fill(row, Double.NaN);
        for (Sweep.Cell c : s.cells()) v[layers.indexOf(c.layer())][coefs.indexOf(c.coef())] = coherence ? c.coherence() : c.traitScore();
        return Charts.heatmap((coherence ? "Coherence" : "Trait score") + " by steering layer and coefficient", "layer",
                layers.stream().map(String::valueOf).toList(), "coefficient", coefs.stream().map(c -> String.format(Locale.ROOT, "%.1f", c)).toList(), v, 0, 100);
    }

    /** A scatter of y against x with Pearson r (and its 95% interval) in the title. */
    public static BufferedImage scatter(String title, String xLabel, String yLabel, double[] x, double[] y) {
        double r = Stats.pearson(x, y);
        double[] ci = Stats.pearsonInterval(r, x.length);
        Map<String, double[][]> s = new LinkedHashMap<>();
        s.put(String.format(Locale.ROOT, "r = %.3f [%.3f, %.3f], n = %d", r, ci[0], ci[1], x.length), new double[][] {x, y});
        return Charts.scatter(title, xLabel, yLabel, s);
    }

    /** Lines: one series per entry, {x[], y[]}. */
    public static BufferedImage lines(String title, String xLabel, String yLabel, Map<String, double[][]> series) {
        return Charts.lines(title, xLabel, yLabel, series);
    }

    /** One series of y over x = 0, 1, 2, ... */
    public static BufferedImage line(String title, String xLabel, String yLabel, String name, List<Double> y) {
        double[] x = new double[y.size()], v = new double[y.size()];
        for (int i = 0; i < y.size(); i++) {
            x[i] = i;
            v[i] = y.get(i);
        }
        return Charts.lines(title, xLabel, yLabel, Map.of(name, new double[][] {x, v}));
    }
}
