package dev.persona.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One turn of a conversation, as chat templates and the chat-messages JSONL format see it.
 *
 * @param role    system, user, assistant (or tool)
 * @param content the text
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || role.isBlank()) throw new IllegalArgumentException("a message needs a role");
        if (content == null) content = "";
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    /** A single-turn prompt: an optional system message (null for none), then the user message. */
    public static java.util.List<ChatMessage> prompt(String system, String user) {
        java.util.List<ChatMessage> out = new java.util.ArrayList<>();
        if (system != null) out.add(system(system));
        out.add(user(user));
        return out;
    }

    /** The {"role", "content"} map a chat template reads. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
