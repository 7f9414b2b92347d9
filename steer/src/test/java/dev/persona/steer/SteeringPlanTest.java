package dev.persona.steer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.persona.model.ActivationCache;
import dev.persona.model.FloatTensor;
import dev.persona.model.GenerationOptions;
import dev.persona.model.Generator;
import dev.persona.model.HookPoint;
import dev.persona.model.HookedTransformer;
import dev.persona.model.PersonaException;
import dev.persona.model.PositionMask;
import dev.persona.vectors.Stats;
import dev.persona.vectors.TraitVector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Metamorphic checks of steering on a tiny model: coefficient 0 and v - v change nothing; ablation removes the direction. */
class SteeringPlanTest {
    static Path family(String name) {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        Path d = p.resolve("testdata/families/" + name);
        dev.persona.model.Fixtures.require(Files.isDirectory(d), d + " is absent");
        return d;
    }

    static TraitVector randomVector(int rows, int d, long seed) {
        Random r = new Random(seed);
        float[][] a = new float[rows][d];
        for (float[] row : a) for (int i = 0; i < d; i++) row[i] = (float) r.nextGaussian();
        Map<String, float[][]> m = new LinkedHashMap<>();
        m.put("response_avg", a);
        return new TraitVector(m, new LinkedHashMap<>(Map.of("trait", "random")));
    }

    static final List<int[]> PROMPTS = List.of(new int[] {1, 17, 33, 5, 60}, new int[] {1, 8, 23});

    @Test
    void zeroCoefficientAndCancelledVectorGiveTheUnsteeredTextExactly() throws Exception {
        try (HookedTransformer m = HookedTransformer.load(family("llama3-untied"))) {
            GenerationOptions greedy = GenerationOptions.greedy(12).withStopIds(Set.of());
            List<int[]> base = new Generator(m).generate(PROMPTS, greedy);
            TraitVector v = randomVector(m.config().numLayers() + 1, m.config().dModel(), 1);
            TraitVector cancelled = v.plus(v, -1);
            for (SteeringPlan plan : List.of(
                    new SteeringPlan().add(new SteeringPlan.Steer(v, "response_avg", 2, 0.0, false, PositionMask.ALL)),
                    new SteeringPlan().add(new SteeringPlan.Steer(cancelled, "response_avg", 2, 8.0, false, PositionMask.ALL)))) {
                try (AutoCloseable h = plan.apply(m)) {
                    List<int[]> out = new Generator(m).generate(PROMPTS, greedy);
                    for (int i = 0; i < base.size(); i++) assertArrayEquals(base.get(i), out.get(i));
                }
            }
            // a real steer changes the text, and closing it restores the unsteered text
            SteeringPlan strong = new SteeringPlan().add(new SteeringPlan.Steer(v, "response_avg", 2, 30.0, false, PositionMask.ALL));
            try (AutoCloseable h = strong.apply(m)) {
                List<int[]> out = new Generator(m).generate(PROMPTS, greedy);
                assertTrue(!java.util.Arrays.equals(base.get(0), out.get(0)) || !java.util.Arrays.equals(base.get(1), out.get(1)));
            }
            List<int[]> after = new Generator(m).generate(PROMPTS, greedy);
            for (int i = 0; i < base.size(); i++) assertArrayEquals(base.get(i), after.get(i));
        }
    }

    @Test
    void ablationDrivesTheProjectionAtTheSteeredLayerToZero() throws Exception {
        try (HookedTransformer m = HookedTransformer.load(family("qwen3"))) {
            TraitVector v = randomVector(m.config().numLayers() + 1, m.config().dModel(), 2);
            int layer = 2;
            SteeringPlan plan = new SteeringPlan().add(new SteeringPlan.Steer(v, "response_avg", layer, 0, true, PositionMask.ALL));
            String hook = HookPoint.residPost(layer - 1);
            try (AutoCloseable h = plan.apply(m); ActivationCache c = m.capture(hook)) {
                new Generator(m).generate(PROMPTS, GenerationOptions.greedy(6).withStopIds(Set.of()));
                FloatTensor x = c.get(hook);
                for (int b = 0; b < 2; b++) {
                    for (int p = PROMPTS.get(0).length - PROMPTS.get(b).length; p < x.dim(1); p++) {
                        float[] row = x.row(b, p);
                        assertTrue(Math.abs(Stats.projection(row, v.layer(layer))) < 1e-4 * Math.max(1, Stats.norm(row)),
                                "projection at row " + b + " position " + p);
                    }
                }
            }
        }
    }

    @Test
    void mismatchedVectorsAreRefused() {
        try (HookedTransformer m = HookedTransformer.load(family("qwen2"))) {
            TraitVector wrongWidth = randomVector(m.config().numLayers() + 1, m.config().dModel() + 1, 3);
            PersonaException e = assertThrows(PersonaException.class, () ->
                    new SteeringPlan().add(new SteeringPlan.Steer(wrongWidth, "response_avg", 1, 1, false, PositionMask.ALL)).check(m, "fp", true));
            assertTrue(e.getMessage().contains("d_model"), e.getMessage());
            TraitVector other = randomVector(m.config().numLayers() + 1, m.config().dModel(), 4);
            other.metadata().put("model_fingerprint", "aaaa");
            SteeringPlan plan = new SteeringPlan().add(new SteeringPlan.Steer(other, "response_avg", 1, 1, false, PositionMask.ALL));
            e = assertThrows(PersonaException.class, () -> plan.check(m, "bbbb", false));
            assertTrue(e.getMessage().contains("fingerprint") && e.fix().contains("--force"), e.getMessage());
            plan.check(m, "bbbb", true);
        }
    }

    @Test
    void aFailedApplyLeavesNoInterventionBehindAndZeroRowsAreRefusedByName() throws Exception {
        try (HookedTransformer m = HookedTransformer.load(family("llama3-untied"))) {
            FloatTensor before = m.forward(PROMPTS.get(0));
            TraitVector v = randomVector(m.config().numLayers() + 1, m.config().dModel(), 3);
            // the first steer registers, the second names a block the model does not have
            SteeringPlan bad = new SteeringPlan().add(new SteeringPlan.Steer(v, "response_avg", 1, 50.0, false, PositionMask.ALL))
                    .add(new SteeringPlan.Steer(v, "response_avg", m.config().numLayers() + 5, 1.0, false, PositionMask.ALL));
            assertThrows(PersonaException.class, () -> bad.apply(m));
            assertArrayEquals(before.data(), m.forward(PROMPTS.get(0)).data(), 0f, "the first steer was removed again");
            float[][] rows = new float[m.config().numLayers() + 1][m.config().dModel()];
            TraitVector zero = new TraitVector(Map.of("response_avg", rows), Map.of("trait", "empty"));
            PersonaException e = assertThrows(PersonaException.class,
                    () -> new SteeringPlan().add(new SteeringPlan.Steer(zero, "response_avg", 1, 1.0, true, PositionMask.ALL)).apply(m));
            assertTrue(e.getMessage().contains("all-zero response_avg row 1"), e.getMessage());
            assertArrayEquals(before.data(), m.forward(PROMPTS.get(0)).data(), 0f);
        }
    }
}
