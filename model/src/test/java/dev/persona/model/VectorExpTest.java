package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** {@link VectorExp}: close to Math.exp, the edges right, and every lane the bits of the scalar steps. */
class VectorExpTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Test
    void lanesMatchTheScalarStepsBitForBitAndStayWithinTwoUlpOfMathExp() {
        Random r = new Random(11);
        int n = S.length() * 20000;
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 180 - 90);
        // the edges and the values softmax and the SiLU feed it
        float[] edges = {0f, -0f, 1f, -1f, 1e-8f, -1e-8f, 88.37f, 88.38f, 88.72f, -87.33f, -87.34f, -103f, 89f,
                Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -0.6931472f, 0.6931472f, 20.5f, -20.5f};
        System.arraycopy(edges, 0, x, 0, edges.length);
        for (int i = 0; i < n; i += S.length()) VectorExp.exp(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        int worst = 0;
        for (int i = 0; i < n; i++) {
            float scalar = VectorExp.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(scalar), Float.floatToRawIntBits(y[i]), "lane against scalar steps at x = " + x[i]);
            if (Float.isNaN(x[i])) {
                assertTrue(Float.isNaN(y[i]), "NaN in, NaN out");
            } else if (x[i] < -87.33654f) {
                assertEquals(0f, y[i], 0f, "below the smallest normal's log: 0 at " + x[i]);
            } else if (x[i] > 88.37626f) {
                assertEquals(Float.POSITIVE_INFINITY, y[i], 0f, "above 88.37: infinity at " + x[i]);
            } else {
                float want = (float) Math.exp(x[i]);
                int ulps = Math.abs(Float.floatToIntBits(want) - Float.floatToIntBits(y[i]));
                worst = Math.max(worst, ulps);
                assertTrue(ulps <= 2, "exp(" + x[i] + ") = " + y[i] + ", Math.exp " + want + ": " + ulps + " ulp");
            }
        }
        assertEquals(1f, VectorExp.exp(0f), 0f, "e^0");
        assertTrue(worst >= 0);
    }
}
