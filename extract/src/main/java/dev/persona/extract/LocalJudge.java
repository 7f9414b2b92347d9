package dev.persona.extract;

import ai.djl.Device;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.FloatTensor;
import dev.persona.model.Precision;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;

/**
 * A judge run by a local chat model through Persona's own runtime: the rubric is sent as a user turn,
 * and the model's next-token distribution after the generation prompt is scored with the same rule as
 * {@link OpenAiJudge} (top 20 tokens, integers 0..100, mass of at least 0.25).
 */
public final class LocalJudge implements Judge, AutoCloseable {
    private final ChatModel model;
    private final Path dir;

    public LocalJudge(Path dir) {
        this(dir, Precision.F32);
    }

    /** A judge whose model computes in {@code precision} (the run's --dtype). */
    public LocalJudge(Path dir, Precision precision) {
        this.dir = dir;
        this.model = ChatModel.load(dir, Device.cpu(), precision);
    }

    @Override
    public String name() {
        // the precision changes the scores, so it is part of the judge's identity in run journals
        return "local:" + dir + (model.model().precision() == Precision.F32 ? "" : " (" + model.model().precision() + ")");
    }

    @Override
    public OptionalDouble traitScore(JudgeRequest request) {
        return score(request.rubric().replace("{question}", request.question()).replace("{answer}", request.answer()));
    }

    @Override
    public OptionalDouble coherence(JudgeRequest request) {
        return score(OpenAiJudge.COHERENCE_RUBRIC.replace("{question}", request.question()).replace("{answer}", request.answer()));
    }

    /** The score of one filled rubric. */
    public OptionalDouble score(String prompt) {
        int[] ids = model.encode(List.of(ChatMessage.user(prompt)), true);
        FloatTensor logits = model.model().forward(ids);
        float[] last = logits.row(0, ids.length - 1);
        double max = Double.NEGATIVE_INFINITY;
        for (float f : last) max = Math.max(max, f);
        double sum = 0;
        for (float f : last) sum += Math.exp(f - max);
        double logZ = max + Math.log(sum);
        Integer[] order = new Integer[last.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(last[b], last[a]));
        List<String> tokens = new ArrayList<>();
        List<Double> logprobs = new ArrayList<>();
        for (int i = 0; i < Math.min(20, order.length); i++) {
            tokens.add(model.tokenizer().decode(new int[] {order[i]}, false));
            logprobs.add(last[order[i]] - logZ);
        }
        return OpenAiJudge.weightedScore(tokens, logprobs);
    }

    @Override
    public void close() {
        model.close();
    }
}
