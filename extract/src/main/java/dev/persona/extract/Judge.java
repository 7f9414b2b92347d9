package dev.persona.extract;

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

    /** A short name for reports, e.g. {@code rule} or {@code openai:http://...}. */
    String name();

    /** Releases what the judge holds (a local judge's model); a no-op for stateless judges. Never throws. */
    @Override
    default void close() { }
}
