package dev.persona.api;

import dev.persona.model.ChatMessage;
import dev.persona.model.ChatDataset;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A conversation to monitor or screen, with an optional {@code condition} label to group by. A final
 * assistant turn is its response; the turns before it are the prompt.
 */
public record Conversation(List<ChatMessage> messages, String condition) {
    public Conversation {
        messages = List.copyOf(messages);
    }

    /** A system prompt (null: none) and a user turn, without a response. */
    public static Conversation prompt(String system, String user) {
        return new Conversation(ChatMessage.prompt(system, user), null);
    }

    /** The same conversation under a condition label. */
    public Conversation condition(String label) {
        return new Conversation(messages, label);
    }

    /**
     * Chat-messages JSONL: one {@code {"messages": [{"role": ..., "content": ...}, ...]}} object per
     * line (blank lines skipped); {@code conditionField} (null: none) names the field to group by.
     */
    public static List<Conversation> readJsonl(Path file, String conditionField) {
        List<Conversation> out = new ArrayList<>();
        for (ChatDataset.Line line : ChatDataset.lines(file)) {
            out.add(new Conversation(line.messages(), conditionField == null ? null : line.object().path(conditionField).asText(null)));
        }
        return out;
    }
}
