package dev.persona.cli;

import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Journal;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelFingerprint;
import dev.persona.model.PositionMask;
import dev.persona.steer.SteeringPlan;
import dev.persona.steer.Sweep;
import dev.persona.vectors.Charts;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import dev.persona.vectors.formats.VectorFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona sweep}: find the layer and coefficient that steer a trait best while staying coherent. */
@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = {"Steer the trait's evaluation questions at each (layer, coef), judge trait score and coherence, write",
            "sweep.arrow, sweep.csv and sweep.png, and store recommended_layer/recommended_coef (highest trait score with",
            "coherence >= --coherence-floor) in the vector file's metadata.",
            "Finished cells are journaled in OUT: rerun the same command after a crash to resume; more --layers or --coefs",
            "on the same OUT answer only the new cells."})
final class SweepCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--vector", required = true, description = "The Persona vector file (updated in place with the recommendation).")
    Path vector;

    @Option(names = "--trait", required = true, description = "Trait name or file (its eval questions are steered).")
    String trait;

    @Option(names = "--layers", split = ",", description = "Layers to try (default: every block output row 1..L-1).")
    List<Integer> layers;

    @Option(names = "--coefs", split = ",", defaultValue = "0,0.5,1,2,4", description = "Coefficients (default ${DEFAULT-VALUE}).")
    List<Double> coefs;

    @Option(names = "--kind", defaultValue = "response_avg", description = "Directions of the file (default ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--system", description = "System prompt for the questions (default: none, as the reference).")
    String system;

    @Option(names = "--judge", defaultValue = "rule", description = "rule, openai:URL[#MODEL] or local:DIR (default ${DEFAULT-VALUE}).")
    String judge;

    @Option(names = "--samples", defaultValue = "2", description = "Samples per question (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--max-tokens", defaultValue = "48", description = "New tokens (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--positions", defaultValue = "response", description = "response (default), prompt or all.")
    String positions;

    @Option(names = "--suppress", description = {"Sweep against the trait: its questions under the trait's own pos system prompts, steered with",
        "-|coef|; recommend the lowest trait score with coherence >= the floor (stored as recommended_suppress_*)."})
    boolean suppress;

    @Option(names = "--coherence-floor", defaultValue = "75", description = "Minimum mean coherence of a recommended cell (default ${DEFAULT-VALUE}).")
    double floor;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", defaultValue = "runs/sweep", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        TraitVector v = VectorFiles.read(vector, ModelConfig.load(model.resolve()).numLayers());
        TraitSpec spec = TraitLibrary.load(trait, "eval");
        Files.createDirectories(out);
        Sweep.Result r;
        try (ChatModel chat = compute.chat(model.resolve())) {
            int numLayers = chat.model().config().numLayers();
            List<Integer> ls = layers;
            if (ls == null) {
                ls = new ArrayList<>();
                for (int l = 1; l < numLayers; l++) ls.add(l);
            }
            for (int l : ls) {
                new SteeringPlan().add(new SteeringPlan.Steer(v, kind, l, 1, false, PositionMask.ALL)).check(chat.model(), ModelFingerprint.of(model.resolve()), true);
            }
            Sweep.Grid grid = new Sweep.Grid(kind, ls, coefs, samples, maxTokens, seed, PositionMask.parse(positions), floor);
            dev.persona.extract.Judge j = ExtractCommand.judgeFor(judge, compute.precision());
            // finished cells are journaled; the journal is tied to everything but the grid, so a rerun
            // after a crash, or with more layers or coefficients, answers only the cells it lacks
            // (its name carries that identity: other arguments start a journal of their own beside it)
            String id = runId(v, spec, j);
            Journal journal = Journal.named(out, suppress ? "suppress_cells-" : "sweep_cells-", id);
            if (journal.size() > 0) System.err.println("resuming: " + journal.size() + " cells already in " + out);
            ProgressBar bar = new ProgressBar("sweep", ls.size() * coefs.size());
            r = suppress
                    ? Sweep.suppress(chat, v, spec, j, grid, journal, (done, total) -> bar.update(done, ""))
                    : Sweep.run(chat, v, spec, system, j, grid, journal, (done, total) -> bar.update(done, ""));
        }
        Files.createDirectories(out);
        writeTables(out, r.cells());
        Map<String, double[][]> series = new LinkedHashMap<>();
        for (Sweep.Cell c : r.cells()) {
            series.computeIfAbsent("trait, layer " + c.layer(), k -> new double[2][0]);
            series.computeIfAbsent("coherence, layer " + c.layer(), k -> new double[2][0]);
        }
        for (var e : series.entrySet()) {
            boolean coherence = e.getKey().startsWith("coherence");
            int layer = Integer.parseInt(e.getKey().substring(e.getKey().lastIndexOf(' ') + 1));
            List<Sweep.Cell> cs = r.cells().stream().filter(c -> c.layer() == layer).toList();
            e.setValue(new double[][] {cs.stream().mapToDouble(Sweep.Cell::coef).toArray(),
                    cs.stream().mapToDouble(c -> coherence ? c.coherence() : c.traitScore()).toArray()});
        }
        Charts.lines(out.resolve("sweep.png"), (suppress ? "Suppressing " : "Steering ") + spec.name() + ": trait score and coherence by coefficient", "coefficient", "score (0-100)", series);
        if (r.best() != null) {
            Map<String, String> meta = new LinkedHashMap<>(v.metadata());
            // a suppression sweep keeps its own recommendation beside the eliciting one
            String prefix = suppress ? "recommended_suppress_" : "recommended_";
            meta.put(prefix + "layer", Integer.toString(r.best().layer()));
            meta.put(prefix + "coef", Double.toString(r.best().coef()));
            meta.put(prefix + "kind", kind);
            meta.put(prefix + "positions", positions);
            meta.put(suppress ? "suppress_sweep" : "sweep", "trait score " + String.format("%.1f", r.best().traitScore()) + ", coherence " + String.format("%.1f", r.best().coherence())
                    + ", coherence floor " + floor + ", seed " + seed);
            // the recommendation lives in Persona's own format: another format's file gets a .safetensors sibling
            Path target = VectorFormat.detect(vector) == VectorFormat.PERSONA ? vector : vector.resolveSibling(vector.getFileName().toString().replaceFirst("\\.[^.]*$", "") + ".safetensors");
            new TraitVector(v.directions(), meta).save(target);
            if (!target.equals(vector)) System.err.println("recommended layer and coef written to " + target + " (" + vector + " is not a Persona vector file)");
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("cells", r.cells());
        summary.put("recommended", r.best());
        summary.put("table", out.resolve("sweep.arrow").toString());
        if (json) {
            System.out.println(Json.write(summary));
        } else {
            for (Sweep.Cell c : r.cells()) System.out.printf("layer %d coef %5.2f: trait %5.1f coherence %5.1f (n=%d)%n", c.layer(), c.coef(), c.traitScore(), c.coherence(), c.n());
            System.out.println(r.best() == null ? "no cell reached coherence " + floor + "; the vector file is unchanged"
                    : "recommended: layer " + r.best().layer() + ", coef " + r.best().coef() + " (written to the vector file's metadata)");
        }
        return 0;
    }

    /** Everything a cell's result depends on besides its layer and coefficient. */
    private String runId(TraitVector v, TraitSpec spec, dev.persona.extract.Judge j) {
        String directions = Journal.idOf(java.util.Arrays.deepToString(v.rows(kind)));
        return "sweep|" + (suppress ? "suppress|" : "") + ModelFingerprint.of(model.resolve()) + "|" + directions
                + "|" + spec.sha256() + "|" + kind + "|" + system + "|" + j.name() + "|" + samples + "|" + maxTokens + "|" + seed + "|" + positions
                + compute.runSuffix();
    }

    private static void writeTables(Path out, List<Sweep.Cell> cells) throws IOException {
        StringBuilder csv = new StringBuilder("layer,coef,n,trait_score,coherence\n");
        for (Sweep.Cell c : cells) csv.append(c.layer()).append(',').append(c.coef()).append(',').append(c.n()).append(',').append(c.traitScore()).append(',').append(c.coherence()).append('\n');
        Files.writeString(out.resolve("sweep.csv"), csv);
        ArrowType dbl = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
        Schema schema = new Schema(List.of(Field.nullable("layer", new ArrowType.Int(32, true)), Field.nullable("coef", dbl),
                Field.nullable("n", new ArrowType.Int(32, true)), Field.nullable("trait_score", dbl), Field.nullable("coherence", dbl)));
        ArrowDatasets.write(out.resolve("sweep.arrow"), schema, root -> {
            int i = 0;
            for (Sweep.Cell c : cells) {
                ((IntVector) root.getVector("layer")).setSafe(i, c.layer());
                ((Float8Vector) root.getVector("coef")).setSafe(i, c.coef());
                ((IntVector) root.getVector("n")).setSafe(i, c.n());
                ((Float8Vector) root.getVector("trait_score")).setSafe(i, c.traitScore());
                ((Float8Vector) root.getVector("coherence")).setSafe(i, c.coherence());
                i++;
            }
            root.setRowCount(i);
        });
    }

}
