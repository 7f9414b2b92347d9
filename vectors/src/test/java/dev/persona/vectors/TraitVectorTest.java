package dev.persona.vectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Vector files round-trip with their metadata; arithmetic and statistics behave as documented. */
class TraitVectorTest {
    @TempDir
    Path tmp;

    static TraitVector vector(float scale) {
        Map<String, float[][]> d = new LinkedHashMap<>();
        d.put("response_avg", new float[][] {{1 * scale, 0, 0}, {0, 2 * scale, 0}, {3 * scale, 4 * scale, 0}});
        d.put("prompt_last", new float[][] {{0, 0, 1}, {0, 1, 0}, {1, 0, 0}});
        return new TraitVector(d, new LinkedHashMap<>(Map.of("trait", "t", "model_fingerprint", "abc")));
    }

    @Test
    void saveLoadRoundTripKeepsValuesAndMetadata() throws Exception {
        Path f = tmp.resolve("t.safetensors");
        vector(1).save(f);
        TraitVector back = TraitVector.load(f);
        assertEquals(TraitVector.FORMAT, back.metadata().get("format"));
        assertEquals("abc", back.metadata().get("model_fingerprint"));
        for (String k : new String[] {"response_avg", "prompt_last"}) {
            for (int l = 0; l < 3; l++) assertArrayEquals(vector(1).layer(k, l), back.layer(k, l));
        }
    }

    @Test
    void arithmeticNormalizationAndCosine() {
        TraitVector v = vector(1);
        TraitVector zero = v.plus(v, -1);
        for (int l = 0; l < 3; l++) assertArrayEquals(new float[3], zero.layer(l));
        assertArrayEquals(new float[] {0.6f, 0.8f, 0f}, v.normalized().layer(2), 1e-6f);
        assertArrayEquals(new float[] {6, 8, 0}, v.scaled(2).layer(2));
        assertEquals(1.0, v.cosine(vector(5), "response_avg", 2), 1e-9);
        assertEquals(0.0, v.cosine(vector(1), "prompt_last", 0) - 1.0, 1e-9);
        PersonaException e = assertThrows(PersonaException.class, () -> v.layer(7));
        assertTrue(e.getMessage().contains("outside"));
    }

    @Test
    void statistics() {
        assertEquals(1.0, Stats.auroc(new double[] {3, 4}, new double[] {1, 2}));
        assertEquals(0.5, Stats.auroc(new double[] {1, 2}, new double[] {1, 2}));
        assertEquals(1.0, Stats.pearson(new double[] {1, 2, 3}, new double[] {2, 4, 6}), 1e-12);
        double[] ci = Stats.pearsonInterval(0.8, 30);
        assertTrue(ci[0] < 0.8 && 0.8 < ci[1] && ci[0] > 0.5, java.util.Arrays.toString(ci));
        assertEquals(2.0, Stats.projection(new float[] {2, 0}, new float[] {5, 0}), 1e-12);
    }
}
