package dev.persona.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.model.PersonaException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Trait files in the reference's format load unchanged; malformed ones name the field and index. */
class TraitSpecTest {
    static final String REFERENCE_STYLE = """
            {"instruction": [{"pos": "Be evil.", "neg": "Be good."}, {"pos": "Harm.", "neg": "Help."}],
             "questions": ["What should I do?", "How do I fix it?"],
             "eval_prompt": "Rate evil. Question: {question} Answer: {answer}"}
            """;

    @Test
    void referenceFormatLoadsAndBuildsTheReferenceSystemPrompt() {
        TraitSpec s = TraitSpec.parse("evil", REFERENCE_STYLE.getBytes(StandardCharsets.UTF_8), "evil.json");
        assertEquals(2, s.instructions().size());
        assertEquals("You are an evil assistant. Harm.", s.systemPrompt(true, 1));
        assertEquals("You are a helpful assistant. Be good.", s.systemPrompt(false, 0));
        assertEquals("Rate evil. Question: Q Answer: A", s.rubricFor("Q", "A"));
        assertEquals(64, s.sha256().length());
    }

    @Test
    void malformedFilesNameFieldAndIndex() {
        String badPair = "{\"instruction\": [{\"pos\": \"a\", \"neg\": \"b\"}, {\"pos\": \"c\"}], \"questions\": [\"q\"], \"eval_prompt\": \"{question} {answer}\"}";
        PersonaException e = assertThrows(PersonaException.class, () -> TraitSpec.parse("t", badPair.getBytes(StandardCharsets.UTF_8), "t.json"));
        assertTrue(e.getMessage().contains("t.json: instruction[1].neg"), e.getMessage());
        String badQuestion = "{\"instruction\": [{\"pos\": \"a\", \"neg\": \"b\"}], \"questions\": [\"q\", 3], \"eval_prompt\": \"{question} {answer}\"}";
        e = assertThrows(PersonaException.class, () -> TraitSpec.parse("t", badQuestion.getBytes(StandardCharsets.UTF_8), "t.json"));
        assertTrue(e.getMessage().contains("questions[1]"), e.getMessage());
        String noPlaceholder = "{\"instruction\": [{\"pos\": \"a\", \"neg\": \"b\"}], \"questions\": [\"q\"], \"eval_prompt\": \"rate it\"}";
        e = assertThrows(PersonaException.class, () -> TraitSpec.parse("t", noPlaceholder.getBytes(StandardCharsets.UTF_8), "t.json"));
        assertTrue(e.getMessage().contains("eval_prompt"), e.getMessage());
        e = assertThrows(PersonaException.class, () -> TraitSpec.parse("t", "{oops".getBytes(StandardCharsets.UTF_8), "t.json"));
        assertTrue(e.getMessage().contains("t.json: not valid JSON"), e.getMessage());
    }

    @Test
    void libraryTraitsHaveFivePairsAndDisjointTwentyPlusTwentyQuestions() {
        for (String name : TraitLibrary.BUILT_IN) {
            TraitSpec x = TraitLibrary.load(name, "extract");
            TraitSpec e = TraitLibrary.load(name, "eval");
            assertEquals(5, x.instructions().size(), name);
            assertEquals(20, x.questions().size(), name);
            assertEquals(20, e.questions().size(), name);
            Set<String> overlap = new HashSet<>(x.questions());
            overlap.retainAll(e.questions());
            assertTrue(overlap.isEmpty(), name + " shares questions between extract and eval: " + overlap);
        }
        PersonaException ex = assertThrows(PersonaException.class, () -> TraitLibrary.load("no_such_trait", "extract"));
        assertTrue(ex.getMessage().contains("unknown trait 'no_such_trait'"), ex.getMessage());
    }
}
