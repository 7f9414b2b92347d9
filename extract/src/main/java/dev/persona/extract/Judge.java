package dev.persona.extract;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

/**
 * Scores a response 0..100 for a trait and for coherence, or gives no score. Implementations: the
 * organism's exact rule judge, an OpenAI-compatible chat-completions server, a local chat model.
 * Closeable: whoever opens a judge closes it (a local judge holds a whole model).
 */
public interface Judge extends AutoCloseable {
    /** How strongly {@code request.answer()} expresses {@code request.trait()}: 0 (not at all) .. 100 (fully); empty when undecidable. */
    OptionalDouble traitScore(JudgeRequest request);

    /** How coherent and on-topic the answer is, 0..100; empty when undecidable. */
    OptionalDouble coherence(JudgeRequest request);

    /**
     * {@link #traitScore} of each request, in order. A judge that runs a model (a local judge) scores
     * them in batched forward passes; the others score them one by one.
     */
    default List<OptionalDouble> traitScores(List<JudgeRequest> requests) {
        List<OptionalDouble> out = new ArrayList<>();
        for (JudgeRequest r : requests) out.add(traitScore(r));
        return out;
    }

    /** {@link #coherence} of each request, in order; batched as {@link #traitScores} is. */
    default List<OptionalDouble> coherences(List<JudgeRequest> requests) {
        List<OptionalDouble> out = new ArrayList<>();
        for (JudgeRequest r : requests) out.add(coherence(r));
        return out;
    }

    /** Requests this judge scores to advantage in one call of {@link #traitScores}: 1 unless it batches model passes. */
    default int batchSize() {
        return 1;
    }

    /** A short name for reports, e.g. {@code rule} or {@code openai:http://...}. */
    String name();

    /** Releases what the judge holds (a local judge's model); a no-op for stateless judges. Never throws. */
    @Override
    default void close() { }
}
