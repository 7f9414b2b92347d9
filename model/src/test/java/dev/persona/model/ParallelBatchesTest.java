package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Batches side by side: results in batch order, failures, the same tokens as one at a time, captures per thread. */
class ParallelBatchesTest {
    @Test
    void resultsComeBackInBatchOrderOnTheCallingThread() throws Exception {
        Thread caller = Thread.currentThread();
        Set<String> workers = ConcurrentHashMap.newKeySet();
        List<Integer> seen = new ArrayList<>();
        ParallelBatches.run(9, 3, b -> {
            workers.add(Thread.currentThread().getName());
            // later batches finish first
            Thread.sleep(5L * (9 - b));
            return b * b;
        }, (b, r) -> {
            assertEquals(caller, Thread.currentThread());
            assertEquals(b * b, r);
            seen.add(b);
        });
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8), seen);
        assertTrue(workers.size() > 1, "ran on " + workers);
    }

    @Test
    void aFailingBatchStopsTheRunAfterTheBatchesBeforeIt() {
        List<Integer> seen = new ArrayList<>();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ParallelBatches.run(6, 2, b -> {
            if (b == 3) throw new IllegalArgumentException("batch 3 is bad");
            return b;
        }, (b, r) -> seen.add(b)));
        assertEquals("batch 3 is bad", e.getMessage());
        assertEquals(List.of(0, 1, 2), seen);
    }

    @Test
    void batchesSideBySideSampleWhatTheySampleOneAtATime() throws Exception {
        try (HookedTransformer m = RuntimeBehaviourTest.load("qwen2")) {
            List<List<int[]>> batches = List.of(
                    List.of(RuntimeBehaviourTest.PROMPT_A, RuntimeBehaviourTest.PROMPT_B),
                    List.of(RuntimeBehaviourTest.PROMPT_C),
                    List.of(RuntimeBehaviourTest.PROMPT_B, RuntimeBehaviourTest.PROMPT_C, RuntimeBehaviourTest.PROMPT_A),
                    List.of(RuntimeBehaviourTest.PROMPT_A));
            List<List<int[]>> alone = new ArrayList<>(), together = new ArrayList<>();
            for (int threads : new int[] {1, 2}) {
                List<List<int[]>> into = threads == 1 ? alone : together;
                ParallelBatches.run(batches.size(), threads,
                        b -> new Generator(m).generate(batches.get(b), new GenerationOptions(10, 1.0, 1.0, 0, 100 + b, Set.of())),
                        (b, r) -> into.add(r));
            }
            for (int b = 0; b < batches.size(); b++) {
                for (int i = 0; i < batches.get(b).size(); i++) assertArrayEquals(alone.get(b).get(i), together.get(b).get(i), "batch " + b + " row " + i);
            }
        }
    }

    @Test
    void aCaptureRecordsOnlyThePassesOfTheThreadThatOpenedIt() throws Exception {
        try (HookedTransformer m = RuntimeBehaviourTest.load("qwen2")) {
            String hook = HookPoint.residPost(0);
            CountDownLatch other = new CountDownLatch(1);
            Thread busy = new Thread(() -> {
                // passes of another length on another thread, while the capture is open
                for (int i = 0; i < 20; i++) m.forward(RuntimeBehaviourTest.PROMPT_C);
                other.countDown();
            });
            try (ActivationCache c = m.capture(List.of(hook))) {
                busy.start();
                for (int i = 0; i < 5; i++) m.forward(RuntimeBehaviourTest.PROMPT_A);
                assertTrue(other.await(60, TimeUnit.SECONDS));
                assertEquals(5, c.passes(hook).size(), "this thread's passes only");
                for (FloatTensor t : c.passes(hook)) assertEquals(RuntimeBehaviourTest.PROMPT_A.length, t.dim(1));
            }
        }
    }
}
