package dev.persona.cli;

import dev.persona.model.Finetune;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona finetune}: supervised finetuning on chat-messages JSONL. */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = {"Finetune a model on chat-messages JSONL (loss on assistant tokens only).",
            "Saves checkpoint-N/ folders like Hugging Face's Trainer and the final model in --out;",
            "rerunning the same command resumes from the latest checkpoint."})
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

    @Override
    public Integer call() throws IOException {
        ProgressBar[] bar = new ProgressBar[1];
        List<Double> losses = Finetune.run(model.resolve(), data, out, new Finetune.Options(epochs, lr, batch, saveEvery, seed), s -> {
            if (bar[0] == null) bar[0] = new ProgressBar("finetune", s.total());
            bar[0].update(s.step(), String.format("epoch %d loss %.4f", s.epoch() + 1, s.loss()));
        }, null);
        if (losses.isEmpty()) {
            System.out.println("nothing to do: " + out + " already holds the finished run");
        } else {
            System.out.printf("finetuned %d steps: loss %.4f -> %.4f; model saved to %s%n", losses.size(), losses.get(0), losses.get(losses.size() - 1), out);
        }
        return 0;
    }
}
