package dev.persona.api;

import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.BatchSize;
import dev.persona.model.ChatMessage;
import dev.persona.model.PositionMask;
import dev.persona.steer.SteeringPlan;
import dev.persona.steer.Sweep;
import dev.persona.vectors.Charts;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFormat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The layer x coefficient sweep: steers the trait's evaluation questions at each cell, judges trait
 * score and coherence, writes sweep.arrow, sweep.csv and sweep.png, and stores the recommended cell
 * (recommended_layer/coef/kind/positions, or recommended_suppress_* for a suppression sweep) in the
 * vector's file (a Persona .safetensors sibling for other formats). Cells are journaled: a rerun after a
 * crash, or with a grown grid, answers only the cells it lacks.
 */
public final class SteeringSweep {
    /** Answers of a cell generated together when memory allows. */
    public static final int MAX_BATCH = 64;

    private SteeringSweep() { }

    public static SweepResult run(Persona m, VectorRef vector, String trait, SweepOptions o, Progress progress) {
        TraitSpec spec = TraitLibrary.load(trait, "eval");
        Progress p = Progress.orNone(progress);
        PositionMask positions = PositionMask.parse(o.positions());
        TraitVector v = vector.vector();
        List<Integer> ls = new ArrayList<>();
        if (o.layers() != null) ls.addAll(o.layers());
        else for (int l = 1; l < m.numLayers(); l++) ls.add(l);
        for (int l : ls) {
            new SteeringPlan().add(new SteeringPlan.Steer(v, o.kind(), l, 1, false, PositionMask.ALL)).check(m.chatModel().model(), m.fingerprint(), true);
        }
        // a cell's answers are generated together when memory allows (at most MAX_BATCH); a smaller batch splits them, each part with its own seed
        List<List<ChatMessage>> asked = o.suppress() ? Sweep.suppressionPrompts(spec, o.samples()) : Sweep.prompts(spec, o.system(), o.samples());
        BatchSize batch = BatchSize.resolve(o.batch(), m.chatModel().model().config(), BatchSize.Work.GENERATION,
                m.chatModel().longest(asked, true) + o.maxTokens(), MAX_BATCH);
        int rows = Math.min(batch.rows(), asked.size());
        p.note("answers per generation: " + batch.describe());
        Sweep.Grid grid = new Sweep.Grid(o.kind(), ls, o.coefs(), o.samples(), o.maxTokens(), o.seed(), positions, o.coherenceFloor(), rows);
        Path out = o.out();
        return Io.locked(out, "persona sweep", () -> {
            Sweep.Result r;
            try (Judge j = Judges.open(o.judge(), m.compute().precision(), p)) {
                // finished cells are journaled; the journal is tied to everything but the grid, so a rerun
                // after a crash, or with more layers or coefficients, answers only the cells it lacks
                // (its name carries that identity: other arguments start a journal of their own beside it)
                Journal journal = Journal.named(out, o.suppress() ? "suppress_cells-" : "sweep_cells-", runId(m, v, spec, j, o)
                        + (rows < asked.size() ? "|batch " + rows : ""));
                if (journal.size() > 0) p.note("resuming: " + journal.size() + " cells already in " + out);
                int total = ls.size() * o.coefs().size();
                r = o.suppress()
                        ? Sweep.suppress(m.chatModel(), v, spec, j, grid, journal, (done, t) -> p.update("sweep", done, total))
                        : Sweep.run(m.chatModel(), v, spec, o.system(), j, grid, journal, (done, t) -> p.update("sweep", done, total));
            }
            writeTables(out, r.cells());
            Map<String, double[][]> series = new LinkedHashMap<>();
            for (int layer : ls) {
                List<Sweep.Cell> cs = r.cells().stream().filter(c -> c.layer() == layer).toList();
                double[] coefs = cs.stream().mapToDouble(Sweep.Cell::coef).toArray();
                series.put("trait, layer " + layer, new double[][] {coefs, cs.stream().mapToDouble(Sweep.Cell::traitScore).toArray()});
                series.put("coherence, layer " + layer, new double[][] {coefs, cs.stream().mapToDouble(Sweep.Cell::coherence).toArray()});
            }
            Charts.lines(out.resolve("sweep.png"), (o.suppress() ? "Suppressing " : "Steering ") + spec.name() + ": trait score and coherence by coefficient",
                    "coefficient", "score (0-100)", series);
            VectorRef updated = vector;
            Path target = null;
            if (r.best() != null) {
                Map<String, String> meta = new LinkedHashMap<>(v.metadata());
                // a suppression sweep keeps its own recommendation beside the eliciting one
                String prefix = o.suppress() ? "recommended_suppress_" : "recommended_";
                meta.put(prefix + "layer", Integer.toString(r.best().layer()));
                meta.put(prefix + "coef", Double.toString(r.best().coef()));
                meta.put(prefix + "kind", o.kind());
                meta.put(prefix + "positions", o.positions());
                meta.put(o.suppress() ? "suppress_sweep" : "sweep", "trait score " + String.format("%.1f", r.best().traitScore()) + ", coherence "
                        + String.format("%.1f", r.best().coherence()) + ", coherence floor " + o.coherenceFloor() + ", seed " + o.seed());
                updated = vector.withMetadata(meta);
                if (vector.file() != null) {
                    // the recommendation lives in Persona's own format: another format's file gets a .safetensors sibling
                    Path f = vector.file();
                    target = VectorFormat.detect(f) == VectorFormat.PERSONA ? f
                            : f.resolveSibling(f.getFileName().toString().replaceFirst("\\.[^.]*$", "") + ".safetensors");
                    updated.vector().save(target);
                    if (!target.equals(f)) p.note("recommended layer and coef written to " + target + " (" + f + " is not a Persona vector file)");
                    updated = VectorRef.of(target, updated.vector());
                }
            }
            return new SweepResult(r.cells(), r.best(), out.resolve("sweep.arrow"), out.resolve("sweep.png"), target, updated);
        });
    }

    /** Everything a cell's result depends on besides its layer and coefficient. */
    private static String runId(Persona m, TraitVector v, TraitSpec spec, Judge j, SweepOptions o) {
        String directions = Journal.idOf(Arrays.deepToString(v.rows(o.kind())));
        return "sweep|" + (o.suppress() ? "suppress|" : "") + m.fingerprint() + "|" + directions
                + "|" + spec.sha256() + "|" + o.kind() + "|" + o.system() + "|" + j.name() + "|" + o.samples() + "|" + o.maxTokens() + "|" + o.seed()
                + "|" + o.positions() + m.compute().runSuffix();
    }

    private static void writeTables(Path out, List<Sweep.Cell> cells) throws IOException {
        Tables.csv(out.resolve("sweep.csv"), List.of("layer", "coef", "n", "trait_score", "coherence"),
                cells.stream().map(c -> List.<Object>of(c.layer(), c.coef(), c.n(), c.traitScore(), c.coherence())).toList());
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
