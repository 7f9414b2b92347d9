package dev.persona.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
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
 * {@code checkpoint-N/} folders as Hugging Face's Trainer lays them out (model files,
 * trainer_state.json, and the optimizer's moments in optimizer.safetensors) and the final model in
 * the output directory. The run has an identity (base model, data, options, steering): the same
 * call after a crash resumes from its latest checkpoint and ends with the weights an uninterrupted
 * run ends with, bit for bit; the same call on a finished run does nothing; another run into the
 * same directory is refused.
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
            if (!(lr > 0) || !Double.isFinite(lr)) throw new PersonaException("--lr " + lr + " is not a positive finite number", "pass e.g. --lr 3e-4");
        }
    }

    /** Progress after each step. */
    public record Step(int step, int total, int epoch, double loss) { }

    /** The optimizer state file inside a checkpoint folder. */
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";

    private Finetune() { }

    /** {@link #run(Path, Path, Path, Options, Consumer, java.util.function.Function, String)} without steering identity. */
    public static List<Double> run(Path modelDir, Path dataFile, Path out, Options o, Consumer<Step> progress,
                                   java.util.function.Function<HookedTransformer, List<AutoCloseable>> beforeTraining) throws IOException {
        return run(modelDir, dataFile, out, o, progress, beforeTraining, "");
    }

    /**
     * Runs (or resumes, or finds finished) the finetuning. {@code beforeTraining} may register
     * interventions on the trainable model (preventative steering); they are active in training
     * forward passes only and removed when the run ends; {@code identity} describes them for the
     * run's identity.
     *
     * @return the loss of every step run in this call (empty when the run was already finished)
     */
    public static List<Double> run(Path modelDir, Path dataFile, Path out, Options o, Consumer<Step> progress,
                                   java.util.function.Function<HookedTransformer, List<AutoCloseable>> beforeTraining,
                                   String identity) throws IOException {
        List<List<ChatMessage>> data = ChatDataset.read(dataFile);
        if (data.isEmpty()) throw new PersonaException(dataFile + " holds no conversations", "pass a non-empty JSONL file");
        int stepsPerEpoch = (data.size() + o.batchSize() - 1) / o.batchSize();
        int total = stepsPerEpoch * o.epochs();
        String runId = runId(modelDir, dataFile, o, identity);
        Files.createDirectories(out);
        // a finished run of the same identity: nothing to do; another run's files: refused, never mixed in
        JsonNode finished = readState(out.resolve("trainer_state.json"));
        if (finished != null) {
            checkSameRun(out, finished, runId);
            if (finished.path("global_step").asInt() >= total) return List.of();
        }
        int resumeStep = 0;
        Path start = modelDir;
        Path latest = latestCheckpoint(out);
        List<ObjectNode> history = new ArrayList<>();
        if (latest != null) {
            JsonNode state = readState(latest.resolve("trainer_state.json"));
            checkSameRun(latest, state, runId);
            if (!Files.isRegularFile(latest.resolve(OPTIMIZER_FILE))) {
                throw new PersonaException(latest + " has no " + OPTIMIZER_FILE + " (written by an older Persona), so the run cannot resume exactly",
                        "pass a fresh --out to train again from the start");
            }
            resumeStep = stepOf(latest);
            start = latest;
            for (JsonNode h : state.path("log_history")) history.add((ObjectNode) h);
        }
        List<Double> losses = new ArrayList<>();
        try (ChatModel chat = ChatModel.load(start, Device.cpu(), true)) {
            List<AutoCloseable> hooks = beforeTraining == null ? List.of() : beforeTraining.apply(chat.model());
            try {
                Trainer trainer = new Trainer(chat.model(), new Trainer.Options(o.lr(), 0.0, 1.0, Math.max(1, Math.min(10, total / 10)), total), resumeStep);
                if (latest != null) trainer.loadState(latest.resolve(OPTIMIZER_FILE));
                List<ChatModel.TrainingExample> examples = new ArrayList<>();
                for (List<ChatMessage> conv : data) examples.add(chat.trainingExample(conv, false));
                int step = 0;
                for (int epoch = 0; epoch < o.epochs(); epoch++) {
                    // the data order is a function of (seed, epoch): a resumed run skips to its position in it
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
                        if (o.saveEvery() > 0 && step % o.saveEvery() == 0 && step < total) {
                            Path ck = out.resolve("checkpoint-" + step);
                            chat.model().save(ck);
                            trainer.saveState(ck.resolve(OPTIMIZER_FILE));
                            // the state file goes last: a checkpoint counts only once it is complete
                            writeState(ck, step, total, epoch, history, runId);
                        }
                        if (progress != null) progress.accept(new Step(step, total, epoch, loss));
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
            writeState(out, total, total, o.epochs() - 1, history, runId);
        }
        return losses;
    }

    /** Everything the result depends on: the base model's bytes, the data's bytes, the options and the steering. */
    static String runId(Path modelDir, Path dataFile, Options o, String identity) throws IOException {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            md.update(ModelFingerprint.of(modelDir).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            md.update(Files.readAllBytes(dataFile));
            md.update((o + "|" + identity).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode readState(Path file) throws IOException {
        if (!Files.isRegularFile(file)) return null;
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new PersonaException(file + " is not valid JSON: " + e.getOriginalMessage(), "delete the damaged checkpoint folder (or use a fresh --out) and rerun");
        }
    }

    private static void checkSameRun(Path where, JsonNode state, String runId) {
        String other = state.path("persona_run_id").asText("");
        if (!other.equals(runId)) {
            throw new PersonaException(where + " belongs to another finetuning run (" + (other.isEmpty() ? "written without a run identity" : "run " + other)
                    + ", this one is " + runId + ": other model, data, options or steering)", "pass a fresh --out, or the same arguments to resume that run");
        }
    }

    private static void writeState(Path dir, int step, int total, int epoch, List<ObjectNode> history, String runId) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode s = json.createObjectNode();
        s.put("global_step", step);
        s.put("max_steps", total);
        s.put("epoch", epoch);
        s.put("persona_run_id", runId);
        ArrayNode log = s.putArray("log_history");
        history.forEach(log::add);
        dev.persona.model.io.AtomicWrite.to(dir.resolve("trainer_state.json"), tmp -> json.writeValue(tmp.toFile(), s));
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
