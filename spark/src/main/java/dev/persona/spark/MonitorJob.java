package dev.persona.spark;

import dev.persona.api.Conversation;
import dev.persona.api.JsonText;
import dev.persona.api.Monitoring;
import dev.persona.api.VectorRef;
import dev.persona.model.ChatDataset;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Monitor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;

/**
 * {@code persona monitor} on Spark, for any number of vectors: each conversation's last-prompt-token
 * projection (and response average, when it ends with an assistant turn) onto each vector. Writes,
 * under OUT: {@code projections/} (Parquet, one row per conversation and vector: id, condition,
 * vector, layer, projection_prompt_last, projection_response), {@code rejects/}, {@code summary.json}
 * and, last, {@code _SUCCESS}.
 *
 * <p>Vectors are named by file stem; each is read at {@code layer} (null: its recommended or best layer)
 * in its {@code kind} directions.
 */
public final class MonitorJob {
    private MonitorJob() { }

    public record Options(String data, String format, List<String> vectors, ModelSpec model, Integer layer, String kind, String conditionField,
                          int batch, int partitions, String out, boolean overwrite) implements Serializable {
        public Options {
            if (vectors == null || vectors.isEmpty()) throw new PersonaException("no vectors given", "pass --vector FILE (one or more)");
            vectors = List.copyOf(vectors);
            if (batch < 1) throw new PersonaException("--batch " + batch + " is below 1", "pass a batch of 1 or more conversations");
            if (kind == null) kind = "response_avg";
        }
    }

    @com.fasterxml.jackson.databind.annotation.JsonNaming(com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(long conversations, long rejects, int vectors, String projections, String rejectsTable, long modelLoads, double modelLoadSeconds, double seconds) { }

    /** One output row, or a reject (vector null, reason set). */
    public record Projected(long id, String condition, String vector, int layer, double promptLast, double response, String line, String reject)
            implements Serializable { }

    public static Result run(SparkSession spark, Options o) {
        long t0 = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JobOutput out = JobOutput.prepare(o.out(), o.overwrite(), sc.hadoopConfiguration());
        LongAccumulator done = sc.sc().longAccumulator("persona conversations projected");
        LongAccumulator loads = sc.sc().longAccumulator("persona model loads");
        org.apache.spark.util.DoubleAccumulator loadSeconds = sc.sc().doubleAccumulator("persona model load seconds");
        JavaPairRDD<String, Long> samples = Inputs.samples(spark, o.data(), Inputs.format(o.data(), o.format()));
        if (o.partitions() > 0) samples = samples.repartition(o.partitions());
        JavaRDD<Projected> projected = samples.mapPartitions(it -> partition(it, o, done, loads, loadSeconds)).persist(StorageLevel.MEMORY_AND_DISK());
        try {
            StructType schema = new StructType().add("id", DataTypes.LongType).add("condition", DataTypes.StringType).add("vector", DataTypes.StringType)
                    .add("layer", DataTypes.IntegerType).add("projection_prompt_last", DataTypes.DoubleType).add("projection_response", DataTypes.DoubleType);
            JavaRDD<Row> rows = projected.filter(p -> p.reject() == null).sortBy(Projected::id, true, Math.max(1, projected.getNumPartitions()))
                    .map(p -> RowFactory.create(p.id(), p.condition(), p.vector(), p.layer(), p.promptLast(), Double.isNaN(p.response()) ? null : p.response()));
            spark.createDataFrame(rows, schema).write().parquet(out.table("projections"));
            StructType rejectSchema = new StructType().add("id", DataTypes.LongType).add("line", DataTypes.StringType).add("reason", DataTypes.StringType);
            spark.createDataFrame(projected.filter(p -> p.reject() != null).map(p -> RowFactory.create(p.id(), p.line(), p.reject())), rejectSchema)
                    .write().parquet(out.table("rejects"));
            long rejects = projected.filter(p -> p.reject() != null).count();
            // one row per conversation and vector
            long convs = projected.filter(p -> p.reject() == null).count() / o.vectors().size();
            Result r = new Result(convs, rejects, o.vectors().size(), out.table("projections"), out.table("rejects"), loads.value(), loadSeconds.value(), (System.nanoTime() - t0) / 1e9);
            out.finish(JsonText.write(r));
            return r;
        } finally {
            projected.unpersist(false);
        }
    }

    static Iterator<Projected> partition(Iterator<scala.Tuple2<String, Long>> it, Options o, LongAccumulator done, LongAccumulator loads,
                                      org.apache.spark.util.DoubleAccumulator loadSeconds) {
        ExecutorModels.Loaded model = ExecutorModels.get(o.model(), loads, loadSeconds);
        List<VectorRef> vectors = new ArrayList<>();
        for (String v : o.vectors()) vectors.add(model.vector(v));
        List<String> names = o.vectors().stream().map(v -> dev.persona.api.VectorShelf.stem(java.nio.file.Path.of(v))).toList();
        List<Projected> out = new ArrayList<>();
        List<Conversation> convs = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        while (it.hasNext()) {
            scala.Tuple2<String, Long> t = it.next();
            try {
                ChatDataset.Line line = ChatDataset.parse(t._1(), (int) (t._2() + 1), "conversation " + t._2());
                String condition = o.conditionField() == null ? null : line.object().path(o.conditionField()).asText(null);
                convs.add(new Conversation(line.messages(), condition));
                ids.add(t._2());
            } catch (PersonaException e) {
                out.add(new Projected(t._2(), null, null, -1, Double.NaN, Double.NaN, t._1(), e.getMessage().split("\n")[0]));
            }
            if (convs.size() == o.batch() || !it.hasNext() && !convs.isEmpty()) {
                for (int v = 0; v < vectors.size(); v++) {
                    VectorRef ref = vectors.get(v);
                    int layer = o.layer() != null ? o.layer() : ref.defaultLayer();
                    List<Conversation> batch = List.copyOf(convs);
                    List<Monitor.Row> rows = model.call(p -> Monitoring.project(p, ref, layer, o.kind(), batch));
                    for (int i = 0; i < rows.size(); i++) {
                        out.add(new Projected(ids.get(i), convs.get(i).condition(), names.get(v), layer, rows.get(i).promptLast(),
                                rows.get(i).response(), null, null));
                    }
                }
                done.add(convs.size());
                convs.clear();
                ids.clear();
            }
        }
        return out.iterator();
    }
}
