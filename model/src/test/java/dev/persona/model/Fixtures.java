package dev.persona.model;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared fixtures (../shared/fixtures from the project root) and committed testdata; when
 * one is absent, skips saying which, or under CI ({@code CI=true}) fails.
 */
public final class Fixtures {
    private Fixtures() { }

    /** The project root: tests run with it as working directory (surefire workingDirectory). */
    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    /** {@code ../shared/fixtures/<sub>}, or a skipped test naming the missing folder (a failure under CI). */
    public static Path shared(String sub) {
        Path dir = root().resolve("../shared/fixtures").resolve(sub).normalize();
        require(Files.exists(dir), "shared fixture " + dir + " is absent", underCi());
        return dir;
    }

    /** A committed test resource folder under the project root, e.g. {@code testdata/families/llama} (a failure under CI when absent). */
    public static Path project(String sub) {
        Path dir = root().resolve(sub);
        require(Files.exists(dir), dir + " is absent", underCi());
        return dir;
    }

    /**
     * The device the runtime tests load models on: {@code -Dpersona.device=gpu} (tools/gpu-check.sh)
     * runs the parity and generation suites on a GPU; the default is the CPU.
     */
    public static ai.djl.Device device() {
        return ai.djl.Device.fromName(System.getProperty("persona.device", "cpu"));
    }

    /** Whether this is a CI run ({@code CI=true}, as .ci/run is run): there a missing fixture fails the build. */
    public static boolean underCi() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("persona.ci");
    }

    /** {@link #require(boolean, String, boolean)} for this run. */
    public static void require(boolean present, String what) {
        require(present, what, underCi());
    }

    /** Skips the test saying what is missing, or under CI fails it: a fixture that CI cannot see is a broken build, not a pass. */
    public static void require(boolean present, String what, boolean ci) {
        if (present) return;
        if (ci) fail("under CI a missing fixture fails the build: " + what);
        assumeTrue(false, "skipped: " + what);
    }
}
