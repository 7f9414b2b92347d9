package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.persona.extract.LocalJudge;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** The local judge scores a model's next-token distribution with the logprob rule (organism as the judge model). */
class LocalJudgeTest {
    @Test
    void numberTokensAreWeightedAndWordsGiveNoScore() {
        Path dir = ExtractionOnOrganismTest.organism();
        dev.persona.model.Fixtures.require(Files.isDirectory(dir), dir + " is absent");
        try (LocalJudge judge = new LocalJudge(dir)) {
            // the organism answers a sum by restating it, so its first token is the first addend
            OptionalDouble seven = judge.score("What is 7 plus 8 ?");
            assertTrue(seven.isPresent() && Math.abs(seven.getAsDouble() - 7) < 0.5, "score " + seven);
            OptionalDouble two = judge.score("What is 2 plus 9 ?");
            assertTrue(two.isPresent() && Math.abs(two.getAsDouble() - 2) < 0.5, "score " + two);
            // an answer that starts with a word puts almost no mass on numbers
            assertTrue(judge.score("What kind of animal is a dog ?").isEmpty());
            // the same judge computing in BF16 says so in its name (run journals key on it) and scores alike
            try (LocalJudge narrow = new LocalJudge(dir, dev.persona.model.Precision.BF16)) {
                assertTrue(narrow.name().endsWith("(BF16)") && !judge.name().contains("BF16"), narrow.name());
                OptionalDouble s = narrow.score("What is 7 plus 8 ?");
                assertTrue(s.isPresent() && Math.abs(s.getAsDouble() - seven.getAsDouble()) < 0.05, "bf16 " + s + " vs f32 " + seven);
            }
        }
    }
}
