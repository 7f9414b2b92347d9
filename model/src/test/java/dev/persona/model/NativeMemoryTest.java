package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The allocator trim is wired: the tests run with the flags `./persona` passes, so malloc_trim must be
 * callable (what it saves after a load is measured in docs/BENCHMARKS.md, not asserted here).
 */
class NativeMemoryTest {
    @Test
    void trimIsAvailableWithTheLaunchersFlags() {
        Fixtures.require(Files.exists(Path.of("/proc/self/maps")), "Linux with glibc (malloc_trim)");
        assertTrue(NativeMemory.available(), "malloc_trim through jdk.incubator.foreign: the JVM needs "
                + "--add-modules=jdk.incubator.foreign --enable-native-access=ALL-UNNAMED (surefire's argLine passes them)");
        NativeMemory.trim();
    }
}
