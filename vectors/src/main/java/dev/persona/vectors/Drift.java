package dev.persona.vectors;

import dev.persona.extract.ActivationSummaries;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
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
        double[] sum = null;
        for (int from = 0; from < prompts.size(); from += rows) {
            List<int[]> seqs = new ArrayList<>();
            List<List<ChatMessage>> batch = prompts.subList(from, Math.min(prompts.size(), from + rows));
            int[] lens = new int[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                int[] ids = model.encode(batch.get(i), true);
                seqs.add(ids);
                lens[i] = ids.length;
            }
            for (ActivationSummaries s : ActivationSummaries.compute(model.model(), seqs, lens)) {
                float[] x = s.promptLast()[layer];
                if (sum == null) sum = new double[x.length];
                for (int i = 0; i < x.length; i++) sum[i] += x[i];
            }
        }
        for (int i = 0; i < sum.length; i++) sum[i] /= prompts.size();
        return sum;
    }

    /** (checkpoint - base) . v / |v|. */
    public static double shift(double[] base, double[] checkpoint, float[] vector) {
        double n = Stats.norm(vector), dot = 0;
        for (int i = 0; i < base.length; i++) dot += (checkpoint[i] - base[i]) * vector[i];
        return n == 0 ? 0 : dot / n;
    }
}
