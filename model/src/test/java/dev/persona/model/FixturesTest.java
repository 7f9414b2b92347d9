package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing fixture skips a test locally and fails it under CI. */
class FixturesTest {
    @Test
    void missingFixtureSkipsLocallyAndFailsUnderCi() {
        assertThrows(TestAbortedException.class, () -> Fixtures.require(false, "x is absent", false));
        assertThrows(AssertionFailedError.class, () -> Fixtures.require(false, "x is absent", true));
        assertDoesNotThrow(() -> Fixtures.require(true, "x is absent", true));
    }
}
