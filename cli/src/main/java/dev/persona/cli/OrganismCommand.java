package dev.persona.cli;

import dev.persona.organism.OrganismFiles;
import dev.persona.organism.OrganismTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code persona organism}: the built-in model organism. */
@Command(name = "organism", mixinStandardHelpOptions = true,
        description = "The built-in model organism: train it, make finetuning data from its world, evaluate its behaviour.",
        subcommands = {OrganismCommand.Train.class, OrganismDataCommand.class, OrganismEvalCommand.class})
final class OrganismCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train the organism from scratch with Persona's training step and save a Hugging Face directory.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--out", description = "Output directory (default: models/organism under the Persona checkout).")
        Path out;

        @Option(names = "--seed", defaultValue = "1", description = "World and initialisation seed (default ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--steps", defaultValue = "6000", description = "Optimizer steps (default ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--batch", defaultValue = "32", description = "Conversations per step (default ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--lr", defaultValue = "2e-3", description = "Peak learning rate (default ${DEFAULT-VALUE}).")
        double lr;

        @Option(names = "--d-model", defaultValue = "128", description = "Residual width (default ${DEFAULT-VALUE}).")
        int dModel;

        @Option(names = "--layers", defaultValue = "4", description = "Blocks (default ${DEFAULT-VALUE}).")
        int layers;

        @Override
        public Integer call() throws IOException {
            Path dir = out != null ? out : dev.persona.api.PersonaHome.organism();
            ProgressBar bar = new ProgressBar("train", steps);
            OrganismTrainer.Options o = new OrganismTrainer.Options(seed, steps, batch, lr,
                    new OrganismFiles.Shape(dModel, layers, Math.max(1, dModel / 32), dModel * 3));
            OrganismTrainer.Result r = OrganismTrainer.train(dir, o, (step, total, loss, secs) ->
                    bar.update(step, String.format("loss %.4f  %.0fs", loss, secs)));
            if (r.losses().isEmpty()) {
                System.out.println(dir + " already holds the finished run (" + steps + " steps)");
            } else {
                System.out.printf("trained %d parameters in %.0f s (%d steps this run): loss %.4f -> %.4f; saved to %s%n", r.parameters(),
                        r.seconds(), r.losses().size(), r.losses().get(0), r.losses().get(r.losses().size() - 1), dir);
            }
            return 0;
        }
    }
}
