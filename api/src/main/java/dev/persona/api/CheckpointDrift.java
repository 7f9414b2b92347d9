package dev.persona.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.JudgeRequest;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.BatchSize;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.Finetune;
import dev.persona.model.GenerationOptions;
import dev.persona.model.PersonaException;
import dev.persona.model.io.LoraAdapter;
import dev.persona.vectors.Charts;
import dev.persona.vectors.Drift;
import dev.persona.vectors.Stats;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.stream.Stream;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The finetuning shift of checkpoints along trait vectors (the paper's drift): for each checkpoint
 * and vector, the mean over evaluation prompts of (checkpoint - base) last-prompt-token activation,
 * projected onto the unit vector. Loads one model at a time; the base means and each finished
 * checkpoint are journaled in the output directory, so a rerun after a crash, or with more
 * checkpoints, measures only the rest. Writes drift.arrow, drift.csv and drift.png.
 */
public final class CheckpointDrift {
    private CheckpointDrift() { }

    /** Where a vector's shift is measured: the evaluation prompts of {@code trait}, at vector row {@code layer}. */
    private record Probe(String trait, int layer) { }

    public static DriftResult run(DriftOptions o) {
        return run(o, Progress.NONE);
    }

    public static DriftResult run(DriftOptions o, Progress progress) {
        Progress p = Progress.orNone(progress);
        Plan plan = plan(o);
        Path out = o.out();
        return Io.locked(out, "persona drift", () -> {
            try (Judge j = plan.evalSpec == null ? null : Judges.open(o.judge(), o.compute().precision(), p)) {
                return measure(plan, j, p);
            }
        });
    }

    /**
     * What a drift run measures, resolved and checked from its options before any model loads: the
     * checkpoints in order, the vectors with unique labels, where each is probed (its trait's
     * evaluation prompts at its layer) and the evaluation trait. {@link #measureBase} and
     * {@link #score} are the two kinds of work, so a distributed job can run them as tasks (one per
     * checkpoint) and {@link #assemble} the table as {@code persona drift} does.
     */
    public static final class Plan {
        private final DriftOptions options;
        private final List<Path> checkpoints;
        private final List<VectorRef> vectors;
        private final List<String> labels;
        private final List<Probe> probes;
        private final Map<String, List<List<ChatMessage>>> promptSets;
        private final TraitSpec evalSpec;

        private Plan(DriftOptions options, List<Path> checkpoints, List<VectorRef> vectors, List<String> labels, List<Probe> probes,
                     Map<String, List<List<ChatMessage>>> promptSets, TraitSpec evalSpec) {
            this.options = options;
            this.checkpoints = checkpoints;
            this.vectors = vectors;
            this.labels = labels;
            this.probes = probes;
            this.promptSets = promptSets;
            this.evalSpec = evalSpec;
        }

        public DriftOptions options() {
            return options;
        }

        /** The checkpoints, explicit ones first, then the run's checkpoint-N folders in step order and its final model. */
        public List<Path> checkpoints() {
            return checkpoints;
        }

        /** Each vector's label in the table: its trait, or "trait (file)" when two share one. */
        public List<String> labels() {
            return labels;
        }

        /**
         * The base model's mean last-prompt activation for every distinct probe, in the order of
         * {@link #distinctProbes()} (d_model doubles each).
         */
        public double[][] measureBase() {
            List<Probe> distinct = distinctProbes();
            double[][] means = new double[distinct.size()][];
            try (ChatModel b = options.compute().chat(options.base())) {
                for (int i = 0; i < distinct.size(); i++) {
                    List<List<ChatMessage>> prompts = promptSets.get(distinct.get(i).trait());
                    means[i] = Drift.meanLastPrompt(b, prompts, distinct.get(i).layer(), batch(b, prompts));
                }
            }
            return means;
        }

        /** Prompts per forward pass: the options' batch, or as many of the longest prompt as fit in memory (at most {@value Drift#DEFAULT_BATCH}). */
        private int batch(ChatModel m, List<List<ChatMessage>> prompts) {
            return BatchSize.resolve(options.batch(), m.model().config(), BatchSize.Work.CAPTURE, m.longest(prompts, true), Drift.DEFAULT_BATCH).rows();
        }

        /** The probes without repeats (two vectors of one trait and layer share one). */
        List<Probe> distinctProbes() {
            return probes.stream().distinct().toList();
        }

        /**
         * One checkpoint's shifts along every vector (in vector order) against {@code baseMeans}
         * (from {@link #measureBase}), and its judged trait rate when the plan has an evaluation trait
         * ({@code judge} must then be open; NaN otherwise).
         */
        public CheckpointScore score(Path checkpoint, double[][] baseMeans, Judge judge) {
            List<Probe> distinct = distinctProbes();
            // an adapter is merged onto the base, whatever hub name its adapter_config.json records
            try (ChatModel m = LoraAdapter.isAdapter(checkpoint) ? options.compute().chatAdapted(options.base(), checkpoint) : options.compute().chat(checkpoint)) {
                double rate = evalSpec != null ? traitRate(m, evalSpec, judge, options) : Double.NaN;
                Map<Probe, double[]> means = new HashMap<>();
                double[] shifts = new double[vectors.size()];
                for (int i = 0; i < vectors.size(); i++) {
                    Probe pr = probes.get(i);
                    double[] mean = means.computeIfAbsent(pr, k -> Drift.meanLastPrompt(m, promptSets.get(k.trait()), k.layer(), batch(m, promptSets.get(k.trait()))));
                    shifts[i] = Drift.shift(baseMeans[distinct.indexOf(pr)], mean, vectors.get(i).vector().layer(pr.layer()));
                }
                return new CheckpointScore(rate, shifts);
            }
        }

        /**
         * The table of {@code persona drift} from every checkpoint's score (in {@link #checkpoints()}
         * order): rows, whether a shift passed the threshold, trait rates and per-vector correlations.
         * Paths to files are null; {@link CheckpointDrift#run} adds them when it writes the files.
         */
        public DriftResult assemble(List<CheckpointScore> scores) {
            List<DriftResult.Row> rows = new ArrayList<>();
            List<Double> rates = new ArrayList<>();
            boolean passed = false;
            for (int ci = 0; ci < checkpoints.size(); ci++) {
                Path c = checkpoints.get(ci);
                CheckpointScore sc = scores.get(ci);
                if (evalSpec != null) rates.add(sc.rate());
                int step = c.getFileName().toString().matches("checkpoint-\\d+") ? Finetune.stepOf(c) : -1;
                for (int i = 0; i < vectors.size(); i++) {
                    double shift = sc.shifts()[i];
                    rows.add(new DriftResult.Row(c.toString(), step, labels.get(i), vectors.get(i).source(), probes.get(i).layer(), shift));
                    if (options.threshold() != null && shift > options.threshold()) passed = true;
                }
            }
            Map<String, MonitorResult.Correlation> corr = null;
            if (evalSpec != null) {
                corr = new LinkedHashMap<>();
                double[] rateArray = rates.stream().mapToDouble(Double::doubleValue).toArray();
                for (String label : labels) {
                    double[] shifts = rows.stream().filter(r -> r.vector().equals(label)).mapToDouble(DriftResult.Row::shift).toArray();
                    double r = Stats.pearson(shifts, rateArray);
                    double[] ci = Stats.pearsonInterval(r, shifts.length);
                    corr.put(label, new MonitorResult.Correlation(r, ci[0], ci[1], shifts.length));
                }
            }
            return new DriftResult(rows, passed, evalSpec == null ? null : rates, corr, null, null, null);
        }

        /** Whether checkpoints are judged (an evaluation trait was given): callers then open {@code options().judge()}. */
        public boolean judged() {
            return evalSpec != null;
        }
    }

    /** One checkpoint's measurement: its trait rate (NaN unless judged) and its shift along each vector, in vector order. */
    public record CheckpointScore(double rate, double[] shifts) implements java.io.Serializable { }

    /** {@code o} resolved and checked: checkpoints, vectors, labels, probes and prompt sets (nothing is loaded but configs and vector files). */
    public static Plan plan(DriftOptions o) {
        Path base = o.base();
        if (!Files.isDirectory(base)) throw new PersonaException("--base " + base + " is not a directory", "pass the model directory the checkpoints were finetuned from");
        List<Path> ckpts = checkpoints(o);
        if (LoraAdapter.isAdapter(base) && ckpts.stream().anyMatch(LoraAdapter::isAdapter)) {
            throw new PersonaException("--base " + base + " is itself a LoRA adapter, and adapter checkpoints are merged onto --base (stacked adapters are not merged)",
                    "merge the base adapter with PEFT's merge_and_unload(), save it, and pass that directory as --base");
        }
        int numLayers = Persona.numLayersOf(LoraAdapter.isAdapter(base) ? LoraAdapter.baseOf(base) : base);
        List<VectorRef> vs = new ArrayList<>();
        for (Path f : o.vectors()) vs.add(Persona.readVector(f, numLayers));
        List<String> labels = labels(vs);
        // each vector is measured on its own trait's evaluation prompts (the paper's shift), unless promptsTrait says otherwise
        Map<String, List<List<ChatMessage>>> promptSets = new LinkedHashMap<>();
        List<Probe> probes = new ArrayList<>();
        for (VectorRef v : vs) {
            String traitName = o.promptsTrait() == null || o.promptsTrait().isEmpty() ? v.trait() : o.promptsTrait();
            try {
                promptSets.computeIfAbsent(traitName, t -> {
                    List<List<ChatMessage>> ps = new ArrayList<>();
                    for (String q : TraitLibrary.load(t, "eval").questions()) ps.add(ChatMessage.prompt(o.system(), q));
                    return ps;
                });
            } catch (PersonaException e) {
                throw new PersonaException(v.source() + " names trait '" + traitName + "', which has no evaluation questions",
                        "pass --prompts-trait NAME (a built-in trait or a trait file)", e);
            }
            probes.add(new Probe(traitName, o.layer() != null ? o.layer() : v.defaultLayer()));
        }
        TraitSpec evalSpec = o.evalTrait() == null ? null : TraitLibrary.load(o.evalTrait(), "eval");
        return new Plan(o, ckpts, vs, labels, probes, promptSets, evalSpec);
    }

    private static DriftResult measure(Plan plan, Judge j, Progress p) throws IOException {
        DriftOptions o = plan.options;
        Path out = o.out();
        // the journal's name carries the run's identity: other vectors, prompts or judge start a journal of their own
        Journal journal = Journal.named(out, "drift_checkpoints-", runId(o, plan.vectors, plan.probes, j));
        if (journal.size() > 0) p.note("resuming: " + journal.size() + " results already in " + out);
        double[][] baseMeans = baseMeans(plan, journal);
        List<CheckpointScore> scores = new ArrayList<>();
        for (int ci = 0; ci < plan.checkpoints.size(); ci++) {
            Path c = plan.checkpoints.get(ci);
            String key = "checkpoint|" + identity(c);
            if (!journal.has(key)) {
                CheckpointScore sc = plan.score(c, baseMeans, j);
                ObjectNode record = journal.newRecord(key);
                if (plan.evalSpec != null) Journal.putNumber(record, "rate", sc.rate());
                ArrayNode shifts = record.putArray("shifts");
                for (double x : sc.shifts()) shifts.add(x);
                journal.append(List.of(record));
            }
            JsonNode done = journal.get(key);
            double[] shifts = new double[plan.vectors.size()];
            for (int i = 0; i < shifts.length; i++) shifts[i] = done.get("shifts").get(i).asDouble();
            scores.add(new CheckpointScore(plan.evalSpec != null ? Journal.number(done.get("rate")) : Double.NaN, shifts));
            p.update("checkpoints", ci + 1, plan.checkpoints.size());
        }
        DriftResult r = plan.assemble(scores);
        write(out, r.rows());
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (String label : plan.labels) {
            List<DriftResult.Row> mine = r.rows().stream().filter(x -> x.vector().equals(label)).toList();
            double[] x = new double[mine.size()], y = new double[mine.size()];
            for (int k = 0; k < mine.size(); k++) {
                x[k] = mine.get(k).step() >= 0 ? mine.get(k).step() : k;
                y[k] = mine.get(k).shift();
            }
            series.put("shift along " + label, new double[][] {x, y});
        }
        Charts.lines(out.resolve("drift.png"), "Finetuning shift along trait vectors", "step (or checkpoint index)", "projection shift", series);
        return new DriftResult(r.rows(), r.thresholdPassed(), r.traitRates(), r.correlationShiftVsRate(), out.resolve("drift.arrow"), out.resolve("drift.csv"),
                out.resolve("drift.png"));
    }

    /** Unique names for the vectors: the trait, or "trait (file name)" when two share a trait. */
    private static List<String> labels(List<VectorRef> vs) {
        Map<String, Integer> count = new HashMap<>();
        for (VectorRef v : vs) count.merge(traitOf(v), 1, Integer::sum);
        List<String> labels = new ArrayList<>();
        for (VectorRef v : vs) {
            String t = traitOf(v);
            String label = count.get(t) == 1 ? t : t + " (" + (v.file() == null ? v.source() : v.file().getFileName()) + ")";
            // two files of one name in different folders: fall back to the whole path
            if (labels.contains(label)) label = t + " (" + v.source() + ")";
            labels.add(label);
        }
        return labels;
    }

    private static String traitOf(VectorRef v) {
        return v.trait().isEmpty() ? v.source() : v.trait();
    }

    /** The explicit checkpoints, then the run's checkpoint-N folders in step order and its final model. */
    private static List<Path> checkpoints(DriftOptions o) {
        List<Path> ckpts = new ArrayList<>(o.checkpoints());
        Path run = o.run();
        if (run != null) {
            if (!Files.isDirectory(run)) throw new PersonaException("--run " + run + " is not a directory", "pass the --out directory of a finetuning run");
            try (Stream<Path> s = Files.list(run)) {
                s.filter(p -> p.getFileName().toString().matches("checkpoint-\\d+") && (Files.isRegularFile(p.resolve("model.safetensors"))
                                || LoraAdapter.isAdapter(p)))
                        .sorted((a, b) -> Integer.compare(Finetune.stepOf(a), Finetune.stepOf(b))).forEach(ckpts::add);
            } catch (IOException e) {
                throw Io.failed(run, e);
            }
            if (Files.isRegularFile(run.resolve("model.safetensors")) || LoraAdapter.isAdapter(run)) ckpts.add(run);
            if (ckpts.isEmpty()) {
                throw new PersonaException("--run " + run + " holds no checkpoint-N/ folder and no final model", "pass the --out directory of a finished or checkpointed finetuning run");
            }
        }
        if (ckpts.isEmpty()) throw new PersonaException("no checkpoints given", "pass --checkpoints DIR... or --run DIR");
        return ckpts;
    }

    /** The base model's mean last-prompt activation per distinct probe, from the journal or measured (and journaled) now. */
    private static double[][] baseMeans(Plan plan, Journal journal) throws IOException {
        List<Probe> distinct = plan.distinctProbes();
        String key = "base|" + identity(plan.options.base());
        JsonNode saved = journal.get(key);
        if (saved == null) {
            double[][] means = plan.measureBase();
            ObjectNode record = journal.newRecord(key);
            for (int i = 0; i < distinct.size(); i++) {
                ArrayNode a = record.putArray(distinct.get(i).trait() + "@" + distinct.get(i).layer());
                for (double v : means[i]) a.add(v);
            }
            journal.append(List.of(record));
            return means;
        }
        double[][] means = new double[distinct.size()][];
        for (int i = 0; i < distinct.size(); i++) {
            JsonNode a = saved.get(distinct.get(i).trait() + "@" + distinct.get(i).layer());
            means[i] = new double[a.size()];
            for (int k = 0; k < a.size(); k++) means[i][k] = a.get(k).asDouble();
        }
        return means;
    }

    /** Everything a result depends on besides the checkpoint: vectors' rows, probes, prompts, judge, compute. */
    private static String runId(DriftOptions o, List<VectorRef> vs, List<Probe> probes, Judge j) {
        StringBuilder id = new StringBuilder("drift");
        for (int i = 0; i < vs.size(); i++) {
            float[] row = vs.get(i).vector().layer(probes.get(i).layer());
            id.append('|').append(probes.get(i)).append(':').append(Arrays.toString(row));
        }
        id.append('|').append(o.system()).append('|').append(o.evalTrait()).append('|').append(j == null ? "" : j.name()).append('|').append(o.evalSamples());
        return id.append(o.compute().runSuffix()).toString();
    }

    /**
     * A model directory as it is now: its path and each weight file's name, size and modification
     * time, so a checkpoint rewritten in place is measured again.
     */
    static String identity(Path dir) throws IOException {
        StringBuilder id = new StringBuilder(dir.toAbsolutePath().normalize().toString());
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList()) {
                id.append('|').append(f.getFileName()).append(':').append(Files.size(f)).append(':').append(Files.getLastModifiedTime(f).toMillis());
            }
        }
        return id.toString();
    }

    /** Fraction of answers to the eval questions (temperature 1, seeded) that the judge scores >= 50. */
    private static double traitRate(ChatModel m, TraitSpec spec, Judge j, DriftOptions o) {
        List<List<ChatMessage>> convs = new ArrayList<>();
        for (String q : spec.questions()) for (int s = 0; s < o.evalSamples(); s++) convs.add(ChatMessage.prompt(o.system(), q));
        List<String> answers = m.reply(convs, GenerationOptions.sample(64, 1.0, 0));
        int scored = 0, high = 0;
        for (int i = 0; i < convs.size(); i++) {
            OptionalDouble t = j.traitScore(new JudgeRequest(spec.name(), convs.get(i), answers.get(i), spec.evalPrompt()));
            if (t.isEmpty()) continue;
            scored++;
            if (t.getAsDouble() >= 50) high++;
        }
        return scored == 0 ? Double.NaN : (double) high / scored;
    }

    private static void write(Path out, List<DriftResult.Row> rows) throws IOException {
        Tables.csv(out.resolve("drift.csv"), List.of("checkpoint", "step", "vector", "layer", "shift"),
                rows.stream().map(r -> List.<Object>of(r.checkpoint(), r.step(), r.vector(), r.layer(), r.shift())).toList());
        Schema schema = new Schema(List.of(Field.nullable("checkpoint", new ArrowType.Utf8()), Field.nullable("step", new ArrowType.Int(32, true)),
                Field.nullable("vector", new ArrowType.Utf8()), Field.nullable("vector_file", new ArrowType.Utf8()), Field.nullable("layer", new ArrowType.Int(32, true)),
                Field.nullable("shift", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE))));
        ArrowDatasets.write(out.resolve("drift.arrow"), schema, root -> {
            int i = 0;
            for (DriftResult.Row r : rows) {
                ((VarCharVector) root.getVector("checkpoint")).setSafe(i, r.checkpoint().getBytes(StandardCharsets.UTF_8));
                ((IntVector) root.getVector("step")).setSafe(i, r.step());
                ((VarCharVector) root.getVector("vector")).setSafe(i, r.vector().getBytes(StandardCharsets.UTF_8));
                ((VarCharVector) root.getVector("vector_file")).setSafe(i, r.vectorFile().getBytes(StandardCharsets.UTF_8));
                ((IntVector) root.getVector("layer")).setSafe(i, r.layer());
                ((Float8Vector) root.getVector("shift")).setSafe(i, r.shift());
                i++;
            }
            root.setRowCount(i);
        });
    }
}
