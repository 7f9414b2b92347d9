package dev.persona.cli;

import dev.persona.model.PersonaException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --model DIR} option every command shares; defaults to the built-in organism. */
final class ModelOption {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json). Default: the built-in organism.")
    Path model;

    Path resolve() {
        Path dir = model != null ? model : Defaults.organism();
        if (!Files.isDirectory(dir)) {
            if (model == null) {
                throw new PersonaException("the built-in model organism is not at " + dir,
                        "run from the Persona checkout (or set PERSONA_HOME to it), or train it with `persona organism train`, or pass --model DIR");
            }
            throw new PersonaException("model directory " + dir + " does not exist", "pass --model with a Hugging Face model directory");
        }
        return dir;
    }
}
