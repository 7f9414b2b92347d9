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
    public Integer call() throws IOException {
        if (steer != null && ablate != null) {
            throw new dev.persona.model.PersonaException("--steer and --ablate were both given", "pass one of them");
        }
        dev.persona.steer.SteeringPlan plan = null;
        if (steer != null || ablate != null) {
            Path file = steer != null ? steer : ablate;
            dev.persona.vectors.TraitVector v = dev.persona.vectors.formats.VectorFiles.read(file, dev.persona.model.ModelConfig.load(model.resolve()).numLayers());
            int l = layer != null ? layer : SteerCommand.defaultLayer(v, file);
            plan = new dev.persona.steer.SteeringPlan().add(new dev.persona.steer.SteeringPlan.Steer(v, kind, l, coef, ablate != null,
                    dev.persona.model.PositionMask.ALL));
        }
        dev.persona.steer.SteeringPlan trainingPlan = plan;
        ProgressBar[] bar = new ProgressBar[1];
        List<Double> losses = Finetune.run(model.resolve(), data, out, new Finetune.Options(epochs, lr, batch, saveEvery, seed), s -> {
            if (bar[0] == null) bar[0] = new ProgressBar("finetune", s.total());
            bar[0].update(s.step(), String.format("epoch %d loss %.4f", s.epoch() + 1, s.loss()));
        }, trainingPlan == null ? null : m -> {
            trainingPlan.check(m, dev.persona.model.ModelFingerprint.of(model.resolve()), false);
            return java.util.List.of(trainingPlan.apply(m));
        });
        if (losses.isEmpty()) {
            System.out.println("nothing to do: " + out + " already holds the finished run");
        } else {
            System.out.printf("finetuned %d steps: loss %.4f -> %.4f; model saved to %s%n", losses.size(), losses.get(0), losses.get(losses.size() - 1), out);
        }
        return 0;
    }
}
