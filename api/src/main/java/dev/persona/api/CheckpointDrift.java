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
        Path out = o.out();
        return Io.locked(out, "persona drift", () -> {
            try (Judge j = evalSpec == null ? null : Judges.open(o.judge(), o.compute().precision(), p)) {
                return measure(o, ckpts, vs, labels, probes, promptSets, evalSpec, j, p);
            }
        });
    }

    private static DriftResult measure(DriftOptions o, List<Path> ckpts, List<VectorRef> vs, List<String> labels, List<Probe> probes,
                                       Map<String, List<List<ChatMessage>>> promptSets, TraitSpec evalSpec, Judge j, Progress p) throws IOException {
        Path out = o.out();
        // the journal's name carries the run's identity: other vectors, prompts or judge start a journal of their own
        Journal journal = Journal.named(out, "drift_checkpoints-", runId(o, vs, probes, j));
        if (journal.size() > 0) p.note("resuming: " + journal.size() + " results already in " + out);
        Map<Probe, double[]> baseMeans = baseMeans(o, journal, probes, promptSets);
        List<DriftResult.Row> rows = new ArrayList<>();
        List<Double> rates = new ArrayList<>();
        boolean passed = false;
        for (int ci = 0; ci < ckpts.size(); ci++) {
            Path c = ckpts.get(ci);
            String key = "checkpoint|" + identity(c);
            if (!journal.has(key)) {
                // an adapter is merged onto the base, whatever hub name its adapter_config.json records
                try (ChatModel m = LoraAdapter.isAdapter(c) ? o.compute().chatAdapted(o.base(), c) : o.compute().chat(c)) {
                    ObjectNode record = journal.newRecord(key);
                    if (evalSpec != null) Journal.putNumber(record, "rate", traitRate(m, evalSpec, j, o));
                    Map<Probe, double[]> means = new HashMap<>();
                    ArrayNode shifts = record.putArray("shifts");
                    for (int i = 0; i < vs.size(); i++) {
                        Probe pr = probes.get(i);
                        double[] mean = means.computeIfAbsent(pr, k -> Drift.meanLastPrompt(m, promptSets.get(k.trait()), k.layer()));
                        shifts.add(Drift.shift(baseMeans.get(pr), mean, vs.get(i).vector().layer(pr.layer())));
                    }
                    journal.append(List.of(record));
                }
            }
            JsonNode done = journal.get(key);
            if (evalSpec != null) rates.add(Journal.number(done.get("rate")));
            int step = c.getFileName().toString().matches("checkpoint-\\d+") ? Finetune.stepOf(c) : -1;
            for (int i = 0; i < vs.size(); i++) {
                double shift = done.get("shifts").get(i).asDouble();
                rows.add(new DriftResult.Row(c.toString(), step, labels.get(i), vs.get(i).source(), probes.get(i).layer(), shift));
                if (o.threshold() != null && shift > o.threshold()) passed = true;
            }
            p.update("checkpoints", ci + 1, ckpts.size());
        }
        write(out, rows);
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (String label : labels) {
            List<DriftResult.Row> mine = rows.stream().filter(r -> r.vector().equals(label)).toList();
            double[] x = new double[mine.size()], y = new double[mine.size()];
            for (int k = 0; k < mine.size(); k++) {
                x[k] = mine.get(k).step() >= 0 ? mine.get(k).step() : k;
                y[k] = mine.get(k).shift();
            }
            series.put("shift along " + label, new double[][] {x, y});
        }
        Charts.lines(out.resolve("drift.png"), "Finetuning shift along trait vectors", "step (or checkpoint index)", "projection shift", series);
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
        return new DriftResult(rows, passed, evalSpec == null ? null : rates, corr, out.resolve("drift.arrow"), out.resolve("drift.csv"), out.resolve("drift.png"));
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

    /** The base model's mean last-prompt activation per probe, from the journal or measured (and journaled) now. */
    private static Map<Probe, double[]> baseMeans(DriftOptions o, Journal journal, List<Probe> probes,
                                                  Map<String, List<List<ChatMessage>>> promptSets) throws IOException {
        Map<Probe, double[]> means = new LinkedHashMap<>();
        String key = "base|" + identity(o.base());
        JsonNode saved = journal.get(key);
        if (saved == null) {
            ObjectNode record = journal.newRecord(key);
            try (ChatModel b = o.compute().chat(o.base())) {
                for (Probe p : probes) {
                    if (means.containsKey(p)) continue;
                    double[] mean = Drift.meanLastPrompt(b, promptSets.get(p.trait()), p.layer());
                    means.put(p, mean);
                    ArrayNode a = record.putArray(p.trait() + "@" + p.layer());
                    for (double v : mean) a.add(v);
                }
            }
            journal.append(List.of(record));
            return means;
        }
        for (Probe p : probes) {
            JsonNode a = saved.get(p.trait() + "@" + p.layer());
            double[] mean = new double[a.size()];
            for (int i = 0; i < mean.length; i++) mean[i] = a.get(i).asDouble();
            means.put(p, mean);
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
