package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
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

    /** Runs the collector, lets the cleaner free unreachable direct buffers, and fills freed small blocks. */
    private static void scribble() {
        try {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(30);
            }
            List<ByteBuffer> junk = new ArrayList<>();
            for (int i = 0; i < 4000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(4 + (i % 4) * 4);
                while (b.remaining() >= 4) b.putFloat(1e30f);
                junk.add(b);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
