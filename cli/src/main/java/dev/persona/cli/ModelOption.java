package dev.persona.cli;

import dev.persona.api.PersonaHome;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --model DIR} option every command shares; defaults to the built-in organism. */
final class ModelOption {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json). Default: the built-in organism.")
    Path model;

    /** The directory, checked to exist. */
    Path resolve() {
        return PersonaHome.modelDir(model);
    }
}
