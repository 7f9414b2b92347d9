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
            return new Options(1, 6000, 32, 2e-3, OrganismFiles.Shape.DEFAULT);
        }
    }

    /** Progress of a run: step and loss. */
    public interface Progress {
        void step(int step, int total, double loss, double secondsSoFar);
    }

    /** Result: the first and last losses and the wall time. */
    public record Result(List<Double> losses, double seconds, long parameters) { }

    private OrganismTrainer() { }

    /** Steps between saves of the run in progress (weights plus training_state.json), so a crash loses at most this many. */
    static final int SAVE_EVERY = 200;

    public static Result train(Path out, Options o, Progress progress) throws IOException {
        World world = new World();
        Files.createDirectories(out);
        Path state = out.resolve("training_state.json");
        int start = 0;
        if (Files.isRegularFile(state) && Files.isRegularFile(out.resolve("model.safetensors"))) {
            // resume: same seed and schedule, weights from the last save; AdamW moments restart
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(state.toFile());
            if (node.path("seed").asLong() != o.seed() || node.path("batch").asInt() != o.batchSize()) {
                throw new dev.persona.model.PersonaException(out + " holds a run with seed " + node.path("seed").asLong() + " and batch "
                        + node.path("batch").asInt(), "pass the same --seed and --batch to resume it, or a fresh --out");
            }
            start = node.path("step").asInt();
        } else {
            List<String> vocab = OrganismFiles.vocabulary(world, List.of());
            int vocabSize = OrganismFiles.writeTokenizer(out, vocab);
            OrganismFiles.writeInitialModel(out, o.shape(), vocabSize, o.seed());
        }
        SplittableRandom r = new SplittableRandom(o.seed());
        // replay the data stream up to the resume point so the run sees exactly the conversations it would have
        for (int i = 0; i < start * o.batchSize(); i++) world.sampleTraining(r);
        List<Double> losses = new ArrayList<>();
        long t0 = System.nanoTime();
        long params;
        try (ChatModel chat = ChatModel.load(out, Device.cpu(), true)) {
            params = chat.model().parameterCount();
            Trainer trainer = new Trainer(chat.model(), new Trainer.Options(o.lr(), 0.01, 1.0, Math.min(50, o.steps() / 10 + 1), o.steps()), start);
            for (int step = start; step < o.steps(); step++) {
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
                if ((step + 1) % SAVE_EVERY == 0 || step + 1 == o.steps()) {
                    chat.model().save(out);
                    Files.writeString(state, String.format("{\"step\": %d, \"seed\": %d, \"batch\": %d, \"steps\": %d, \"loss\": %.6f}%n",
                            step + 1, o.seed(), o.batchSize(), o.steps(), loss));
                }
            }
        }
        return new Result(losses, (System.nanoTime() - t0) / 1e9, params);
    }

}
