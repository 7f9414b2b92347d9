package dev.persona.vectors;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** PCA (ND4J) and the logistic probe (Tribuo) recover a planted direction. */
class PcaProbeTest {
    static float[] planted(int d) {
        float[] u = new float[d];
        Random r = new Random(1);
        for (int i = 0; i < d; i++) u[i] = (float) r.nextGaussian();
        double n = Stats.norm(u);
        for (int i = 0; i < d; i++) u[i] /= (float) n;
        return u;
    }

    static List<float[]> cloud(int n, int d, float[] u, double along, double noise, long seed) {
        Random r = new Random(seed);
        List<float[]> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            float[] x = new float[d];
            double a = along + r.nextGaussian();
            for (int i = 0; i < d; i++) x[i] = (float) (a * u[i] + noise * r.nextGaussian());
            out.add(x);
        }
        return out;
    }

    @Test
    void firstComponentFindsThePlantedDirection() {
        float[] u = planted(24);
        List<float[]> rows = cloud(200, 24, u, 0, 0.1, 2); // variance along u is 1, elsewhere 0.01
        float[] pc = Pca.firstComponent(rows, true, u);
        assertTrue(Stats.cosine(pc, u) > 0.99, "cosine " + Stats.cosine(pc, u));
        float[] flipped = Pca.firstComponent(rows, true, scale(u, -1));
        assertTrue(Stats.cosine(flipped, u) < -0.99, "orientation follows the hint");
    }

    @Test
    void probeSeparatesAndPointsAlongTheDirection() {
        float[] u = planted(16);
        Probe p = Probe.fit(cloud(100, 16, u, 2, 0.5, 3), cloud(100, 16, u, -2, 0.5, 4), cloud(50, 16, u, 2, 0.5, 5), cloud(50, 16, u, -2, 0.5, 6));
        assertTrue(p.accuracy() > 0.95, "held-out accuracy " + p.accuracy());
        assertTrue(p.auroc() > 0.98, "held-out AUROC " + p.auroc());
        assertTrue(Stats.cosine(p.direction(), u) > 0.8, "probe direction cosine " + Stats.cosine(p.direction(), u));
    }

    static float[] scale(float[] v, float c) {
        float[] o = new float[v.length];
        for (int i = 0; i < v.length; i++) o[i] = v[i] * c;
        return o;
    }
}
