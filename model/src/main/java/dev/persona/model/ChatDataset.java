package dev.persona.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads chat-messages JSONL ({@code {"messages": [{"role": .., "content": ..}, ...]}} per line), as TRL writes it. */
public final class ChatDataset {
    private ChatDataset() { }

    /** Every conversation of {@code file}; a malformed line is an error naming the file, line and problem. */
    public static List<List<ChatMessage>> read(Path file) {
        return lines(file).stream().map(Line::messages).toList();
    }

    /** One non-blank line: its number, its text as written, its conversation and the whole JSON object (for fields beside "messages"). */
    public record Line(int number, String text, List<ChatMessage> messages, JsonNode object) { }

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One line of chat-messages JSONL, checked: a JSON object with a non-empty "messages" list of
     * {role, content} strings. A malformed line is a {@link PersonaException} whose message starts
     * with {@code where} (e.g. "data.jsonl line 7").
     */
    public static Line parse(String line, int number, String where) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (IOException e) {
            throw new PersonaException(where + ": not valid JSON (" + e.getMessage().split("\n")[0] + ")",
                    "each line must be one JSON object {\"messages\": [...]}");
        }
        JsonNode msgs = node == null ? null : node.get("messages");
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw new PersonaException(where + ": no \"messages\" list", "write {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, ...]}");
        }
        List<ChatMessage> conv = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            JsonNode m = msgs.get(i);
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw new PersonaException(where + ": message " + i + " lacks a string role or content", "give every message \"role\" and \"content\" strings");
            }
            conv.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return new Line(number, line, conv, node);
    }

    /** Every non-blank line of {@code file}, checked as {@link #read} checks them. */
    public static List<Line> lines(Path file) {
        List<Line> out = new ArrayList<>();
        if (!Files.isRegularFile(file)) {
            throw new PersonaException("dataset " + file + " does not exist", "pass a chat-messages JSONL file");
        }
        try (BufferedReader r = Files.newBufferedReader(file)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                out.add(parse(line, n, file + " line " + n));
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new PersonaException(file + " is not UTF-8 text", "save the file as UTF-8 JSONL", e);
        } catch (IOException e) {
            throw new PersonaException("cannot read " + file + ": " + e.getMessage(), "check the file", e);
        }
        return out;
    }
}
