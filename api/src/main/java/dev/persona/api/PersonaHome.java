package dev.persona.api;

import dev.persona.model.PersonaException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the built-in model organism lives: {@code $PERSONA_HOME/models/organism} (system property
 * {@code persona.home} first), else found upward from the working directory.
 */
public final class PersonaHome {
    private PersonaHome() { }

    /** The Persona checkout (or install) this process runs from. */
    public static Path home() {
        String prop = System.getProperty("persona.home", System.getenv("PERSONA_HOME"));
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        Path p = Path.of("").toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isDirectory(q.resolve("models/organism"))) return q;
        }
        return p;
    }

    /** The shipped organism's directory (it may be absent outside a checkout). */
    public static Path organism() {
        return home().resolve("models/organism");
    }

    /**
     * {@code dir}, or the organism when {@code dir} is null; refused with the fix when the directory
     * does not exist.
     */
    public static Path modelDir(Path dir) {
        Path d = dir != null ? dir : organism();
        if (!Files.isDirectory(d)) {
            if (dir == null) {
                throw new PersonaException("the built-in model organism is not at " + d,
                        "run from the Persona checkout (or set PERSONA_HOME to it), or train it with `persona organism train`, or pass --model DIR");
            }
            throw new PersonaException("model directory " + d + " does not exist", "pass --model with a Hugging Face model directory");
        }
        return d;
    }
}
