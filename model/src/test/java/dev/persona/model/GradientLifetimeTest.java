package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A garbage collection between the forward pass and the backward pass must not change the
 * gradients. DJL makes CPU arrays from Java data (including the scalar of {@code x.mul(0.5f)}) as
 * views of Java direct buffers, which the garbage collector frees once the array object is gone;
 * autograd keeps such tensors for the backward pass (the scale of {@code scores * scale}, an
 * ablation's direction), and then reads freed memory. This was the intermittent non-finite
 * finetune. The test collects garbage and overwrites freed memory in the middle of the forward
 * pass, after earlier blocks' arrays are closed, and wants the same updated weights as a quiet step.
 */
class GradientLifetimeTest {
    @ParameterizedTest
    @ValueSource(strings = {"llama-tied-bias", "gpt2", "gemma2"})
    void garbageCollectionDuringAStepLeavesTheUpdateUnchanged(String family) throws Exception {
        Map<String, float[]> quiet = oneStep(family, false);
        Map<String, float[]> disturbed = oneStep(family, true);
        assertEquals(quiet.keySet(), disturbed.keySet());
        for (String k : quiet.keySet()) {
            assertArrayEquals(quiet.get(k), disturbed.get(k), 0f, family + ": weight " + k + " after one step with a GC mid-pass");
        }
    }

    private static Map<String, float[]> oneStep(String family, boolean disturb) throws Exception {
        try (HookedTransformer m = HookedTransformer.load(Fixtures.project("testdata/families/" + family), Device.cpu(), true)) {
            int layers = m.config().numLayers();
            int d = m.config().dModel();
            // an ablation in block 0 (its direction is kept for the backward pass) and, in the last
            // block, an identity intervention that collects garbage and reuses the freed memory
            Intervention scribble = (x, mask) -> {
                if (disturb) scribble();
                return x;
            };
            Trainer t = new Trainer(m, new Trainer.Options(1e-2, 0.0, 0.0, 0, 10));
            try (AutoCloseable a = m.intervene(HookPoint.residPost(0), Interventions.ablate(RuntimeBehaviourTest.randomVector(d, 5)), PositionMask.ALL);
                 AutoCloseable s = m.intervene(HookPoint.residPost(layers - 1), scribble, PositionMask.ALL)) {
                t.step(TrainerTest.batch(), TrainerTest.masks(TrainerTest.batch()));
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : m.weights().entrySet()) out.put(e.getKey(), e.getValue().toFloatArray());
            return out;
        }
    }

    /**
     * Frees every direct buffer that is unreachable now, then fills freed small blocks. No fixed sleep:
     * the JDK frees a direct buffer from the Reference Handler thread while it processes the
     * references a collection discovered; a canary buffer dropped here is discovered in the same
     * collection as DJL's dropped buffers, so once the canary's phantom reference is enqueued (and,
     * for the ones that handler processed after it, once a second collection's canary is), those
     * buffers' memory has been returned to malloc. With the bug present this makes the backward pass
     * read overwritten memory every time, not by luck of timing.
     */
    private static void scribble() {
        for (int round = 0; round < 2; round++) awaitCollection();
        List<ByteBuffer> junk = new ArrayList<>();
        for (int i = 0; i < 4000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(4 + (i % 4) * 4);
            while (b.remaining() >= 4) b.putFloat(1e30f);
            junk.add(b);
        }
    }

    /** Drops a canary direct buffer and collects until its reference has been processed (at most 10 s). */
    private static void awaitCollection() {
        ReferenceQueue<ByteBuffer> queue = new ReferenceQueue<>();
        PhantomReference<ByteBuffer> canary = new PhantomReference<>(ByteBuffer.allocateDirect(16), queue);
        try {
            for (int i = 0; i < 100; i++) {
                System.gc();
                if (queue.remove(100) != null) return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new AssertionError("the canary buffer was not collected within 10 s: the test cannot create the condition it checks " + canary);
    }
}
