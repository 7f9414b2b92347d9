package dev.persona.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Supervised finetuning on chat-messages JSONL with the loss on assistant tokens only. Saves
 * {@code checkpoint-N/} folders as Hugging Face's Trainer lays them out (model files plus
 * trainer_state.json) and the final model in the output directory. A run restarted with the same
 * arguments resumes from its latest checkpoint (weights and data order; AdamW moments restart).
 */
public final class Finetune {
    /**
     * @param epochs    passes over the data
     * @param lr        peak learning rate
     * @param batchSize conversations per step
     * @param saveEvery steps between checkpoints (0: only the final model)
     * @param seed      data order seed
     */
    public record Options(int epochs, double lr, int batchSize, int saveEvery, long seed) {
        public Options {
            if (epochs <= 0) throw new PersonaException("--epochs must be positive, got " + epochs, "pass --epochs 1 or more");
            if (batchSize <= 0) throw new PersonaException("--batch must be positive, got " + batchSize, "pass --batch 1 or more");
        }
    }

    /** Progress after each step. */
    public record Step(int step, int total, int epoch, double loss) { }

    private Finetune() { }

    /**
     * Runs the finetuning. {@code beforeTraining} may register interventions on the trainable model
     * (preventative steering); they are active in training forward passes only and removed when the
     * run ends.
     *
     * @return the loss of every step run in this call
     */
    public static List<Double> run(Path modelDir, Path dataFile, Path out, Options o, Consumer<Step> progress,
                                   java.util.function.Function<HookedTransformer, List<AutoCloseable>> beforeTraining) throws IOException {
        List<List<ChatMessage>> data = ChatDataset.read(dataFile);
        if (data.isEmpty()) throw new PersonaException(dataFile + " holds no conversations", "pass a non-empty JSONL file");
        int stepsPerEpoch = (data.size() + o.batchSize() - 1) / o.batchSize();
        int total = stepsPerEpoch * o.epochs();
        Files.createDirectories(out);
        int resumeStep = 0;
        Path start = modelDir;
        Path latest = latestCheckpoint(out);
        if (latest != null) {
            resumeStep = Integer.parseInt(latest.getFileName().toString().substring("checkpoint-".length()));
            start = latest;
        }
        List<Double> losses = new ArrayList<>();
        List<ObjectNode> history = new ArrayList<>();
        try (ChatModel chat = ChatModel.load(start, Device.cpu(), true)) {
            List<AutoCloseable> hooks = beforeTraining == null ? List.of() : beforeTraining.apply(chat.model());
            try {
                Trainer trainer = new Trainer(chat.model(), new Trainer.Options(o.lr(), 0.0, 1.0, Math.max(1, Math.min(10, total / 10)), total));
                List<ChatModel.TrainingExample> examples = new ArrayList<>();
                for (List<ChatMessage> conv : data) examples.add(chat.trainingExample(conv, false));
                int step = 0;
                for (int epoch = 0; epoch < o.epochs(); epoch++) {
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < examples.size(); i++) order.add(i);
                    Collections.shuffle(order, new Random(o.seed() * 1_000_003L + epoch));
                    for (int from = 0; from < order.size(); from += o.batchSize()) {
                        step++;
                        if (step <= resumeStep) continue;
                        List<int[]> ids = new ArrayList<>();
                        List<boolean[]> masks = new ArrayList<>();
                        for (int k : order.subList(from, Math.min(order.size(), from + o.batchSize()))) {
                            ids.add(examples.get(k).ids());
                            masks.add(examples.get(k).lossMask());
                        }
                        double loss = trainer.step(ids, masks);
                        losses.add(loss);
                        ObjectNode h = new ObjectMapper().createObjectNode();
                        h.put("step", step).put("epoch", epoch + (double) (from + o.batchSize()) / order.size()).put("loss", loss);
                        history.add(h);
                        if (progress != null) progress.accept(new Step(step, total, epoch, loss));
                        if (o.saveEvery() > 0 && step % o.saveEvery() == 0 && step < total) {
                            Path ck = out.resolve("checkpoint-" + step);
                            chat.model().save(ck);
                            writeState(ck, step, total, epoch, history);
                        }
                    }
                }
            } finally {
                for (AutoCloseable h : hooks) {
                    try {
                        h.close();
                    } catch (Exception e) {
                        // removing a hook only drops a registration; keep removing the others
                    }
                }
            }
            chat.model().save(out);
            writeState(out, total, total, o.epochs() - 1, history);
        }
        return losses;
    }

    private static void writeState(Path dir, int step, int total, int epoch, List<ObjectNode> history) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode s = json.createObjectNode();
        s.put("global_step", step);
        s.put("max_steps", total);
        s.put("epoch", epoch);
        ArrayNode log = s.putArray("log_history");
        history.forEach(log::add);
        json.writeValue(dir.resolve("trainer_state.json").toFile(), s);
    }

    /** The checkpoint-N folder with the highest N that holds a trainer_state.json, or null. */
    public static Path latestCheckpoint(Path out) throws IOException {
        if (!Files.isDirectory(out)) return null;
        try (Stream<Path> s = Files.list(out)) {
            return s.filter(p -> p.getFileName().toString().matches("checkpoint-\\d+") && Files.isRegularFile(p.resolve("trainer_state.json")))
                    .max((a, b) -> Integer.compare(stepOf(a), stepOf(b))).orElse(null);
        }
    }

    /** N of a checkpoint-N folder. */
    public static int stepOf(Path checkpoint) {
        return Integer.parseInt(checkpoint.getFileName().toString().substring("checkpoint-".length()));
    }
}
