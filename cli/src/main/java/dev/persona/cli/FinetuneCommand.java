package dev.persona.cli;

import dev.persona.api.FinetuneOptions;
import dev.persona.api.FinetuneResult;
import dev.persona.api.Finetuning;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona finetune}: supervised finetuning on chat-messages JSONL. */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = "Finetune a model on chat-messages JSONL (loss on assistant tokens only). Saves checkpoint-N/ folders like Hugging Face's Trainer and the final model in --out; rerunning the same command resumes from the latest checkpoint.")
final class FinetuneCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--data", required = true, description = "Training data, FILE.jsonl.")
    Path data;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--save-every", defaultValue = "0", description = "Steps between checkpoints; 0 = final model only.")
    int saveEvery;

    @Option(names = "--epochs", defaultValue = "1", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--lr", defaultValue = "3e-4", description = "Peak learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--batch", defaultValue = "16", description = "Conversations per step (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "0", description = "Data order seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--steer", description = "Preventative steering: add this vector during training forward passes only.")
    Path steer;

    @Option(names = "--ablate", description = "Project this vector's direction out during training forward passes only (CAFT).")
    Path ablate;

    @Option(names = "--layer", description = "Vector row for --steer/--ablate (default: the file's recommended or best layer).")
    Integer layer;

    @Option(names = "--coef", defaultValue = "1", description = "Coefficient for --steer (default ${DEFAULT-VALUE}).")
    double coef;

    @Option(names = "--kind", defaultValue = "response_avg", description = "Directions of the vector file (default ${DEFAULT-VALUE}).")
    String kind;

    @Override
    public Integer call() {
        FinetuneOptions o = new FinetuneOptions(model.model, data, out, epochs, lr, batch, saveEvery, seed, steer, ablate, layer, coef, kind);
        FinetuneResult r = Finetuning.run(o, new BarProgress());
        System.out.println(r);
        return 0;
    }
}
