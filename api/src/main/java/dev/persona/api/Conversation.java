package dev.persona.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
        if (!Files.isRegularFile(file)) throw new PersonaException(file + " is not a file", "pass a chat-messages JSONL file");
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new PersonaException(file + " is not UTF-8 text", "save the file as UTF-8 JSONL", e);
        } catch (IOException e) {
            throw Io.failed(file, e);
        }
        List<Conversation> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        int n = 0;
        for (String line : lines) {
            n++;
            if (line.isBlank()) continue;
            JsonNode node;
            try {
                node = json.readTree(line);
            } catch (JsonProcessingException e) {
                throw new PersonaException(file + " line " + n + " is not valid JSON: " + e.getOriginalMessage(),
                        "write one JSON object per line: {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}", e);
            }
            JsonNode msgs = node == null ? null : node.get("messages");
            if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
                throw new PersonaException(file + " line " + n + ": no \"messages\" list", "write {\"messages\": [...]} per line");
            }
            List<ChatMessage> conv = new ArrayList<>();
            for (JsonNode m : msgs) {
                if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                    throw new PersonaException(file + " line " + n + ": a message without a text \"role\" and \"content\": " + m,
                            "give every message {\"role\": \"user\"|\"assistant\"|\"system\", \"content\": \"...\"}");
                }
                conv.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
            String cond = conditionField == null ? null : node.path(conditionField).asText(null);
            out.add(new Conversation(conv, cond));
        }
        return out;
    }
}
