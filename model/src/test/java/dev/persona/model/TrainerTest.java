package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The differentiable forward pass, AdamW and saving back to a Hugging Face directory. */
class TrainerTest {
    @TempDir
    Path tmp;

    static List<int[]> batch() {
        return List.of(new int[] {1, 5, 9, 13, 17, 21, 25, 29}, new int[] {1, 40, 41, 42, 43}, new int[] {1, 7, 7, 7, 7, 7, 7});
    }

    static List<boolean[]> masks(List<int[]> seqs) {
        List<boolean[]> out = new ArrayList<>();
        for (int[] s : seqs) {
            boolean[] m = new boolean[s.length];
            for (int i = 2; i < s.length; i++) m[i] = true;
            out.add(m);
        }
        return out;
    }

    @Test
    void adamwStepsLowerTheLossAndAreReproducible() {
        double[] first = run();
        double[] second = run();
        assertArrayEquals(first, second, "same data, same steps, same losses");
        assertTrue(first[first.length - 1] < first[0] * 0.5, "loss went from " + first[0] + " to " + first[first.length - 1]);
    }

    private double[] run() {
        try (HookedTransformer m = HookedTransformer.load(Fixtures.project("testdata/families/llama-tied-bias"), Device.cpu(), true)) {
            Trainer t = new Trainer(m, new Trainer.Options(3e-3, 0.01, 1.0, 2, 20));
            double[] losses = new double[20];
            for (int i = 0; i < losses.length; i++) losses[i] = t.step(batch(), masks(batch()));
            assertEquals(20, t.steps());
            return losses;
        }
    }

    @Test
    void saveThenLoadGivesIdenticalLogits() throws Exception {
        Path out = tmp.resolve("trained");
        float[] before;
        try (HookedTransformer m = HookedTransformer.load(Fixtures.project("testdata/families/qwen3"), Device.cpu(), true)) {
            Trainer t = new Trainer(m, new Trainer.Options(1e-3, 0.0, 1.0, 1, 3));
            for (int i = 0; i < 3; i++) t.step(batch(), masks(batch()));
            before = m.forward(batch().get(0)).data();
            m.save(out);
        }
        // loaded the same way (trainable: x . W^T kernels) the saved weights give bit-identical logits ...
        try (HookedTransformer loaded = HookedTransformer.load(out, Device.cpu(), true)) {
            assertArrayEquals(before, loaded.forward(batch().get(0)).data());
        }
        // ... and for inference (W . x^T kernels on few rows) the same up to float rounding order
        try (HookedTransformer loaded = HookedTransformer.load(out)) {
            assertArrayEquals(before, loaded.forward(batch().get(0)).data(), 1e-5f);
        }
        try (HookedTransformer original = HookedTransformer.load(Fixtures.project("testdata/families/qwen3"))) {
            float[] orig = original.forward(batch().get(0)).data();
            assertTrue(orig[0] != before[0] || orig[1] != before[1], "training changed the weights");
        }
    }

    @org.junit.jupiter.api.Test
    void gemmaNormWeightsSaveAsTheirCheckpointStoresThem() throws Exception {
        // Gemma's norms run as (1 + w); save must write w back, or a reload would add the 1 twice
        Path src = Fixtures.project("testdata/families/gemma2"), out = tmp.resolve("gemma2-copy");
        int[] ids = {1, 17, 33, 5, 60, 42, 9};
        try (HookedTransformer m = HookedTransformer.load(src)) {
            float[] before = m.forward(ids).data();
            m.save(out);
            try (HookedTransformer back = HookedTransformer.load(out)) {
                assertArrayEquals(before, back.forward(ids).data());
            }
        }
        try (var a = dev.persona.model.io.Checkpoint.open(src); var b = dev.persona.model.io.Checkpoint.open(out)) {
            String n = "model.layers.0.post_feedforward_layernorm.weight";
            // held as float32 1 + w, so w comes back to within float32's step at 1.0 (2^-23 = 1.2e-7), not bit for bit
            assertArrayEquals(a.floats(n), b.floats(n), 1.2e-7f);
        }
    }

    @Test
    void stepsInAThreadDjlDidNotStartGiveTheSameLosses() throws Exception {
        // libtorch's grad mode is per thread and on by default in new threads (a notebook's or a server's):
        // the in-place weight update must not depend on the thread it runs in
        double[] main = run();
        double[][] other = new double[1][];
        Throwable[] error = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                other[0] = run();
            } catch (Throwable e) {
                error[0] = e;
            }
        });
        t.start();
        t.join();
        if (error[0] != null) throw new AssertionError("training in another thread failed: " + error[0], error[0]);
        assertArrayEquals(main, other[0]);
    }
}
