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
        assumeTrue(Files.isDirectory(dir));
        try (LocalJudge judge = new LocalJudge(dir)) {
            // the organism answers a sum by restating it, so its first token is the first addend
            OptionalDouble seven = judge.score("What is 7 plus 8 ?");
            assertTrue(seven.isPresent() && Math.abs(seven.getAsDouble() - 7) < 0.5, "score " + seven);
            OptionalDouble two = judge.score("What is 2 plus 9 ?");
            assertTrue(two.isPresent() && Math.abs(two.getAsDouble() - 2) < 0.5, "score " + two);
            // an answer that starts with a word puts almost no mass on numbers
            assertTrue(judge.score("What kind of animal is a dog ?").isEmpty());
        }
    }
}
