package dev.persona.organism;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shipped organism (models/organism under the project root). */
final class Organism {
    private Organism() { }

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    static Path dir() {
        Path d = root().resolve("models/organism");
        dev.persona.model.Fixtures.require(Files.isRegularFile(d.resolve("model.safetensors")), "the shipped organism " + d + " is absent");
        return d;
    }
}
