package dev.persona.extract;

import ai.djl.Device;
import dev.persona.model.ChatMessage;
import dev.persona.model.BatchSize;
import dev.persona.model.ChatModel;
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
    /** Rubrics per forward pass when memory allows. */
    public static final int MAX_BATCH = 16;

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
        return score(request.traitPrompt());
    }

    @Override
    public OptionalDouble coherence(JudgeRequest request) {
        return score(request.coherencePrompt());
    }

    @Override
    public int batchSize() {
        return MAX_BATCH;
    }

    @Override
    public List<OptionalDouble> traitScores(List<JudgeRequest> requests) {
        return scores(requests.stream().map(JudgeRequest::traitPrompt).toList());
    }

    @Override
    public List<OptionalDouble> coherences(List<JudgeRequest> requests) {
        return scores(requests.stream().map(JudgeRequest::coherencePrompt).toList());
    }

    /** The score of one filled rubric. */
    public OptionalDouble score(String prompt) {
        return scores(List.of(prompt)).get(0);
    }

    /**
     * Scores of several filled rubrics, {@link BatchSize chosen from memory} (at most
     * {@value #MAX_BATCH}) to a forward pass; only float rounding depends on the batch.
     */
    public List<OptionalDouble> scores(List<String> prompts) {
        List<int[]> ids = new ArrayList<>();
        for (String p : prompts) ids.add(model.encode(List.of(ChatMessage.user(p)), true));
        int longest = ids.stream().mapToInt(a -> a.length).max().orElse(1);
        int batch = BatchSize.resolve(null, model.model().config(), BatchSize.Work.LAST_LOGITS, longest, MAX_BATCH).rows();
        List<OptionalDouble> out = new ArrayList<>();
        for (int from = 0; from < ids.size(); from += batch) {
            for (float[] last : model.model().forwardLast(ids.subList(from, Math.min(ids.size(), from + batch)))) out.add(score(last));
        }
        return out;
    }

    private OptionalDouble score(float[] last) {
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
