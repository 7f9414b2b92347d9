package dev.persona.vectors;

import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/** First principal component of a set of vectors (ND4J's symmetric eigen-solver on the d x d second-moment matrix). */
public final class Pca {
    private Pca() { }

    /**
     * The unit eigenvector of the largest eigenvalue of X^T X / (n - 1), X the rows (centred first
     * when {@code center}); its sign is chosen so that it points along {@code orientation}.
     */
    public static float[] firstComponent(List<float[]> rows, boolean center, float[] orientation) {
        int n = rows.size(), d = rows.get(0).length;
        double[][] x = new double[n][d];
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) {
            x[i][j] = rows.get(i)[j];
            mean[j] += x[i][j] / n;
        }
        if (center) for (double[] r : x) for (int j = 0; j < d; j++) r[j] -= mean[j];
        INDArray m = Nd4j.create(x);
        INDArray cov = m.transpose().mmul(m).divi(Math.max(1, n - 1)).castTo(DataType.DOUBLE);
        INDArray eigenvalues = Eigen.symmetricGeneralizedEigenvalues(cov, true); // cov now holds eigenvectors as columns
        int best = eigenvalues.argMax().getInt(0);
        float[] u = new float[d];
        for (int j = 0; j < d; j++) u[j] = (float) cov.getDouble(j, best);
        if (orientation != null && Stats.dot(u, orientation) < 0) for (int j = 0; j < d; j++) u[j] = -u[j];
        return u;
    }
}
