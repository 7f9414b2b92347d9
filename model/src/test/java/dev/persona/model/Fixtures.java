package dev.persona.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared fixtures (../shared/fixtures from the project root) and skips, saying which, when absent. */
public final class Fixtures {
    private Fixtures() { }

    /** The project root: tests run with it as working directory (surefire workingDirectory). */
    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    /** {@code ../shared/fixtures/<sub>}, or a skipped test naming the missing folder. */
    public static Path shared(String sub) {
        Path dir = root().resolve("../shared/fixtures").resolve(sub).normalize();
        assumeTrue(Files.exists(dir), "skipped: shared fixture " + dir + " is absent");
        return dir;
    }

    /** A committed test resource folder under the project root, e.g. {@code tools/goldens/llama}. */
    public static Path project(String sub) {
        Path dir = root().resolve(sub);
        assumeTrue(Files.exists(dir), "skipped: " + dir + " is absent");
        return dir;
    }
}
