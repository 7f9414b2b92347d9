package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real trained weights against llama2.c's independent C forward pass (goldens in ../shared/fixtures/stories260k). */
class Stories260kTest {
    static HookedTransformer model;
    static JsonNode goldens;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.shared("stories260k");
        model = HookedTransformer.load(dir, Fixtures.device());
        goldens = new ObjectMapper().readTree(dir.resolve("goldens.json").toFile());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    static int[] ids(JsonNode n) {
        int[] r = new int[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asInt();
        return r;
    }

    @Test
    void logitsAtEveryPositionMatchReference() {
        double worst = 0;
        for (JsonNode seq : goldens.get("sequences")) {
            int[] ids = ids(seq.get("input_ids"));
            FloatTensor logits = model.forward(ids);
            int t = ids.length;
            double maxDiff = 0;
            if (seq.has("logits")) {
                for (int p = 0; p < t; p++) {
                    JsonNode row = seq.get("logits").get(p);
                    for (int v = 0; v < 512; v++) maxDiff = Math.max(maxDiff, Math.abs(logits.get(0, p, v) - row.get(v).asDouble()));
                }
            }
            JsonNode last = seq.get("logits_last");
            for (int v = 0; v < 512; v++) maxDiff = Math.max(maxDiff, Math.abs(logits.get(0, t - 1, v) - last.get(v).asDouble()));
            System.out.printf("stories260k len %d: max |logit diff| = %.3g%n", t, maxDiff);
            worst = Math.max(worst, maxDiff);
            assertTrue(maxDiff < 5e-4, "len " + t + ": max abs logit diff " + maxDiff + " >= 5e-4");
        }
        System.out.printf("stories260k worst max |logit diff| = %.3g%n", worst);
    }

    @Test
    void finalNormHiddenStateMatchesReference() {
        for (JsonNode seq : goldens.get("sequences")) {
            int[] ids = ids(seq.get("input_ids"));
            try (ActivationCache cache = model.capture(HookPoint.FINAL_NORM)) {
                model.forward(ids);
                float[] h = cache.get(HookPoint.FINAL_NORM).row(0, ids.length - 1);
                double maxDiff = 0;
                for (int i = 0; i < 64; i++) maxDiff = Math.max(maxDiff, Math.abs(h[i] - seq.get("hidden_final_norm").get(i).asDouble()));
                assertTrue(maxDiff < 5e-4, "len " + ids.length + ": final norm max diff " + maxDiff);
            }
        }
    }

    @Test
    void greedyContinuationsMatchIdForId() {
        for (JsonNode g : goldens.get("greedy")) {
            int[] prompt = ids(g.get("prompt_ids"));
            int[] expected = ids(g.get("generated_ids"));
            GenerationOptions opts = GenerationOptions.greedy(expected.length).withStopIds(java.util.Set.of());
            int[] got = new Generator(model).generate(java.util.List.of(prompt), opts).get(0);
            assertArrayEquals(expected, got, "greedy continuation of a " + prompt.length + "-token prompt");
        }
    }
}
