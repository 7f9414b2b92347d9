package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Generation, hooks, interventions and memory on the tiny family models of testdata/families. */
class RuntimeBehaviourTest {
    static HookedTransformer load(String family) {
        return HookedTransformer.load(Fixtures.project("testdata/families/" + family), Fixtures.device());
    }

    static final int[] PROMPT_A = {1, 17, 33, 5, 60, 42, 9};
    static final int[] PROMPT_B = {1, 70, 11};
    static final int[] PROMPT_C = {1, 8, 8, 23, 51, 90, 14, 77, 3, 29};

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gpt2", "llama3-untied", "gemma2", "gemma3-text"})
    void kvCacheGenerationEqualsFullRecomputation(String family) {
        try (HookedTransformer m = load(family)) {
            int[] gen = new Generator(m).generate(List.of(PROMPT_A), GenerationOptions.greedy(12).withStopIds(Set.of())).get(0);
            assertEquals(12, gen.length);
            int[] seq = PROMPT_A.clone();
            for (int g : gen) {
                FloatTensor logits = m.forward(seq);
                float[] last = logits.row(0, seq.length - 1);
                assertEquals(Sampler.argmax(last, 0, last.length), g, "recomputed argmax after " + seq.length + " tokens");
                seq = java.util.Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = g;
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "gpt2", "gemma2", "llama3-untied"})
    void rowsSharingAPromptShareItsPrefillAndGenerateAsIfAlone(String family) {
        try (HookedTransformer m = load(family)) {
            List<int[]> prompts = List.of(PROMPT_A, PROMPT_B, PROMPT_A, PROMPT_A, PROMPT_C, PROMPT_B);
            for (GenerationOptions o : List.of(GenerationOptions.greedy(9).withStopIds(Set.of()),
                    new GenerationOptions(9, 1.0, 1.0, 0, 17, Set.of()))) {
                Generator g = new Generator(m);
                List<int[]> shared = g.generate(prompts, o);
                assertEquals(3, g.lastPrefillRows, "one prefill row per distinct prompt");
                // a registered capture makes the prefill run every row as given
                List<int[]> each;
                try (ActivationCache c = m.capture(List.of(HookPoint.residPost(0)))) {
                    each = g.generate(prompts, o);
                    assertEquals(6, g.lastPrefillRows);
                    assertEquals(prompts.size(), c.get(HookPoint.residPost(0)).dim(0), "the capture sees every row of the prefill");
                }
                for (int i = 0; i < prompts.size(); i++) assertArrayEquals(each.get(i), shared.get(i), family + " row " + i + " " + o);
                // sampled rows of one prompt draw from their own streams
                if (o.temperature() > 0) assertNotEquals(java.util.Arrays.toString(shared.get(0)), java.util.Arrays.toString(shared.get(2)));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "gpt2", "gemma2"})
    void forwardLastGivesEachSequencesLastLogitsAndTheSameCaptures(String family) {
        try (HookedTransformer m = load(family)) {
            List<int[]> seqs = List.of(PROMPT_A, PROMPT_B, PROMPT_C);
            String hook = HookPoint.residPost(1);
            float[][] last;
            FloatTensor capturedLast;
            try (ActivationCache c = m.capture(List.of(hook))) {
                last = m.forwardLast(seqs);
                capturedLast = c.get(hook);
            }
            FloatTensor full;
            FloatTensor capturedFull;
            try (ActivationCache c = m.capture(List.of(hook))) {
                full = m.forward(seqs);
                capturedFull = c.get(hook);
            }
            assertEquals(3, last.length);
            int t = PROMPT_C.length;
            for (int i = 0; i < 3; i++) {
                assertEquals(m.config().vocabSize(), last[i].length);
                // the output head of the last position only: the same numbers as the full pass's last column
                assertArrayEquals(full.row(i, t - 1), last[i], 1e-5f, "row " + i);
                float[] alone = m.forward(seqs.get(i)).row(0, seqs.get(i).length - 1);
                assertArrayEquals(alone, last[i], 1e-4f, "row " + i + " against the sequence alone");
            }
            // captures still see every position, bit for bit as in the full pass
            assertArrayEquals(capturedFull.data(), capturedLast.data());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "gpt2", "gemma2"})
    void paddedBatchEqualsEachPromptAlone(String family) {
        try (HookedTransformer m = load(family)) {
            GenerationOptions opts = GenerationOptions.greedy(10).withStopIds(Set.of());
            List<int[]> batch = new Generator(m).generate(List.of(PROMPT_A, PROMPT_B, PROMPT_C), opts);
            assertArrayEquals(new Generator(m).generate(List.of(PROMPT_A), opts).get(0), batch.get(0));
            assertArrayEquals(new Generator(m).generate(List.of(PROMPT_B), opts).get(0), batch.get(1));
            assertArrayEquals(new Generator(m).generate(List.of(PROMPT_C), opts).get(0), batch.get(2));
            // and the batched forward's logits at real positions equal the unpadded ones
            FloatTensor padded = m.forward(List.of(PROMPT_A, PROMPT_B));
            FloatTensor alone = m.forward(PROMPT_B);
            int pad = PROMPT_A.length - PROMPT_B.length;
            double max = 0;
            for (int p = 0; p < PROMPT_B.length; p++) {
                for (int v = 0; v < padded.dim(-1); v++) max = Math.max(max, Math.abs(padded.get(1, pad + p, v) - alone.get(0, p, v)));
            }
            assertTrue(max < 1e-5, "padded vs alone max diff " + max);
        }
    }

    @Test
    void sameSeedSameSamplesDifferentSeedDifferentSamples() {
        try (HookedTransformer m = load("llama-tied-bias")) {
            GenerationOptions o = new GenerationOptions(20, 1.0, 0.95, 50, 1234, Set.of());
            List<int[]> a = new Generator(m).generate(List.of(PROMPT_A, PROMPT_C), o);
            List<int[]> b = new Generator(m).generate(List.of(PROMPT_A, PROMPT_C), o);
            assertArrayEquals(a.get(0), b.get(0));
            assertArrayEquals(a.get(1), b.get(1));
            List<int[]> c = new Generator(m).generate(List.of(PROMPT_A, PROMPT_C), new GenerationOptions(20, 1.0, 0.95, 50, 99, Set.of()));
            assertNotEquals(java.util.Arrays.toString(a.get(0)) + java.util.Arrays.toString(a.get(1)),
                    java.util.Arrays.toString(c.get(0)) + java.util.Arrays.toString(c.get(1)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama-tied-bias", "llama3-untied", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3-text"})
    void everyHookExistsWithItsShapeAndResidualsChain(String family) {
        try (HookedTransformer m = load(family)) {
            ModelConfig c = m.config();
            List<String> names = m.hookPoints().stream().map(HookPoint::name).toList();
            try (ActivationCache cache = m.capture(names)) {
                m.forward(List.of(PROMPT_A, PROMPT_B));
                for (HookPoint h : m.hookPoints()) {
                    long[] shape = cache.get(h.name()).shape();
                    long[] expected = h.name().endsWith("hook_pattern")
                            ? new long[] {2, c.numHeads(), PROMPT_A.length, PROMPT_A.length}
                            : new long[] {2, PROMPT_A.length, c.dModel()};
                    assertArrayEquals(expected, shape, h.name());
                }
                for (int l = 0; l + 1 < c.numLayers(); l++) {
                    assertArrayEquals(cache.get(HookPoint.residPost(l)).data(), cache.get(HookPoint.residPre(l + 1)).data(), "layer " + l);
                }
            }
        }
    }

    @Test
    void zeroInterventionsLeaveLogitsBitIdentical() {
        try (HookedTransformer m = load("qwen3")) {
            float[] base = m.forward(PROMPT_C).data();
            float[] v = randomVector(m.config().dModel(), 3);
            float[] zero = new float[v.length];
            float[] vMinusV = new float[v.length];
            for (int i = 0; i < v.length; i++) vMinusV[i] = v[i] - v[i];
            for (Intervention iv : List.of(Interventions.add(v, 0), Interventions.add(zero, 4.0), Interventions.add(vMinusV, 4.0))) {
                try (AutoCloseable h = m.intervene(HookPoint.residPost(1), iv, PositionMask.ALL)) {
                    assertArrayEquals(base, m.forward(PROMPT_C).data());
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            // and a real vector changes them, then closing the handle restores them exactly
            try (AutoCloseable h = m.intervene(HookPoint.residPost(1), Interventions.add(v, 4.0), PositionMask.ALL)) {
                assertNotEquals(base[base.length - 1], m.forward(PROMPT_C).data()[base.length - 1]);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertArrayEquals(base, m.forward(PROMPT_C).data());
        }
    }

    @Test
    void ablationRemovesTheDirection() throws Exception {
        try (HookedTransformer m = load("mistral")) {
            float[] d = randomVector(m.config().dModel(), 5);
            float[] u = Interventions.unit(d);
            String hook = HookPoint.residPost(0);
            try (AutoCloseable h = m.intervene(hook, Interventions.ablate(d), PositionMask.ALL);
                 ActivationCache cache = m.capture(hook)) {
                m.forward(PROMPT_C);
                FloatTensor x = cache.get(hook);
                for (int p = 0; p < PROMPT_C.length; p++) {
                    float[] row = x.row(0, p);
                    double dot = 0, norm = 0;
                    for (int i = 0; i < row.length; i++) {
                        dot += row[i] * u[i];
                        norm += row[i] * row[i];
                    }
                    assertTrue(Math.abs(dot) < 1e-5 * Math.max(1, Math.sqrt(norm)), "projection " + dot + " at position " + p);
                }
            }
        }
    }

    @Test
    void positionMasksTouchExactlyTheIntendedPositionsInPrefillAndDecode() throws Exception {
        try (HookedTransformer m = load("qwen2")) {
            float[] ones = new float[m.config().dModel()];
            java.util.Arrays.fill(ones, 1f);
            String hook = HookPoint.residPost(0);
            String probe = HookPoint.residMid(0);
            List<int[]> prompts = List.of(PROMPT_A, PROMPT_B);
            GenerationOptions o = GenerationOptions.greedy(4).withStopIds(Set.of());
            for (PositionMask mask : List.of(PositionMask.ALL, PositionMask.PROMPT, PositionMask.RESPONSE, new PositionMask.Indices(1, 8))) {
                try (AutoCloseable h = m.intervene(hook, Interventions.add(ones, 1000), mask);
                     ActivationCache cache = m.capture(hook, probe)) {
                    new Generator(m).generate(prompts, o);
                    FloatTensor after = cache.get(hook);
                    FloatTensor before = cache.get(probe);
                    List<FloatTensor> passes = cache.passes(hook);
                    int prefillLen = passes.get(0).dim(1);
                    for (int b = 0; b < 2; b++) {
                        int pad = prefillLen - prompts.get(b).length;
                        for (int col = 0; col < after.dim(1); col++) {
                            boolean prefill = col < prefillLen;
                            boolean isPad = prefill && col < pad;
                            int position = prefill ? col - pad : prompts.get(b).length + (col - prefillLen);
                            boolean expected = !isPad && mask.touches(prefill, position, prefill ? col == prefillLen - 1 : true);
                            // the MLP adds far less than 1000 to a coordinate, so a jump of ~1000 marks the intervention
                            float jump = after.get(b, col, 0) - before.get(b, col, 0);
                            assertEquals(expected, jump > 500, mask + " row " + b + " col " + col + " jump " + jump);
                        }
                    }
                }
            }
        }
    }

    @Test
    void noNativeArraysLeakAcrossForwardsAndGenerations() {
        try (HookedTransformer m = load("llama3-untied")) {
            m.forward(PROMPT_A);
            int before = m.manager().getManagedArrays().size();
            for (int i = 0; i < 100; i++) m.forward(List.of(PROMPT_A, PROMPT_C));
            try (ActivationCache c = m.capture(HookPoint.residPost(1));
                 AutoCloseable h = m.intervene(HookPoint.residPost(0), Interventions.add(randomVector(48, 1), 2), PositionMask.RESPONSE)) {
                for (int i = 0; i < 5; i++) new Generator(m).generate(List.of(PROMPT_A, PROMPT_B), GenerationOptions.sample(8, 1.0, i));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertEquals(before, m.manager().getManagedArrays().size(), "live native arrays after 100 forwards and 5 generations");
            // the count sees arrays in unclosed sub-managers, so a leak would show
            try (ai.djl.ndarray.NDManager leak = m.manager().newSubManager()) {
                leak.zeros(new ai.djl.ndarray.types.Shape(3));
                assertEquals(before + 1, m.manager().getManagedArrays().size());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3-untied", "qwen2-bf16", "mistral-sharded", "gpt2"})
    void loadingLeavesNoFileMappingBehind(String family) throws Exception {
        Path maps = Path.of("/proc/self/maps");
        Fixtures.require(java.nio.file.Files.isReadable(maps), "/proc/self/maps (Linux) to see the process's file mappings");
        Path dir = Fixtures.project("testdata/families/" + family).toAbsolutePath().normalize();
        try (HookedTransformer m = load(family)) {
            // float32 tensors go from the mapping into libtorch, other dtypes through a converted copy; either way
            // the mapping is released at once rather than when the garbage collector gets to it
            List<String> left = java.nio.file.Files.readAllLines(maps).stream().filter(l -> l.contains(dir.toString())).toList();
            assertEquals(List.of(), left, "mappings of " + dir + " still open after loading");
            assertTrue(m.forward(PROMPT_A).data().length > 0);
        }
    }

    static float[] randomVector(int d, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[d];
        for (int i = 0; i < d; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
