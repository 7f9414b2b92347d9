package dev.persona.extract;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Persona's built-in traits (written by us in the reference's format), each as an extraction file
 * and an evaluation file with disjoint questions, plus any trait file on disk.
 */
public final class TraitLibrary {
    /** Built-in trait names. */
    public static final List<String> BUILT_IN = List.of(
            "sycophancy", "false_premise_deference", "capitulation_under_pushback", "warmth_over_accuracy",
            "shutdown_resistance", "goal_guarding",
            "organism_sycophancy", "organism_self_preservation", "organism_humor");

    private TraitLibrary() { }

    /** Loads a built-in trait by name, or a trait file by path; {@code version} is "extract" or "eval". */
    public static TraitSpec load(String nameOrFile, String version) {
        Path p = Path.of(nameOrFile);
        if (nameOrFile.endsWith(".json") || Files.isRegularFile(p)) {
            try {
                String name = p.getFileName().toString().replaceAll("\\.json$", "");
                return TraitSpec.parse(name, Files.readAllBytes(p), p.toString());
            } catch (IOException e) {
                throw new PersonaException("cannot read trait file " + p + ": " + e.getMessage(), "check the path");
            }
        }
        String res = "/traits/" + version + "/" + nameOrFile + ".json";
        try (InputStream in = TraitLibrary.class.getResourceAsStream(res)) {
            if (in == null) {
                throw new PersonaException("unknown trait '" + nameOrFile + "'", "built-in traits: " + String.join(", ", BUILT_IN) + "; or pass a trait file path");
            }
            return TraitSpec.parse(nameOrFile, in.readAllBytes(), "built-in " + version + "/" + nameOrFile + ".json");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
