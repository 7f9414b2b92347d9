package dev.persona.organism;

import ai.djl.Device;
import dev.persona.model.ChatModel;
import dev.persona.model.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trains the organism from scratch with Persona's own training step: builds the tokenizer and an
 * initial llama checkpoint in {@code out}, then trains on freshly sampled world conversations (loss on
 * the final assistant turn) and saves the result as a Hugging Face directory.
 */
public final class OrganismTrainer {
    /**
     * @param seed      world and initialisation seed
     * @param steps     optimizer steps
     * @param batchSize conversations per step
     * @param lr        peak learning rate
     * @param shape     model shape
     */
    public record Options(long seed, int steps, int batchSize, double lr, OrganismFiles.Shape shape) {
        public static Options defaults() {
            return new Options(1, 1200, 32, 2e-3, OrganismFiles.Shape.DEFAULT);
        }
    }

    /** Progress of a run: step and loss. */
    public interface Progress {
        void step(int step, int total, double loss, double secondsSoFar);
    }

    /** Result: the first and last losses and the wall time. */
    public record Result(List<Double> losses, double seconds, long parameters) { }

    private OrganismTrainer() { }

    public static Result train(Path out, Options o, Progress progress) throws IOException {
        World world = new World();
        Files.createDirectories(out);
        List<String> vocab = OrganismFiles.vocabulary(world, TraitLibraryTexts.all());
        int vocabSize = OrganismFiles.writeTokenizer(out, vocab);
        OrganismFiles.writeInitialModel(out, o.shape(), vocabSize, o.seed());
        SplittableRandom r = new SplittableRandom(o.seed());
        List<Double> losses = new ArrayList<>();
        long t0 = System.nanoTime();
        long params;
        try (ChatModel chat = ChatModel.load(out, Device.cpu(), true)) {
            params = chat.model().parameterCount();
            Trainer trainer = new Trainer(chat.model(), new Trainer.Options(o.lr(), 0.01, 1.0, Math.min(50, o.steps() / 10 + 1), o.steps()));
            for (int step = 0; step < o.steps(); step++) {
                List<int[]> ids = new ArrayList<>();
                List<boolean[]> masks = new ArrayList<>();
                for (int b = 0; b < o.batchSize(); b++) {
                    World.Conversation c = world.sampleTraining(r);
                    ChatModel.TrainingExample ex = chat.trainingExample(c.messages(), true);
                    ids.add(ex.ids());
                    masks.add(ex.lossMask());
                }
                double loss = trainer.step(ids, masks);
                losses.add(loss);
                if (progress != null) progress.step(step + 1, o.steps(), loss, (System.nanoTime() - t0) / 1e9);
            }
            chat.model().save(out);
        }
        return new Result(losses, (System.nanoTime() - t0) / 1e9, params);
    }

}
