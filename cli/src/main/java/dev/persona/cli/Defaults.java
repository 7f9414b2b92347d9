package dev.persona.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the built-in model organism lives: {@code $PERSONA_HOME/models/organism}, else found upward from the working directory. */
final class Defaults {
    private Defaults() { }

    static Path home() {
        String prop = System.getProperty("persona.home", System.getenv("PERSONA_HOME"));
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        Path p = Path.of("").toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isDirectory(q.resolve("models/organism"))) return q;
        }
        return p;
    }

    static Path organism() {
        return home().resolve("models/organism");
    }
}
