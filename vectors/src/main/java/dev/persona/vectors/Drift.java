package dev.persona.vectors;

import dev.persona.extract.ActivationSummaries;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ParallelBatches;
import java.util.ArrayList;
import java.util.List;

/**
 * The finetuning shift of the paper: for a set of evaluation prompts, the mean last-prompt-token
 * activation of a checkpoint minus that of the base model, at one layer, projected onto the unit
 * trait vector. Positive means the checkpoint moved toward the trait before it says anything.
 */
public final class Drift {
    private Drift() { }

    /** Prompts per forward pass when the caller does not choose. */
    public static final int DEFAULT_BATCH = 16;

    /** Mean last-prompt-token activation at {@code layer} over {@code prompts}, length d_model, {@value #DEFAULT_BATCH} prompts per pass. */
    public static double[] meanLastPrompt(ChatModel model, List<List<ChatMessage>> prompts, int layer) {
        return meanLastPrompt(model, prompts, layer, DEFAULT_BATCH);
    }

    /** Mean last-prompt-token activation at {@code layer} over {@code prompts}, {@code rows} prompts per forward pass (float rounding depends on it). */
    public static double[] meanLastPrompt(ChatModel model, List<List<ChatMessage>> prompts, int layer, int rows) {
        double[][] sum = {null};
        int batches = (prompts.size() + rows - 1) / rows;
        try {
            // batches side by side where passes cost per operation (narrow models on the CPU); summed in batch order
            ParallelBatches.run(batches, ParallelBatches.threadsFor(model.model()), k -> {
                List<int[]> seqs = new ArrayList<>();
                List<List<ChatMessage>> batch = prompts.subList(k * rows, Math.min(prompts.size(), (k + 1) * rows));
                int[] lens = new int[batch.size()];
                for (int i = 0; i < batch.size(); i++) {
                    int[] ids = model.encode(batch.get(i), true);
                    seqs.add(ids);
                    lens[i] = ids.length;
                }
                return ActivationSummaries.compute(model.model(), seqs, lens);
            }, (k, summaries) -> {
                for (ActivationSummaries s : summaries) {
                    float[] x = s.promptLast()[layer];
                    if (sum[0] == null) sum[0] = new double[x.length];
                    for (int i = 0; i < x.length; i++) sum[0][i] += x[i];
                }
            });
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // the batches' results go to memory only: not reached
        }
        double[] mean = sum[0];
        for (int i = 0; i < mean.length; i++) mean[i] /= prompts.size();
        return mean;
    }

    /** (checkpoint - base) . v / |v|. */
    public static double shift(double[] base, double[] checkpoint, float[] vector) {
        double n = Stats.norm(vector), dot = 0;
        for (int i = 0; i < base.length; i++) dot += (checkpoint[i] - base[i]) * vector[i];
        return n == 0 ? 0 : dot / n;
    }
}
