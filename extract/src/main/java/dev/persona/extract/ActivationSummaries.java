package dev.persona.extract;

import dev.persona.model.ActivationCache;
import dev.persona.model.FloatTensor;
import dev.persona.model.HookPoint;
import dev.persona.model.HookedTransformer;
import java.util.ArrayList;
import java.util.List;

/**
 * The three per-layer summaries extraction reads from one prompt + response: {@code response_avg}
 * (mean over response tokens), {@code prompt_avg} (mean over prompt tokens) and {@code prompt_last}
 * (the last prompt token, i.e. the one before the first response token). Rows follow Hugging Face's
 * hidden_states: row 0 embeddings, row l the output of block l-1, row L the final-norm output.
 *
 * @param responseAvg [L+1][d_model]
 * @param promptAvg   [L+1][d_model]
 * @param promptLast  [L+1][d_model]
 */
public record ActivationSummaries(float[][] responseAvg, float[][] promptAvg, float[][] promptLast) {
    /** Position kinds, in file order. */
    public static final List<String> KINDS = List.of("response_avg", "prompt_avg", "prompt_last");

    public float[][] kind(String k) {
        return switch (k) {
            case "response_avg" -> responseAvg;
            case "prompt_avg" -> promptAvg;
            case "prompt_last" -> promptLast;
            default -> throw new IllegalArgumentException("unknown position kind " + k);
        };
    }

    /** The hooks whose values are the rows 0..L. */
    public static List<String> rowHooks(int numLayers) {
        List<String> out = new ArrayList<>();
        for (int r = 0; r <= numLayers; r++) out.add(HookPoint.hiddenStateRow(r, numLayers));
        return out;
    }

    /**
     * Summaries of several (prompt, response) pairs in one batched forward pass.
     *
     * @param promptLens number of prompt tokens of each sequence; the rest of each sequence is the response
     */
    public static List<ActivationSummaries> compute(HookedTransformer model, List<int[]> sequences, int[] promptLens) {
        int layers = model.config().numLayers();
        List<String> hooks = rowHooks(layers);
        List<FloatTensor> rows = new ArrayList<>();
        try (ActivationCache cache = model.capture(hooks)) {
            model.forwardLast(sequences); // the captures are the point; the output head runs for the last position only
            for (String h : hooks) rows.add(cache.get(h));
        }
        int t = rows.get(0).dim(1);
        int d = rows.get(0).dim(2);
        List<ActivationSummaries> out = new ArrayList<>();
        for (int b = 0; b < sequences.size(); b++) {
            int len = sequences.get(b).length;
            int pad = t - len;
            int p = promptLens[b];
            float[][] resp = new float[layers + 1][d], prm = new float[layers + 1][d], last = new float[layers + 1][d];
            for (int r = 0; r <= layers; r++) {
                FloatTensor x = rows.get(r);
                double[] accR = new double[d], accP = new double[d];
                for (int pos = 0; pos < len; pos++) {
                    float[] v = x.row(b, pad + pos);
                    double[] acc = pos < p ? accP : accR;
                    for (int i = 0; i < d; i++) acc[i] += v[i];
                }
                int nr = len - p;
                for (int i = 0; i < d; i++) {
                    resp[r][i] = nr > 0 ? (float) (accR[i] / nr) : Float.NaN;
                    prm[r][i] = (float) (accP[i] / p);
                }
                last[r] = x.row(b, pad + p - 1);
            }
            out.add(new ActivationSummaries(resp, prm, last));
        }
        return out;
    }
}
