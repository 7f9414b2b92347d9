package dev.persona.extract;

import dev.persona.model.ChatMessage;
import java.util.List;

/**
 * What a judge sees.
 *
 * @param trait        trait name, e.g. {@code sycophancy}
 * @param conversation the prompt turns (system, user, earlier assistant turns) the answer replies to
 * @param answer       the response to score
 * @param rubric       the trait's eval prompt with {question} and {answer} placeholders (may be null for rule judges)
 */
public record JudgeRequest(String trait, List<ChatMessage> conversation, String answer, String rubric) {
    /** The text of the last user turn: the "question" of the reference's eval prompts. */
    public String question() {
        for (int i = conversation.size() - 1; i >= 0; i--) {
            if (conversation.get(i).role().equals("user")) return conversation.get(i).content();
        }
        return "";
    }

    /** The trait rubric with this request's question and answer filled in. */
    public String traitPrompt() {
        return rubric.replace("{question}", question()).replace("{answer}", answer);
    }

    /** Persona's coherence rubric ({@link OpenAiJudge#COHERENCE_RUBRIC}) with this request's question and answer filled in. */
    public String coherencePrompt() {
        return OpenAiJudge.COHERENCE_RUBRIC.replace("{question}", question()).replace("{answer}", answer);
    }
}
