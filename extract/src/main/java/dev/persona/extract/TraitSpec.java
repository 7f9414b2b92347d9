package dev.persona.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A trait as the reference's trait files describe it: five (pos, neg) system-prompt instructions,
 * questions, and an eval prompt (rubric) with {question} and {answer} placeholders. Files in that
 * format load unchanged; Persona's own library adds an optional {@code assistant_name}.
 *
 * @param name          trait name (file name without .json)
 * @param instructions  contrasting instruction pairs
 * @param questions     user questions
 * @param evalPrompt    judge rubric
 * @param assistantName the name used in pos system prompts ("You are a/an {name} assistant."); the reference uses the trait name
 * @param source        where it was read from
 * @param sha256        SHA-256 of the file's bytes
 */
public record TraitSpec(String name, List<InstructionPair> instructions, List<String> questions, String evalPrompt,
                        String assistantName, String source, String sha256) {

    /** One contrasting pair of instructions. */
    public record InstructionPair(String pos, String neg) { }

    /** The reference's system prompt: "You are a/an {name} assistant. {instruction}", name = assistant name (pos) or "helpful" (neg). */
    public String systemPrompt(boolean positive, int pair) {
        String n = positive ? assistantName : "helpful";
        String article = "aeiou".indexOf(Character.toLowerCase(n.charAt(0))) >= 0 ? "an" : "a";
        InstructionPair p = instructions.get(pair);
        return "You are " + article + " " + n + " assistant. " + (positive ? p.pos() : p.neg());
    }

    /** Parses a trait file's bytes; errors name the source, the field and the index. */
    public static TraitSpec parse(String name, byte[] bytes, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(bytes);
        } catch (IOException e) {
            throw new PersonaException(source + ": not valid JSON (" + e.getMessage().split("\n")[0] + ")", "fix the trait file");
        }
        if (root == null || !root.isObject()) throw new PersonaException(source + ": expected a JSON object", "see docs/DESIGN.md for the trait file format");
        JsonNode ins = root.get("instruction");
        if (ins == null || !ins.isArray() || ins.isEmpty()) {
            throw new PersonaException(source + ": field 'instruction' must be a non-empty list of {\"pos\", \"neg\"} objects", "add the instruction pairs");
        }
        List<InstructionPair> pairs = new ArrayList<>();
        for (int i = 0; i < ins.size(); i++) {
            JsonNode p = ins.get(i);
            for (String k : new String[] {"pos", "neg"}) {
                if (!p.path(k).isTextual() || p.get(k).asText().isBlank()) {
                    throw new PersonaException(source + ": instruction[" + i + "]." + k + " is missing or not a non-empty string", "give every pair a pos and a neg text");
                }
            }
            pairs.add(new InstructionPair(p.get("pos").asText(), p.get("neg").asText()));
        }
        JsonNode qs = root.get("questions");
        if (qs == null || !qs.isArray() || qs.isEmpty()) {
            throw new PersonaException(source + ": field 'questions' must be a non-empty list of strings", "add the questions");
        }
        List<String> questions = new ArrayList<>();
        for (int i = 0; i < qs.size(); i++) {
            if (!qs.get(i).isTextual() || qs.get(i).asText().isBlank()) {
                throw new PersonaException(source + ": questions[" + i + "] is not a non-empty string", "fix that question");
            }
            questions.add(qs.get(i).asText());
        }
        JsonNode ep = root.get("eval_prompt");
        if (ep == null || !ep.isTextual()) throw new PersonaException(source + ": field 'eval_prompt' is missing or not a string", "add the judge rubric");
        String eval = ep.asText();
        if (!eval.contains("{question}") || !eval.contains("{answer}")) {
            throw new PersonaException(source + ": eval_prompt lacks the {question} or {answer} placeholder", "write both placeholders into the rubric");
        }
        String assistant = root.path("assistant_name").asText(name);
        return new TraitSpec(name, List.copyOf(pairs), List.copyOf(questions), eval, assistant, source, sha256(bytes));
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The rubric with the question and answer filled in. */
    public String rubricFor(String question, String answer) {
        return evalPrompt.replace("{question}", question).replace("{answer}", answer);
    }
}
