package dev.persona.spark;

import dev.persona.api.CheckpointDrift;
import dev.persona.api.Compute;
import dev.persona.api.DriftOptions;
import dev.persona.api.DriftResult;
import dev.persona.api.Judges;
import dev.persona.api.JsonText;
import dev.persona.extract.Judge;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code persona drift} on Spark: the base model's means in one task, then one task per checkpoint
 * (each loads its checkpoint, measures every vector's shift and, with an evaluation trait, the judged
 * rate), assembled on the driver by the library into the same table as {@code persona drift}
 * ({@link CheckpointDrift.Plan}). Writes OUT/drift (Parquet: checkpoint, step, vector, vector_file,
 * layer, shift), summary.json and _SUCCESS; {@link Result#exitCode} is the command's rule (3 when a
 * shift passed the threshold). Checkpoint, base and vector paths must be readable by every executor
 * (a shared filesystem).
 */
public final class DriftJob {
    private DriftJob() { }

    /**
     * @param checkpoints checkpoint folders; an entry with * ? or [ is a glob over local folders, expanded on the driver
     * @param run         a finetuning run folder (its checkpoint-N folders and final model), or null
     */
    public record Options(String base, List<String> checkpoints, String run, List<String> vectors, Integer layer, String promptsTrait, String system,
                          String evalTrait, String judge, int evalSamples, Double threshold, String dtype, String device, String out, boolean overwrite)
            implements Serializable {
        public Options {
            checkpoints = checkpoints == null ? List.of() : List.copyOf(checkpoints);
            vectors = vectors == null ? List.of() : List.copyOf(vectors);
        }

        /** The library's options (checked there), with globs expanded. */
        DriftOptions drift() {
            List<Path> ckpts = new ArrayList<>();
            for (String c : checkpoints) ckpts.addAll(expand(c));
            return new DriftOptions(Path.of(base), ckpts, run == null ? null : Path.of(run), vectors.stream().map(Path::of).toList(), layer, promptsTrait,
                    system, evalTrait, judge, evalSamples, threshold, Compute.parse(dtype, device), null, null);
        }
    }

    @com.fasterxml.jackson.databind.annotation.JsonNaming(com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(DriftResult drift, int checkpoints, String table, double seconds) {
        /** {@code persona drift}'s exit code: 3 when a shift passed the threshold, else 0. */
        @com.fasterxml.jackson.annotation.JsonIgnore
        public int exitCode() {
            return drift.exitCode();
        }
    }

    public static Result run(SparkSession spark, Options o) {
        long t0 = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // everything is checked on the driver before a task starts
        CheckpointDrift.Plan plan = CheckpointDrift.plan(o.drift());
        JobOutput out = JobOutput.prepare(o.out(), o.overwrite(), sc.hadoopConfiguration());
        List<String> ckpts = plan.checkpoints().stream().map(Path::toString).toList();
        double[][] base = sc.parallelize(List.of(0), 1).map(i -> CheckpointDrift.plan(o.drift()).measureBase()).collect().get(0);
        Broadcast<double[][]> baseMeans = sc.broadcast(base);
        List<Integer> indices = IntStream.range(0, ckpts.size()).boxed().toList();
        List<CheckpointDrift.CheckpointScore> scores = sc.parallelize(indices, Math.max(1, indices.size())).map(i -> {
            CheckpointDrift.Plan p = CheckpointDrift.plan(o.drift());
            try (Judge j = p.judged() ? Judges.open(o.judge(), Compute.parse(o.dtype(), o.device()).precision()) : null) {
                return p.score(Path.of(ckpts.get(i)), baseMeans.value(), j);
            }
        }).collect();
        DriftResult r = plan.assemble(scores);
        StructType schema = new StructType().add("checkpoint", DataTypes.StringType).add("step", DataTypes.IntegerType).add("vector", DataTypes.StringType)
                .add("vector_file", DataTypes.StringType).add("layer", DataTypes.IntegerType).add("shift", DataTypes.DoubleType);
        List<Row> rows = r.rows().stream().map(x -> RowFactory.create(x.checkpoint(), x.step(), x.vector(), x.vectorFile(), x.layer(), x.shift())).toList();
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(out.table("drift"));
        Result result = new Result(r, ckpts.size(), out.table("drift"), (System.nanoTime() - t0) / 1e9);
        out.finish(JsonText.write(result));
        return result;
    }

    /** A checkpoint entry: a folder, or a glob (the last path element may hold * ? [ ]) over folders, sorted. */
    static List<Path> expand(String entry) {
        if (!entry.matches(".*[*?\\[].*")) return List.of(Path.of(entry));
        Path p = Path.of(entry);
        Path dir = p.getParent() == null ? Path.of(".") : p.getParent();
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + p.getFileName());
        try (Stream<Path> s = Files.list(dir)) {
            // checkpoint-N folders in step order (checkpoint-10 after checkpoint-2), anything else by name
            java.util.Comparator<Path> byStep = java.util.Comparator.comparing((Path x) -> x.getFileName().toString().matches("checkpoint-\\d+")
                    ? String.format("%020d", Long.parseLong(x.getFileName().toString().substring(11))) : x.getFileName().toString());
            List<Path> found = s.filter(x -> Files.isDirectory(x) && m.matches(x.getFileName())).sorted(byStep).toList();
            if (found.isEmpty()) throw new PersonaException("no checkpoint folder matches " + entry, "check the glob (only its last part may hold wildcards)");
            return found;
        } catch (IOException e) {
            throw new PersonaException("cannot list " + dir + " for " + entry + ": " + e.getMessage(), "check the path", e);
        }
    }
}
