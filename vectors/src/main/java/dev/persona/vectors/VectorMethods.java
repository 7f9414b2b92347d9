package dev.persona.vectors;

import dev.persona.extract.ActivationSummaries;
import dev.persona.extract.Extraction;
import dev.persona.extract.Sample;
import dev.persona.model.PersonaException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ways a trait vector can be computed from an extraction, per position kind and layer:
 * <ul>
 *   <li>{@code mean_diff}: mean(pos) - mean(neg) (the reference's method);</li>
 *   <li>{@code pca_diff}: first principal component of the paired differences pos_i - neg_i (uncentred);</li>
 *   <li>{@code pca_center}: first principal component of each pair centred on its midpoint;</li>
 *   <li>{@code probe}: pos-minus-neg weights of a logistic-regression probe (Tribuo).</li>
 * </ul>
 * Every non-mean direction is oriented along the mean difference and scaled so that its projection of
 * the mean difference is unchanged: v = u (u . mean_diff) for unit u, so coefficients stay comparable.
 */
public final class VectorMethods {
    public static final List<String> METHODS = List.of("mean_diff", "pca_diff", "pca_center", "probe");

    private VectorMethods() { }

    /** The vector of {@code method}, with the run's counts in the metadata. */
    public static TraitVector vector(Extraction.Result r, String method, Map<String, String> metadata) {
        if (!METHODS.contains(method)) {
            throw new PersonaException("unknown method '" + method + "'", "use one of " + String.join(", ", METHODS));
        }
        TraitVector md = MeanDifference.vector(r, metadata);
        if (method.equals("mean_diff")) return md;
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        for (String kind : ActivationSummaries.KINDS) {
            float[][] mean = md.rows(kind);
            float[][] out = new float[mean.length][];
            for (int l = 0; l < mean.length; l++) {
                float[] u = switch (method) {
                    case "pca_diff" -> Pca.firstComponent(pairRows(r, kind, l, false), false, mean[l]);
                    case "pca_center" -> Pca.firstComponent(pairRows(r, kind, l, true), true, mean[l]);
                    default -> {
                        List<float[]> pos = rows(r, kind, l, true), neg = rows(r, kind, l, false);
                        yield Probe.fit(pos, neg, pos, neg).direction();
                    }
                };
                out[l] = scaleAlong(u, mean[l]);
            }
            dirs.put(kind, out);
        }
        Map<String, String> meta = new LinkedHashMap<>(md.metadata());
        meta.put("method", method);
        return new TraitVector(dirs, meta);
    }

    /** Held-out probe accuracy and AUROC per layer of response_avg (trained on even-numbered questions, tested on odd). */
    public static List<double[]> probeByLayer(Extraction.Result r, int rows) {
        List<double[]> out = new ArrayList<>();
        for (int l = 0; l < rows; l++) {
            List<float[]> trainPos = new ArrayList<>(), trainNeg = new ArrayList<>(), testPos = new ArrayList<>(), testNeg = new ArrayList<>();
            for (Sample s : r.samples()) {
                ActivationSummaries a = r.summaries().get(s.key());
                if (a == null) continue;
                boolean train = s.question() % 2 == 0;
                (train ? (s.positive() ? trainPos : trainNeg) : (s.positive() ? testPos : testNeg)).add(a.responseAvg()[l]);
            }
            if (trainPos.isEmpty() || trainNeg.isEmpty() || testPos.isEmpty() || testNeg.isEmpty()) {
                out.add(new double[] {Double.NaN, Double.NaN});
                continue;
            }
            Probe p = Probe.fit(trainPos, trainNeg, testPos, testNeg);
            out.add(new double[] {p.accuracy(), p.auroc()});
        }
        return out;
    }

    private static float[] scaleAlong(float[] u, float[] mean) {
        double n = Stats.norm(u);
        if (n == 0) return u.clone();
        double along = Stats.dot(u, mean) / n;
        float[] v = new float[u.length];
        for (int i = 0; i < u.length; i++) v[i] = (float) (u[i] / n * along);
        return v;
    }

    private static List<float[]> rows(Extraction.Result r, String kind, int layer, boolean positive) {
        List<float[]> out = new ArrayList<>();
        for (Sample s : r.samples()) {
            ActivationSummaries a = r.summaries().get(s.key());
            if (a != null && s.positive() == positive) out.add(a.kind(kind)[layer]);
        }
        return out;
    }

    /** Per kept pair: pos - neg, or (centred) pos - mid and neg - mid. */
    private static List<float[]> pairRows(Extraction.Result r, String kind, int layer, boolean centred) {
        List<float[]> out = new ArrayList<>();
        for (String pair : r.keptPairs()) {
            float[] p = r.summaries().get(pair + "-pos").kind(kind)[layer];
            float[] n = r.summaries().get(pair + "-neg").kind(kind)[layer];
            float[] a = new float[p.length], b = new float[p.length];
            for (int i = 0; i < p.length; i++) {
                if (centred) {
                    float mid = (p[i] + n[i]) / 2;
                    a[i] = p[i] - mid;
                    b[i] = n[i] - mid;
                } else {
                    a[i] = p[i] - n[i];
                }
            }
            out.add(a);
            if (centred) out.add(b);
        }
        return out;
    }
}
