package dev.persona.vectors;

import dev.persona.extract.ActivationSummaries;
import dev.persona.extract.Extraction;
import dev.persona.extract.Sample;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trait directions as the reference computes them: per layer and position kind, the mean activation
 * of kept trait-expressing (pos) samples minus that of kept neg samples. Also the per-layer analyses
 * a researcher needs to trust the result: held-out AUROC of the projection (vector from even-numbered
 * questions, tested on odd-numbered ones) and the standardised projection gap.
 */
public final class MeanDifference {
    private MeanDifference() { }

    /** Per-layer diagnostics of response_avg. */
    public record LayerReport(int layer, double heldOutAuroc, double separation, double norm) { }

    /** [L+1][d] mean(pos) - mean(neg) over the given kept samples for one kind. */
    public static float[][] direction(Extraction.Result r, String kind, java.util.function.Predicate<Sample> include) {
        int rows = -1, d = -1;
        double[][] sumPos = null, sumNeg = null;
        int nPos = 0, nNeg = 0;
        for (Sample s : r.samples()) {
            ActivationSummaries a = r.summaries().get(s.key());
            if (a == null || !include.test(s)) continue;
            float[][] x = a.kind(kind);
            if (sumPos == null) {
                rows = x.length;
                d = x[0].length;
                sumPos = new double[rows][d];
                sumNeg = new double[rows][d];
            }
            double[][] acc = s.positive() ? sumPos : sumNeg;
            if (s.positive()) nPos++;
            else nNeg++;
            for (int l = 0; l < rows; l++) for (int i = 0; i < d; i++) acc[l][i] += x[l][i];
        }
        if (sumPos == null || nPos == 0 || nNeg == 0) return null;
        float[][] out = new float[rows][d];
        for (int l = 0; l < rows; l++) for (int i = 0; i < d; i++) out[l][i] = (float) (sumPos[l][i] / nPos - sumNeg[l][i] / nNeg);
        return out;
    }

    /** The vector file content for all kinds, with the run's counts in the metadata. */
    public static TraitVector vector(Extraction.Result r, Map<String, String> metadata) {
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        for (String kind : ActivationSummaries.KINDS) dirs.put(kind, direction(r, kind, s -> true));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("method", "mean_diff");
        meta.put("n_pos", Integer.toString(r.keptPairs().size()));
        meta.put("n_neg", Integer.toString(r.keptPairs().size()));
        float[][] any = dirs.get("response_avg");
        meta.put("d_model", Integer.toString(any[0].length));
        meta.put("num_layers", Integer.toString(any.length - 1));
        return new TraitVector(dirs, meta);
    }

    /** Held-out AUROC and separation per layer of response_avg. */
    public static List<LayerReport> analyse(Extraction.Result r, TraitVector full) {
        float[][] train = direction(r, "response_avg", s -> s.question() % 2 == 0);
        List<LayerReport> out = new ArrayList<>();
        float[][] rows = full.rows("response_avg");
        for (int l = 0; l < rows.length; l++) {
            List<Double> pTest = new ArrayList<>(), nTest = new ArrayList<>(), pAll = new ArrayList<>(), nAll = new ArrayList<>();
            for (Sample s : r.samples()) {
                ActivationSummaries a = r.summaries().get(s.key());
                if (a == null) continue;
                float[] x = a.responseAvg()[l];
                double proj = Stats.projection(x, rows[l]);
                (s.positive() ? pAll : nAll).add(proj);
                if (train != null && s.question() % 2 == 1) (s.positive() ? pTest : nTest).add(Stats.projection(x, train[l]));
            }
            double auroc = Stats.auroc(toArray(pTest), toArray(nTest));
            double[] pa = toArray(pAll), na = toArray(nAll);
            double pooled = Math.sqrt((Math.pow(Stats.std(pa), 2) + Math.pow(Stats.std(na), 2)) / 2);
            double sep = pooled == 0 ? 0 : (Stats.mean(pa) - Stats.mean(na)) / pooled;
            out.add(new LayerReport(l, auroc, sep, Stats.norm(rows[l])));
        }
        return out;
    }

    /** The layer (1..L-1, i.e. a block output) with the highest held-out AUROC, ties broken by separation. */
    public static int bestLayer(List<LayerReport> reports) {
        LayerReport best = null;
        for (LayerReport r : reports) {
            if (r.layer() == 0 || r.layer() == reports.size() - 1) continue;
            if (best == null || key(r) > key(best)) best = r;
        }
        return best == null ? reports.size() / 2 : best.layer();
    }

    private static double key(LayerReport r) {
        return (Double.isNaN(r.heldOutAuroc()) ? 0 : r.heldOutAuroc()) * 1000 + r.separation();
    }

    static double[] toArray(List<Double> l) {
        double[] a = new double[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = l.get(i);
        return a;
    }
}
