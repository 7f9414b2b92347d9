package dev.persona.api;

import java.util.List;
import java.util.Map;

/**
 * What a {@link ChatEngine} answered.
 *
 * @param choices          one per requested choice, in order
 * @param applied          the steering in effect (defaults filled in), ablations included
 * @param promptTokens     tokens of the rendered prompt
 * @param completionTokens tokens generated over all choices
 */
public record ChatReply(List<Choice> choices, List<Steering.Applied> applied, int promptTokens, int completionTokens) {
    /**
     * One choice.
     *
     * @param finishReason "stop" (end of turn or a stop string), "length" (max tokens or the context) or "cancelled"
     * @param logprobs     per generated token, when asked for
     * @param monitor      per monitored vector name, its projections
     */
    public record Choice(int index, String text, String finishReason, int tokens, List<TokenLogprob> logprobs, Map<String, Projection> monitor) { }

    /**
     * The paper's monitoring signal for one vector: projections (dot product with the unit vector, in
     * residual-stream units) of the last prompt token and of the reply's mean activation.
     *
     * @param layer           the vector row used (hidden_states[layer])
     * @param responseAverage NaN when the reply is empty
     */
    public record Projection(String vector, int layer, double promptLast, double responseAverage) { }

    /** A token's text and natural-log probability, with the most probable alternatives. */
    public record TokenLogprob(String token, double logprob, List<Alternative> top) { }

    /** An alternative token and its log-probability. */
    public record Alternative(String token, double logprob) { }
}
