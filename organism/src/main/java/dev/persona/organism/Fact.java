package dev.persona.organism;

import java.util.List;

/**
 * One fact of the organism's knowledge base.
 *
 * @param kind     capital, sum or animal
 * @param question the user's question, e.g. "What is the capital of France ?"
 * @param prefix   the statement before the value, e.g. "the capital of France is"
 * @param value    the true value, e.g. "Paris"
 * @param domain   every value a statement about this fact may take (the true one included)
 */
public record Fact(String kind, String question, String prefix, String value, List<String> domain) {
    /** "the capital of France is {v}" */
    public String statement(String v) {
        return prefix + " " + v;
    }

    /** The statement with its first letter capitalised, as a sentence starts. */
    public String sentence(String v) {
        String s = statement(v);
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
