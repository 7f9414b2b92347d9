package dev.persona.extract;

import dev.persona.model.ChatMessage;
import java.util.List;

/**
 * One contrastive generation: question q under instruction pair k, sample s, with the pos or neg system prompt.
 *
 * @param index    position in the run's fixed order (batches are fixed slices of it)
 * @param question question index
 * @param pair     instruction pair index
 * @param sample   sample index within (question, pair)
 * @param positive pos (trait-promoting) or neg system prompt
 * @param system   the system prompt text
 * @param user     the question text
 */
public record Sample(int index, int question, int pair, int sample, boolean positive, String system, String user) {
    /** A stable key, e.g. {@code q3-k1-s7-pos}. */
    public String key() {
        return "q" + question + "-k" + pair + "-s" + sample + (positive ? "-pos" : "-neg");
    }

    /** The key of the opposite-polarity twin. */
    public String pairKey() {
        return "q" + question + "-k" + pair + "-s" + sample;
    }

    public List<ChatMessage> prompt() {
        return List.of(ChatMessage.system(system), ChatMessage.user(user));
    }
}
