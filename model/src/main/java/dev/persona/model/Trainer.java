package dev.persona.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.persona.model.io.SafetensorsFile;
import dev.persona.model.io.SafetensorsWriter;
import dev.persona.model.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Next-token training of a {@link HookedTransformer} loaded as trainable: the same forward pass
 * (hooks and interventions included, which is what preventative steering needs) under DJL's
 * GradientCollector, a masked cross-entropy loss, global-norm gradient clipping and AdamW with
 * decoupled weight decay and a linear-warmup cosine learning-rate schedule.
 *
 * <p>AdamW is Persona's own, written as torch.optim.AdamW computes it (betas 0.9 / 0.999, eps 1e-8;
 * w *= 1 - lr wd; m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; w -= lr / (1 - b1^t) * m / (sqrt(v) /
 * sqrt(1 - b2^t) + eps)), so its moments can be saved with a checkpoint and a resumed run continues
 * exactly where it stopped ({@link #saveState}, {@link #loadState}); tools/make_training_goldens.py
 * checks a step against torch.
 */
public final class Trainer {
    /**
     * @param learningRate peak learning rate
     * @param weightDecay  AdamW decoupled weight decay
     * @param clipNorm     global L2 norm the gradients are clipped to (0 disables)
     * @param warmupSteps  linear warmup length in optimizer steps
     * @param totalSteps   schedule length; the rate decays by cosine to 10% of peak at this step
     */
    public record Options(double learningRate, double weightDecay, double clipNorm, int warmupSteps, int totalSteps) {
        public Options {
            if (learningRate <= 0) throw new IllegalArgumentException("learning rate must be > 0, got " + learningRate);
            if (totalSteps <= 0) throw new IllegalArgumentException("totalSteps must be > 0, got " + totalSteps);
        }
    }

    /** AdamW's constants, torch's defaults. */
    static final double BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

    private final HookedTransformer model;
    private final Options options;
    private final NDManager state;
    /** First and second moments per weight, created at the first update. */
    private final Map<String, NDArray> expAvg = new LinkedHashMap<>(), expAvgSq = new LinkedHashMap<>();
    private int step;
    private double lastGradNorm = Double.NaN;

    public Trainer(HookedTransformer model, Options options) {
        this(model, options, 0);
    }

    /** A trainer whose schedule starts at update {@code startStep} (resuming a run). */
    public Trainer(HookedTransformer model, Options options, int startStep) {
        this.model = model;
        this.options = options;
        this.step = startStep;
        this.state = model.manager().newSubManager();
    }

    /**
     * The schedule's rate at position {@code n}: linear warmup to the peak over {@code warmupSteps}, then
     * cosine decay to 10% of the peak at {@code totalSteps}. Update k (0-based) runs at {@code rate(k + 1)}.
     */
    double rate(int n) {
        double peak = options.learningRate();
        if (n < options.warmupSteps()) return peak * (n + 1) / options.warmupSteps();
        double progress = Math.min(1.0, (double) (n - options.warmupSteps()) / Math.max(1, options.totalSteps() - options.warmupSteps()));
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** Optimizer steps taken so far. */
    public int steps() {
        return step;
    }

    /** The global L2 norm of the last step's gradients, before clipping. */
    public double lastGradNorm() {
        return lastGradNorm;
    }

    /** Writes the optimizer's moments and step count (float32, exact) to {@code file}. */
    public void saveState(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().meta("step", Integer.toString(step));
        for (var e : expAvg.entrySet()) {
            w.add("exp_avg." + e.getKey(), e.getValue().toFloatArray(), e.getValue().getShape().getShape());
            w.add("exp_avg_sq." + e.getKey(), expAvgSq.get(e.getKey()).toFloatArray(), e.getValue().getShape().getShape());
        }
        w.write(file);
    }

    /** Restores moments saved by {@link #saveState}; the step count must match this trainer's start. */
    public void loadState(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            int saved = Integer.parseInt(f.metadata().getOrDefault("step", "-1"));
            if (saved != step) {
                throw new PersonaException(file + " holds the optimizer state of step " + saved + ", not of step " + step,
                        "the checkpoint folder is inconsistent; delete it to resume from the one before");
            }
            for (Map.Entry<String, NDArray> e : model.weights().entrySet()) {
                TensorInfo m = f.tensors().get("exp_avg." + e.getKey()), v = f.tensors().get("exp_avg_sq." + e.getKey());
                if (m == null || v == null) continue;
                Shape shape = e.getValue().getShape();
                expAvg.put(e.getKey(), NativeData.floats(state, f.readFloats(m), shape));
                expAvgSq.put(e.getKey(), NativeData.floats(state, f.readFloats(v), shape));
            }
        }
    }

    /**
     * One optimizer step on a batch.
     *
     * @param sequences token ids, one array per example (left-padded internally)
     * @param lossMask  per example, true at positions whose token is predicted and scored (e.g. assistant tokens);
     *                  position 0 is never scored
     * @return the mean cross-entropy (nats per scored token) before the update
     */
    public double step(List<int[]> sequences, List<boolean[]> lossMask) {
        int b = sequences.size();
        int t = sequences.stream().mapToInt(s -> s.length).max().orElse(0);
        long[] ids = new long[b * t];
        long[] targets = new long[b * t];
        float[] mask = new float[b * t];
        int[][] pos = new int[b][t];
        boolean[][] valid = new boolean[b][t];
        int scored = 0;
        for (int i = 0; i < b; i++) {
            int[] s = sequences.get(i);
            boolean[] m = lossMask.get(i);
            int pad = t - s.length;
            for (int j = 0; j < t; j++) {
                valid[i][j] = j >= pad;
                pos[i][j] = Math.max(0, j - pad);
                if (j < pad) continue;
                int k = j - pad;
                ids[i * t + j] = s[k];
                // position j predicts token k+1
                if (k + 1 < s.length && m[k + 1]) {
                    targets[i * t + j] = s[k + 1];
                    mask[i * t + j] = 1f;
                    scored++;
                }
            }
        }
        if (scored == 0) throw new IllegalArgumentException("the batch has no scored tokens");
        Map<String, NDArray> weights = model.weights();
        double lossValue;
        try (NDManager stepManager = model.manager().newSubManager()) {
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray logits = model.run(stepManager, NativeData.longs(stepManager, ids, new Shape(b, t)),
                        new HookedTransformer.PassInfo(true, pos, valid), valid, null, 0, false);
                NDArray logp = logits.logSoftmax(-1);
                NDArray picked = logp.gather(NativeData.longs(stepManager, targets, new Shape(b, t, 1)), -1).reshape(b, t);
                NDArray loss = NativeData.div(picked.mul(NativeData.floats(stepManager, mask, new Shape(b, t))).sum().neg(), (float) scored);
                gc.backward(loss);
                lossValue = loss.getFloat();
            }
            NDArray[] grads = new NDArray[weights.size()];
            double sq = 0;
            int i = 0;
            for (NDArray w : weights.values()) {
                NDArray g = w.getGradient();
                g.attach(stepManager);
                grads[i++] = g;
                sq += g.square().sum().getFloat();
            }
            double norm = Math.sqrt(sq);
            lastGradNorm = norm;
            // a non-finite loss or gradient would poison every weight in the update: stop before it, loudly
            if (!Double.isFinite(lossValue) || !Double.isFinite(norm)) {
                throw new PersonaException("training step " + (step + 1) + " produced a non-finite " + (Double.isFinite(lossValue) ? "gradient (norm " + norm + ")" : "loss (" + lossValue + ")")
                        + "; the weights were not updated", "lower the learning rate or check the data; a finetune resumes from its last checkpoint");
            }
            float scale = options.clipNorm() > 0 && norm > options.clipNorm() ? (float) (options.clipNorm() / (norm + 1e-6)) : 1f;
            // update k (0-based) runs at rate(k + 1): the schedule every recorded run used (DJL's optimizer counted
            // updates from 1), including the organism's training and the figures measured on it
            double lr = rate(step + 1);
            int update = step + 1;
            double stepSize = lr / (1 - Math.pow(BETA1, update));
            double bc2Sqrt = Math.sqrt(1 - Math.pow(BETA2, update));
            // the update writes into leaf weights: autograd must be off. libtorch's grad mode is per thread and
            // on by default in threads DJL did not start (a notebook's, a server's), so it is set here, not assumed
            boolean gradMode = ai.djl.pytorch.jni.JniUtils.isGradMode();
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
            try {
                i = 0;
                for (Map.Entry<String, NDArray> e : weights.entrySet()) {
                    NDArray g = scale == 1f ? grads[i] : grads[i].mul(scale);
                    adamW(e.getKey(), e.getValue(), g, lr, stepSize, bc2Sqrt, stepManager);
                    // PyTorch accumulates gradients; clear them in place for the next step
                    grads[i].subi(grads[i]);
                    i++;
                }
            } finally {
                ai.djl.pytorch.jni.JniUtils.setGradMode(gradMode);
            }
        }
        step++;
        return lossValue;
    }

    /** One AdamW update of weight {@code w} in place (grad mode is off outside the collector); temporaries go to {@code scratch}. */
    private void adamW(String name, NDArray w, NDArray g, double lr, double stepSize, double bc2Sqrt, NDManager scratch) {
        NDArray m = expAvg.computeIfAbsent(name, k -> state.zeros(w.getShape()));
        NDArray v = expAvgSq.computeIfAbsent(name, k -> state.zeros(w.getShape()));
        if (options.weightDecay() != 0) w.muli((float) (1 - lr * options.weightDecay()));
        // m = lerp(m, g, 1 - b1) = m + (1 - b1) (g - m)
        NDArray diff = g.sub(m);
        diff.attach(scratch);
        m.addi(diff.muli((float) (1 - BETA1)));
        NDArray gg = g.mul(g);
        gg.attach(scratch);
        v.muli((float) BETA2).addi(gg.muli((float) (1 - BETA2)));
        NDArray denom = v.sqrt();
        denom.attach(scratch);
        denom.divi((float) bc2Sqrt).addi((float) EPS);
        NDArray update = m.div(denom);
        update.attach(scratch);
        w.subi(update.muli((float) stepSize));
    }
}
