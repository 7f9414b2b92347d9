package dev.persona.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Journal;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.Finetune;
import dev.persona.model.PersonaException;
import dev.persona.model.io.LoraAdapter;
import dev.persona.vectors.Charts;
import dev.persona.vectors.Drift;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona drift}: the finetuning shift of checkpoints along trait vectors. */
@Command(name = "drift", mixinStandardHelpOptions = true,
        description = {"For each checkpoint and vector: the mean over evaluation prompts of the (checkpoint - base) last-prompt-token",
            "activation, projected onto the unit vector. Writes drift.arrow, drift.csv and drift.png; exits with code 3",
            "when a shift passes --threshold, so a training pipeline can stop on it.",
            "Each measured checkpoint is journaled in OUT: rerun after a crash, or with more checkpoints, to measure only the rest."})
final class DriftCommand implements Callable<Integer> {
    @Mixin
    ComputeOption compute;

    @Option(names = "--base", required = true, description = "The model before finetuning.")
    Path base;

    @Option(names = "--checkpoints", arity = "1..*", description = "Checkpoint directories: full models, or PEFT LoRA adapters merged onto --base.")
    List<Path> checkpoints;

    @Option(names = "--run", description = "A finetuning output directory with checkpoint-N/ folders (and its final model).")
    Path run;

    @Option(names = "--vector", required = true, arity = "1..*", description = "Persona vector files.")
    List<Path> vectors;

    @Option(names = "--layer", description = "Vector row (default: each file's recommended or best layer).")
    Integer layer;

    @Option(names = "--prompts-trait", defaultValue = "", description = "Trait whose eval questions are the prompts for every vector (default: each vector's own trait).")
    String promptsTrait;

    @Option(names = "--system", description = "System prompt for the evaluation prompts.")
    String system;

    @Option(names = "--eval", description = "Also judge each checkpoint's answers to this trait's eval questions and correlate shift with trait rate.")
    String evalTrait;

    @Option(names = "--judge", defaultValue = "rule", description = "Judge for --eval (default ${DEFAULT-VALUE}).")
    String judge;

    @Option(names = "--eval-samples", defaultValue = "2", description = "Samples per eval question for --eval (default ${DEFAULT-VALUE}).")
    int evalSamples;

    @Option(names = "--threshold", description = "Exit with code 3 when any shift exceeds this.")
    Double threshold;

    @Option(names = "--out", defaultValue = "runs/drift", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<Path> ckpts = new ArrayList<>();
        if (checkpoints != null) ckpts.addAll(checkpoints);
        if (run != null) {
            try (Stream<Path> s = Files.list(run)) {
                s.filter(p -> p.getFileName().toString().matches("checkpoint-\\d+") && (Files.isRegularFile(p.resolve("model.safetensors"))
                                || LoraAdapter.isAdapter(p)))
                        .sorted((a, b) -> Integer.compare(Finetune.stepOf(a), Finetune.stepOf(b))).forEach(ckpts::add);
            }
            if (Files.isRegularFile(run.resolve("model.safetensors")) || LoraAdapter.isAdapter(run)) ckpts.add(run);
        }
        if (ckpts.isEmpty()) throw new PersonaException("no checkpoints given", "pass --checkpoints DIR... or --run DIR");
        if (LoraAdapter.isAdapter(base) && ckpts.stream().anyMatch(LoraAdapter::isAdapter)) {
            throw new PersonaException("--base " + base + " is itself a LoRA adapter, and adapter checkpoints are merged onto --base (stacked adapters are not merged)",
                    "merge the base adapter with PEFT's merge_and_unload(), save it, and pass that directory as --base");
        }
        List<TraitVector> vs = new ArrayList<>();
        int numLayers = ModelConfig.load(LoraAdapter.isAdapter(base) ? LoraAdapter.baseOf(base) : base).numLayers();
        for (Path p : vectors) vs.add(VectorFiles.read(p, numLayers));
        // each vector is measured on its own trait's evaluation prompts (the paper's shift), unless --prompts-trait says otherwise
        Map<String, List<List<ChatMessage>>> promptSets = new LinkedHashMap<>();
        List<Probe> probes = new ArrayList<>();
        for (int i = 0; i < vs.size(); i++) {
            String traitName = promptsTrait.isEmpty() ? vs.get(i).metadata().getOrDefault("trait", "") : promptsTrait;
            try {
                promptSets.computeIfAbsent(traitName, t -> {
                    List<List<ChatMessage>> ps = new ArrayList<>();
                    for (String q : TraitLibrary.load(t, "eval").questions()) ps.add(ChatMessage.prompt(system, q));
                    return ps;
                });
            } catch (PersonaException e) {
                throw new PersonaException(vectors.get(i) + " names trait '" + traitName + "', which has no evaluation questions",
                        "pass --prompts-trait NAME (a built-in trait or a trait file)", e);
            }
            probes.add(new Probe(traitName, layer != null ? layer : SteerCommand.defaultLayer(vs.get(i), vectors.get(i))));
        }
        TraitSpec evalSpec = evalTrait == null ? null : TraitLibrary.load(evalTrait, "eval");
        dev.persona.extract.Judge j = evalTrait == null ? null : ExtractCommand.judgeFor(judge, compute.precision());
        // each finished checkpoint (and the base's means) is journaled: a rerun after a crash, or with
        // more checkpoints, loads only the models it has not measured
        Files.createDirectories(out);
        // the journal's name carries the run's identity: other vectors, prompts or judge start a journal of their own
        String id = runId(vs, probes, j);
        Journal journal = Journal.named(out, "drift_checkpoints-", id);
        if (journal.size() > 0) System.err.println("resuming: " + journal.size() + " results already in " + out);
        Map<Probe, double[]> baseMeans = baseMeans(journal, probes, promptSets);
        List<Object[]> rows = new ArrayList<>();
        List<Double> rates = new ArrayList<>();
        boolean passed = false;
        ProgressBar bar = new ProgressBar("checkpoints", ckpts.size());
        for (Path c : ckpts) {
            String key = "checkpoint|" + identity(c);
            if (!journal.has(key)) {
                // an adapter is merged onto --base, whatever hub name its adapter_config.json records
                try (ChatModel m = LoraAdapter.isAdapter(c) ? compute.chatAdapted(base, c) : compute.chat(c)) {
                    ObjectNode record = journal.newRecord(key);
                    if (evalSpec != null) Journal.putNumber(record, "rate", traitRate(m, evalSpec, j));
                    Map<Probe, double[]> means = new LinkedHashMap<>();
                    ArrayNode shifts = record.putArray("shifts");
                    for (int i = 0; i < vs.size(); i++) {
                        Probe p = probes.get(i);
                        double[] mean = means.computeIfAbsent(p, k -> Drift.meanLastPrompt(m, promptSets.get(k.trait()), k.layer()));
                        shifts.add(Drift.shift(baseMeans.get(p), mean, vs.get(i).layer(p.layer())));
                    }
                    journal.append(List.of(record));
                }
            }
            JsonNode done = journal.get(key);
            if (evalSpec != null) rates.add(Journal.number(done.get("rate")));
            int step = c.getFileName().toString().matches("checkpoint-\\d+") ? Finetune.stepOf(c) : -1;
            for (int i = 0; i < vs.size(); i++) {
                double shift = done.get("shifts").get(i).asDouble();
                rows.add(new Object[] {c.toString(), step, vs.get(i).metadata().getOrDefault("trait", vectors.get(i).toString()), probes.get(i).layer(), shift});
                if (threshold != null && shift > threshold) passed = true;
            }
            bar.update(rows.size() / vs.size(), c.getFileName().toString());
        }
        Files.createDirectories(out);
        write(out, rows);
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (int i = 0; i < vs.size(); i++) {
            String name = (String) rows.get(i)[2];
            List<Object[]> mine = rows.stream().filter(r -> r[2].equals(name)).toList();
            double[] x = new double[mine.size()], y = new double[mine.size()];
            for (int k = 0; k < mine.size(); k++) {
                x[k] = (int) mine.get(k)[1] >= 0 ? (int) mine.get(k)[1] : k;
                y[k] = (double) mine.get(k)[4];
            }
            series.put("shift along " + name, new double[][] {x, y});
        }
        Charts.lines(out.resolve("drift.png"), "Finetuning shift along trait vectors", "step (or checkpoint index)", "projection shift", series);
        List<Map<String, Object>> table = new ArrayList<>();
        for (Object[] r : rows) table.add(Map.of("checkpoint", r[0], "step", r[1], "vector", r[2], "layer", r[3], "shift", r[4]));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("rows", table);
        summary.put("threshold_passed", passed);
        if (evalSpec != null) {
            summary.put("trait_rates", rates);
            Map<String, Object> corr = new LinkedHashMap<>();
            for (int i = 0; i < vs.size(); i++) {
                String name = (String) rows.get(i)[2];
                double[] shifts = rows.stream().filter(r -> r[2].equals(name)).mapToDouble(r -> (double) r[4]).toArray();
                double r = dev.persona.vectors.Stats.pearson(shifts, rates.stream().mapToDouble(Double::doubleValue).toArray());
                double[] ci = dev.persona.vectors.Stats.pearsonInterval(r, shifts.length);
                corr.put(name, Map.of("r", r, "ci95_low", ci[0], "ci95_high", ci[1], "n", shifts.length));
            }
            summary.put("correlation_shift_vs_rate", corr);
        }
        if (json) {
            System.out.println(Json.write(summary));
        } else {
            for (Object[] r : rows) System.out.printf("%-40s %-30s layer %d shift %+.4f%n", r[0], r[2], (int) r[3], (double) r[4]);
            if (evalSpec != null) System.out.println("trait rates " + rates + "; correlation " + summary.get("correlation_shift_vs_rate"));
        }
        if (passed) {
            System.err.println("drift: a shift passed the threshold " + threshold);
            return 3;
        }
        return 0;
    }

    /** The base model's mean last-prompt activation per probe, from the journal or measured (and journaled) now. */
    private Map<Probe, double[]> baseMeans(Journal journal, List<Probe> probes, Map<String, List<List<ChatMessage>>> promptSets) throws IOException {
        Map<Probe, double[]> means = new LinkedHashMap<>();
        String key = "base|" + identity(base);
        JsonNode saved = journal.get(key);
        if (saved == null) {
            ObjectNode record = journal.newRecord(key);
            try (ChatModel b = compute.chat(base)) {
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
    private String runId(List<TraitVector> vs, List<Probe> probes, dev.persona.extract.Judge j) {
        StringBuilder id = new StringBuilder("drift");
        for (int i = 0; i < vs.size(); i++) {
            float[] row = vs.get(i).layer(probes.get(i).layer());
            id.append('|').append(probes.get(i)).append(':').append(java.util.Arrays.toString(row));
        }
        id.append('|').append(system).append('|').append(evalTrait).append('|').append(j == null ? "" : j.name()).append('|').append(evalSamples);
        return id.append(compute.runSuffix()).toString();
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

    /** Where a vector's shift is measured: the evaluation prompts of {@code trait}, at vector row {@code layer}. */
    private record Probe(String trait, int layer) { }

    /** Fraction of answers to the eval questions (temperature 1, seeded) that the judge scores >= 50. */
    private double traitRate(ChatModel m, TraitSpec spec, dev.persona.extract.Judge j) {
        List<List<ChatMessage>> convs = new ArrayList<>();
        for (String q : spec.questions()) for (int s = 0; s < evalSamples; s++) convs.add(ChatMessage.prompt(system, q));
        List<String> answers = m.reply(convs, dev.persona.model.GenerationOptions.sample(64, 1.0, 0));
        int scored = 0, high = 0;
        for (int i = 0; i < convs.size(); i++) {
            var t = j.traitScore(new dev.persona.extract.JudgeRequest(spec.name(), convs.get(i), answers.get(i), spec.evalPrompt()));
            if (t.isEmpty()) continue;
            scored++;
            if (t.getAsDouble() >= 50) high++;
        }
        return scored == 0 ? Double.NaN : (double) high / scored;
    }

    private static void write(Path out, List<Object[]> rows) throws IOException {
        StringBuilder csv = new StringBuilder("checkpoint,step,vector,layer,shift\n");
        for (Object[] r : rows) csv.append(r[0]).append(',').append(r[1]).append(',').append(r[2]).append(',').append(r[3]).append(',').append(r[4]).append('\n');
        Files.writeString(out.resolve("drift.csv"), csv);
        Schema schema = new Schema(List.of(Field.nullable("checkpoint", new ArrowType.Utf8()), Field.nullable("step", new ArrowType.Int(32, true)),
                Field.nullable("vector", new ArrowType.Utf8()), Field.nullable("layer", new ArrowType.Int(32, true)),
                Field.nullable("shift", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE))));
        ArrowDatasets.write(out.resolve("drift.arrow"), schema, root -> {
            int i = 0;
            for (Object[] r : rows) {
                ((VarCharVector) root.getVector("checkpoint")).setSafe(i, ((String) r[0]).getBytes(StandardCharsets.UTF_8));
                ((IntVector) root.getVector("step")).setSafe(i, (int) r[1]);
                ((VarCharVector) root.getVector("vector")).setSafe(i, ((String) r[2]).getBytes(StandardCharsets.UTF_8));
                ((IntVector) root.getVector("layer")).setSafe(i, (int) r[3]);
                ((Float8Vector) root.getVector("shift")).setSafe(i, (double) r[4]);
                i++;
            }
            root.setRowCount(i);
        });
    }
}
