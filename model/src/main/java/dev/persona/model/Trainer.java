package dev.persona.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.ParameterTracker;
import java.util.List;
import java.util.Map;

/**
 * Next-token training of a {@link HookedTransformer} loaded as trainable: the same forward pass
 * (hooks and interventions included, which is what preventative steering needs) under DJL's
 * GradientCollector, a masked cross-entropy loss, global-norm gradient clipping and AdamW with
 * decoupled weight decay and a linear-warmup cosine learning-rate schedule.
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

    private final HookedTransformer model;
    private final Optimizer optimizer;
    private final Options options;
    private int step;

    public Trainer(HookedTransformer model, Options options) {
        this(model, options, 0);
    }

    /** A trainer whose schedule starts at update {@code startStep} (resuming a run). */
    public Trainer(HookedTransformer model, Options options, int startStep) {
        this.model = model;
        this.options = options;
        this.step = startStep;
        ParameterTracker schedule = (id, n) -> (float) rate(n + startStep);
        this.optimizer = Optimizer.adamW().optLearningRateTracker(schedule).optWeightDecays((float) options.weightDecay()).build();
    }

    /** The learning rate at optimizer update {@code n} (0-based). */
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
            // a non-finite loss or gradient would poison every weight in the update: stop before it, loudly
            if (!Double.isFinite(lossValue) || !Double.isFinite(norm)) {
                throw new PersonaException("training step " + (step + 1) + " produced a non-finite " + (Double.isFinite(lossValue) ? "gradient (norm " + norm + ")" : "loss (" + lossValue + ")")
                        + "; the weights were not updated", "lower the learning rate or check the data; a finetune resumes from its last checkpoint");
            }
            float scale = options.clipNorm() > 0 && norm > options.clipNorm() ? (float) (options.clipNorm() / (norm + 1e-6)) : 1f;
            i = 0;
            for (Map.Entry<String, NDArray> e : weights.entrySet()) {
                NDArray g = scale == 1f ? grads[i] : grads[i].mul(scale);
                optimizer.update(e.getKey(), e.getValue(), g);
                // PyTorch accumulates gradients; clear them in place for the next step
                grads[i].subi(grads[i]);
                i++;
            }
        }
        step++;
        return lossValue;
    }
}
