package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Passes over the cache through {@link KernelPass} (the residual stream as Java floats) give the
 * same logits, bit for bit, as the layer-by-layer kernel route ({@code -Dpersona.kernel-pass=false}),
 * for a padded prompt pass and decode steps, with no hooks and with a steering intervention, a
 * capture and a row probe; a hooked attention pattern keeps the layer-by-layer route.
 */
class KernelPassTest {
    private static final int[][] PROMPTS = {{5, 17, 3, 29, 42}, {7, 7, 1}};

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "qwen3", "llama3-untied", "llama-tied-bias", "mistral", "qwen2-bf16"})
    void javaBlocksGiveTheLayerByLayerLogitsBitForBit(String family) throws Exception {
        Path dir = Fixtures.project("testdata/families/" + family);
        try (HookedTransformer fast = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()));
             HookedTransformer layered = Fixtures.withProperties(Map.of("persona.kernel-pass", "false"),
                     () -> Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device())))) {
            int d = fast.config().dModel();
            assertRunsEqual(fast, layered, 7, family + ", no hooks");

            float[] steer = new float[d];
            for (int i = 0; i < d; i++) steer[i] = (float) Math.sin(i);
            List<float[]> probed = new ArrayList<>(), probedLayered = new ArrayList<>();
            try (AutoCloseable a = fast.intervene(HookPoint.residPost(1), Interventions.add(steer, 2.0), PositionMask.ALL);
                 AutoCloseable b = layered.intervene(HookPoint.residPost(1), Interventions.add(steer, 2.0), PositionMask.ALL);
                 ActivationCache ca = fast.capture(HookPoint.residMid(0), HookPoint.FINAL_NORM);
                 ActivationCache cb = layered.capture(HookPoint.residMid(0), HookPoint.FINAL_NORM)) {
                assertRunsEqual(fast, layered, 7, family + ", steered and captured");
                for (String hook : List.of(HookPoint.residMid(0), HookPoint.FINAL_NORM)) {
                    List<FloatTensor> got = ca.passes(hook), expected = cb.passes(hook);
                    assertEquals(expected.size(), got.size(), hook);
                    for (int p = 0; p < got.size(); p++) assertArrayEquals(expected.get(p).data(), got.get(p).data(), family + " " + hook + " pass " + p);
                }
            }
            float[] unit = Interventions.unit(steer);
            List<HookedTransformer.RowHook> probe = List.of(new HookedTransformer.RowHook(1, HookPoint.attnOut(0), null, null, unit, probed::add));
            List<HookedTransformer.RowHook> probeLayered = List.of(new HookedTransformer.RowHook(1, HookPoint.attnOut(0), null, null, unit, probedLayered::add));
            float[][] a = run(fast, 3, probe), b = run(layered, 3, probeLayered);
            for (int s = 0; s < a.length; s++) assertArrayEquals(b[s], a[s], family + ", row probe, pass " + s);
            assertEquals(probedLayered.size(), probed.size());
            for (int p = 0; p < probed.size(); p++) assertArrayEquals(probedLayered.get(p), probed.get(p), family + " probe " + p);

            int before = fast.kernelPasses;
            try (ActivationCache c = fast.capture(HookPoint.pattern(1))) {
                run(fast, 2, List.of());
                assertEquals(before, fast.kernelPasses, "a hooked attention pattern keeps the layer-by-layer route");
            }
        }
    }

    /** Same logits from both models for a prompt pass and {@code steps - 1} decode steps; only the first takes the Java blocks. */
    private static void assertRunsEqual(HookedTransformer fast, HookedTransformer layered, int steps, String what) {
        int before = fast.kernelPasses;
        float[][] a = run(fast, steps, List.of()), b = run(layered, steps, List.of());
        assertEquals(before + steps, fast.kernelPasses, what + ": every pass through the Java blocks");
        assertEquals(0, layered.kernelPasses, what + ": none with persona.kernel-pass=false");
        for (int s = 0; s < steps; s++) assertArrayEquals(b[s], a[s], what + ", pass " + s);
    }

    /** The logits of a left-padded prompt pass of {@link #PROMPTS} and the greedy decode steps after it. */
    private static float[][] run(HookedTransformer m, int steps, List<HookedTransformer.RowHook> hooks) {
        int b = PROMPTS.length, t = PROMPTS[0].length, vocab = m.config().vocabSize();
        boolean[][] keyValid = new boolean[b][t + steps];
        int[][] pos = new int[b][t];
        long[] ids = new long[b * t];
        int[] next = new int[b];
        for (int i = 0; i < b; i++) {
            int pad = t - PROMPTS[i].length;
            for (int j = pad; j < t; j++) {
                keyValid[i][j] = true;
                pos[i][j] = j - pad;
                ids[i * t + j] = PROMPTS[i][j - pad];
            }
            next[i] = PROMPTS[i].length;
        }
        float[][] logits = new float[steps][];
        try (KVCache cache = new KVCache(m.manager(), m.config(), b, t + steps)) {
            for (int s = 0; s < steps; s++) {
                try (NDManager step = m.manager().newSubManager()) {
                    if (s == 0) {
                        boolean[][] valid = new boolean[b][t];
                        for (int i = 0; i < b; i++) valid[i] = java.util.Arrays.copyOf(keyValid[i], t);
                        logits[s] = m.lastLogits(step, step.create(ids, new Shape(b, t)), new HookedTransformer.PassInfo(true, pos, valid, hooks),
                                keyValid, cache, 0, null);
                    } else {
                        long[] tokens = new long[b];
                        int[][] stepPos = new int[b][1];
                        boolean[][] stepValid = new boolean[b][1];
                        for (int i = 0; i < b; i++) {
                            tokens[i] = Sampler.argmax(logits[s - 1], i * vocab, vocab);
                            stepPos[i][0] = next[i]++;
                            stepValid[i][0] = true;
                            keyValid[i][t + s - 1] = true;
                        }
                        logits[s] = m.lastLogits(step, step.create(tokens, new Shape(b, 1)), new HookedTransformer.PassInfo(false, stepPos, stepValid, hooks),
                                keyValid, cache, t + s - 1, null);
                    }
                }
            }
        }
        return logits;
    }
}
