package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Continuous batching: rows that join and leave a running batch generate what they generate alone. */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class ContinuousBatcherTest {
    static final int[][] PROMPTS = {
        {1, 17, 33, 5, 60, 42, 9}, {1, 70, 11}, {1, 8, 8, 23, 51, 90, 14, 77, 3, 29}, {1, 5}, {1, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55}, {1, 2, 3, 4},
    };
    static final int[] MAX_NEW = {12, 5, 9, 14, 3, 11};

    /** Collects one row's output. */
    static class Collect implements ContinuousBatcher.Listener {
        final List<Integer> streamed = new ArrayList<>();
        final CompletableFuture<ContinuousBatcher.Finish> done = new CompletableFuture<>();

        @Override
        public void token(ContinuousBatcher.Token t) {
            streamed.add(t.id());
        }

        @Override
        public void finished(ContinuousBatcher.Finish f) {
            done.complete(f);
        }

        @Override
        public void failed(RuntimeException e) {
            done.completeExceptionally(e);
        }

        ContinuousBatcher.Finish get() {
            try {
                return done.get(120, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
    }

    static ContinuousBatcher.Request request(int[] prompt, GenerationOptions o, List<HookIntervention> steers,
                                             List<ContinuousBatcher.Probe> probes, ContinuousBatcher.Listener l) {
        return new ContinuousBatcher.Request(prompt, o, 0, steers, probes, -1, l);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gpt2", "llama3-untied", "gemma2", "gemma3-text"})
    void rowsJoiningAndLeavingGenerateWhatTheyGenerateAlone(String family) {
        try (HookedTransformer m = RuntimeBehaviourTest.load(family)) {
            joinAndLeave(m, family);
        }
    }

    /** The same through the decoding kernel, whose passes over the shifting cache take the Java blocks ({@link KernelPass}). */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "llama3-untied"})
    void rowsJoiningAndLeavingGenerateWhatTheyGenerateAloneThroughTheKernel(String family) throws Exception {
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> RuntimeBehaviourTest.load(family))) {
            joinAndLeave(m, family + " on the kernel");
            assertTrue(m.kernelPasses > 0, "passes through the Java blocks");
        }
    }

    private static void joinAndLeave(HookedTransformer m, String family) {
        List<int[]> alone = new ArrayList<>();
        for (int i = 0; i < PROMPTS.length; i++) {
            alone.add(new Generator(m).generate(List.of(PROMPTS[i]), GenerationOptions.greedy(MAX_NEW[i]).withStopIds(Set.of())).get(0));
        }
        // 3 rows and 26 columns: later prompts wait for a row, longer newcomers shift the others right, a full cache shifts left
        try (ContinuousBatcher b = new ContinuousBatcher(m, 3, 26, 16)) {
            List<Collect> got = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                Collect c = new Collect();
                got.add(c);
                b.submit(request(PROMPTS[i], GenerationOptions.greedy(MAX_NEW[i]).withStopIds(Set.of()), List.of(), List.of(), c));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                ContinuousBatcher.Finish f = got.get(i).get();
                assertArrayEquals(alone.get(i), f.tokens(), family + " prompt " + i);
                assertEquals("length", f.reason());
                assertEquals(f.tokens().length, got.get(i).streamed.size());
            }
            assertTrue(b.steps() < java.util.Arrays.stream(MAX_NEW).sum(), "rows shared steps: " + b.steps());
        }
    }

    @Test
    void eachRowHasItsOwnSteeringAndTheOthersAreUntouched() throws Exception {
        try (HookedTransformer m = RuntimeBehaviourTest.load("qwen3")) {
            ownSteering(m);
        }
    }

    /** The same through the decoding kernel: each row's interventions come back into the Java blocks' residual stream. */
    @Test
    void eachRowHasItsOwnSteeringThroughTheKernel() throws Exception {
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> RuntimeBehaviourTest.load("qwen3"))) {
            ownSteering(m);
            assertTrue(m.kernelPasses > 0, "passes through the Java blocks");
        }
    }

    private static void ownSteering(HookedTransformer m) throws Exception {
        int d = m.config().dModel();
        float[] v = RuntimeBehaviourTest.randomVector(d, 3);
        float[] w = RuntimeBehaviourTest.randomVector(d, 4);
        GenerationOptions o = GenerationOptions.greedy(10).withStopIds(Set.of());
        int[] plain = new Generator(m).generate(List.of(PROMPTS[0]), o).get(0);
        int[] steeredV;
        try (AutoCloseable h = m.intervene(HookPoint.residPost(0), Interventions.add(v, 8), PositionMask.RESPONSE)) {
            steeredV = new Generator(m).generate(List.of(PROMPTS[0]), o).get(0);
        }
        int[] ablatedW;
        try (AutoCloseable h = m.intervene(HookPoint.residPost(1), Interventions.ablate(w), PositionMask.ALL)) {
            ablatedW = new Generator(m).generate(List.of(PROMPTS[0]), o).get(0);
        }
        assertNotEquals(List.of(plain), List.of(steeredV));
        try (ContinuousBatcher b = new ContinuousBatcher(m, 4, 64, 8)) {
            Collect a = new Collect(), s = new Collect(), x = new Collect();
            b.submit(request(PROMPTS[0], o, List.of(), List.of(), a));
            b.submit(request(PROMPTS[0], o, List.of(new HookIntervention(HookPoint.residPost(0), Interventions.add(v, 8), PositionMask.RESPONSE)),
                    List.of(), s));
            b.submit(request(PROMPTS[0], o, List.of(new HookIntervention(HookPoint.residPost(1), Interventions.ablate(w), PositionMask.ALL)),
                    List.of(), x));
            assertArrayEquals(plain, a.get().tokens());
            assertArrayEquals(steeredV, s.get().tokens());
            assertArrayEquals(ablatedW, x.get().tokens());
        }
    }

    @Test
    void probesEqualAForwardPassOverPromptAndReply() {
        try (HookedTransformer m = RuntimeBehaviourTest.load("llama3-untied")) {
            int d = m.config().dModel();
            float[] u = Interventions.unit(RuntimeBehaviourTest.randomVector(d, 9));
            String hook = HookPoint.residPost(1);
            try (ContinuousBatcher b = new ContinuousBatcher(m, 2, 64, 8)) {
                Collect c = new Collect();
                b.submit(request(PROMPTS[2], GenerationOptions.greedy(7).withStopIds(Set.of()), List.of(),
                        List.of(new ContinuousBatcher.Probe("t", hook, u)), c));
                ContinuousBatcher.Finish f = c.get();
                assertEquals(7, f.tokens().length);
                int[] seq = java.util.Arrays.copyOf(PROMPTS[2], PROMPTS[2].length + 7);
                System.arraycopy(f.tokens(), 0, seq, PROMPTS[2].length, 7);
                FloatTensor h;
                try (ActivationCache cap = m.capture(hook)) {
                    m.forward(seq);
                    h = cap.get(hook);
                }
                double last = dot(h.row(0, PROMPTS[2].length - 1), u);
                double avg = 0;
                for (int p = PROMPTS[2].length; p < seq.length; p++) avg += dot(h.row(0, p), u) / 7;
                assertEquals(last, f.promptLast().get("t"), 1e-4);
                assertEquals(avg, f.responseAverage().get("t"), 1e-4);
            }
        }
    }

    @Test
    void cancelledRowsLeaveTheQueueIsBoundedAndNothingLeaks() throws Exception {
        try (HookedTransformer m = RuntimeBehaviourTest.load("llama3-untied")) {
            m.forward(PROMPTS[0]);
            int before = m.manager().getManagedArrays().size();
            try (ContinuousBatcher b = new ContinuousBatcher(m, 1, 250, 2)) {
                int withCache = m.manager().getManagedArrays().size();
                CountDownLatch first = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                // this listener holds the engine thread at its first token, so the queue cannot drain meanwhile
                Collect held = new Collect() {
                    @Override
                    public void token(ContinuousBatcher.Token t) {
                        super.token(t);
                        first.countDown();
                        try {
                            release.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                };
                ContinuousBatcher.Handle h = b.submit(request(PROMPTS[1], GenerationOptions.greedy(240).withStopIds(Set.of()), List.of(), List.of(), held));
                assertTrue(first.await(60, TimeUnit.SECONDS));
                List<Collect> waiting = new ArrayList<>();
                List<ContinuousBatcher.Handle> handles = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    Collect c = new Collect();
                    waiting.add(c);
                    handles.add(b.submit(request(PROMPTS[i], GenerationOptions.greedy(200).withStopIds(Set.of()), List.of(), List.of(), c)));
                }
                assertEquals(2, b.queueDepth());
                assertThrows(ContinuousBatcher.QueueFullException.class,
                        () -> b.submit(request(PROMPTS[0], GenerationOptions.greedy(3), List.of(), List.of(), new Collect())));
                h.cancel();
                handles.get(0).cancel();
                release.countDown();
                ContinuousBatcher.Finish f = held.get();
                assertEquals("cancelled", f.reason());
                assertTrue(f.tokens().length < 240, "cancelled after " + f.tokens().length + " tokens");
                assertEquals("cancelled", waiting.get(0).get().reason());
                // the last one is served in full once the others have left
                assertEquals(200, waiting.get(1).get().tokens().length);
                assertEquals(0, b.activeRows());
                assertEquals(withCache, m.manager().getManagedArrays().size(), "live native arrays after the rows left");
            }
            assertEquals(before, m.manager().getManagedArrays().size(), "live native arrays after close");
        }
    }

    @Test
    void tokenLogprobsListTheTopAlternativesInOrder() {
        java.util.Random r = new java.util.Random(5);
        float[] logits = new float[3 + 500];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.floor(r.nextGaussian() * 8);  // many ties
        ContinuousBatcher.Token t = ContinuousBatcher.tokenInfo(7, logits, 3, 500, 20);
        Integer[] order = new Integer[500];
        for (int i = 0; i < 500; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> logits[3 + b] != logits[3 + a] ? Float.compare(logits[3 + b], logits[3 + a]) : Integer.compare(a, b));
        for (int k = 0; k < 20; k++) assertEquals(order[k], t.topIds()[k], "alternative " + k);
        double z = 0;
        for (int i = 0; i < 500; i++) z += Math.exp(logits[3 + i]);
        assertEquals(logits[3 + 7] - Math.log(z), t.logprob(), 1e-4);
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }
}
