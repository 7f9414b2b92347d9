package dev.persona.vectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * Pearson r and its Fisher 95% interval against scipy.stats.pearsonr(...).confidence_interval(0.95),
 * AUROC against sklearn.metrics.roc_auc_score, on samples with and without ties
 * (tools/make_training_goldens.py).
 */
class StatsGoldenTest {
    @Test
    void pearsonIntervalAndAurocMatchScipyAndSklearn() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(Fixtures.project("testdata").resolve("stats_goldens.json").toFile()).get("cases");
        for (JsonNode c : cases) {
            double[] x = doubles(c.get("x")), y = doubles(c.get("y"));
            double r = Stats.pearson(x, y);
            double[] ci = Stats.pearsonInterval(r, x.length);
            String label = "n = " + x.length;
            assertEquals(c.get("pearson_r").asDouble(), r, 1e-12, label);
            assertEquals(c.get("ci95_low").asDouble(), ci[0], 1e-12, label);
            assertEquals(c.get("ci95_high").asDouble(), ci[1], 1e-12, label);
            assertEquals(c.get("auroc").asDouble(), Stats.auroc(doubles(c.get("positives")), doubles(c.get("negatives"))), 1e-12, label);
        }
        assertEquals(4, cases.size());
    }

    private static double[] doubles(JsonNode a) {
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) d[i] = a.get(i).asDouble();
        return d;
    }
}
