package dev.persona.vectors;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import org.tribuo.Example;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.linear.LinearSGDModel;
import org.tribuo.classification.sgd.linear.LogisticRegressionTrainer;
import org.tribuo.datasource.ListDataSource;
import org.tribuo.impl.ArrayExample;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/**
 * A logistic-regression probe (Tribuo, seeded SGD) separating pos from neg activations; its
 * direction is the pos-minus-neg weight vector, scored on held-out examples.
 *
 * @param direction weights of "pos" minus weights of "neg", length d_model
 * @param accuracy  held-out accuracy
 * @param auroc     held-out AUROC of P(pos)
 */
public record Probe(float[] direction, double accuracy, double auroc) {
    private static final LabelFactory LABELS = new LabelFactory();

    static {
        // Tribuo reports every SGD epoch at INFO through java.util.logging; keep command output readable
        java.util.logging.Logger.getLogger("org.tribuo").setLevel(java.util.logging.Level.WARNING);
    }

    /** Trains on (trainPos, trainNeg) and evaluates on (testPos, testNeg). */
    public static Probe fit(List<float[]> trainPos, List<float[]> trainNeg, List<float[]> testPos, List<float[]> testNeg) {
        int d = trainPos.get(0).length;
        String[] names = new String[d];
        for (int i = 0; i < d; i++) names[i] = String.format("f%05d", i);
        List<Example<Label>> train = new ArrayList<>();
        for (float[] x : trainPos) train.add(example("pos", names, x));
        for (float[] x : trainNeg) train.add(example("neg", names, x));
        var provenance = new SimpleDataSourceProvenance("persona activations", OffsetDateTime.parse("2026-01-01T00:00:00Z"), LABELS);
        MutableDataset<Label> ds = new MutableDataset<>(new ListDataSource<>(train, LABELS, provenance));
        Model<Label> model = new LogisticRegressionTrainer().train(ds);
        DenseMatrix w = ((LinearSGDModel) model).getWeightsCopy();
        int pos = model.getOutputIDInfo().getID(new Label("pos"));
        int neg = model.getOutputIDInfo().getID(new Label("neg"));
        float[] dir = new float[d];
        for (int i = 0; i < d; i++) {
            int f = model.getFeatureIDMap().getID(names[i]);
            if (f >= 0) dir[i] = (float) (w.get(pos, f) - w.get(neg, f));
        }
        double[] sp = scores(model, names, testPos), sn = scores(model, names, testNeg);
        int correct = 0;
        for (double s : sp) if (s >= 0.5) correct++;
        for (double s : sn) if (s < 0.5) correct++;
        return new Probe(dir, (double) correct / (sp.length + sn.length), Stats.auroc(sp, sn));
    }

    private static double[] scores(Model<Label> model, String[] names, List<float[]> xs) {
        double[] out = new double[xs.size()];
        for (int i = 0; i < out.length; i++) {
            Prediction<Label> p = model.predict(example("neg", names, xs.get(i)));
            out[i] = p.getOutputScores().get("pos").getScore();
        }
        return out;
    }

    private static ArrayExample<Label> example(String label, String[] names, float[] x) {
        double[] v = new double[x.length];
        for (int i = 0; i < x.length; i++) v[i] = x[i];
        return new ArrayExample<>(new Label(label), names, v);
    }
}
