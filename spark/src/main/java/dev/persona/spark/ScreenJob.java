package dev.persona.spark;

import dev.persona.api.JsonText;
import dev.persona.api.ScreenOptions;
import dev.persona.api.Screening;
import dev.persona.api.VectorRef;
import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Screen;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;

/**
 * {@code persona screen} on Spark: every sample of a chat dataset scored by projection difference
 * (against the base model's own greedy reply) and the cheap no-generation approximation, each
 * partition in the runtime's batches on its executor's shared model; then ranked and flagged on the
 * driver exactly as {@code persona screen} does ({@link Screening#flag}). Writes, under OUT:
 * {@code scores/} (Parquet: id, rank, projection_difference, cheap_score, base_reply, flagged),
 * {@code filtered/} (the unflagged samples in the input's format), {@code rejects/} (Parquet: id, line,
 * reason), {@code summary.json} and, last, {@code _SUCCESS}.
 */
public final class ScreenJob {
    private ScreenJob() { }

    /**
     * @param data           JSONL file or folder, or Parquet (any Hadoop URI)
     * @param format         jsonl, parquet, or null (from the extension)
     * @param vector         vector file (path or Hadoop URI)
     * @param batch          samples per runtime batch within a partition
     * @param partitions     repartition the samples into this many (0: keep the input's)
     * @param faultPartition test-only: the first attempt of this partition fails half way (-1: never)
     */
    public record Options(String data, String format, String vector, ModelSpec model, Integer layer, boolean baseReplies, Integer top, double percentile,
                          int maxTokens, int batch, int partitions, String out, boolean overwrite, int faultPartition) implements Serializable {
        public Options {
            if (batch < 1) throw new PersonaException("--batch " + batch + " is below 1", "pass a batch of 1 or more samples");
            // the library's own checks of top, percentile and max tokens
            new ScreenOptions(layer, baseReplies, top, percentile, maxTokens, null, null);
        }

        ScreenOptions screen() {
            return new ScreenOptions(layer, baseReplies, top, percentile, maxTokens, null, null);
        }
    }

    /** What the job did. */
    @com.fasterxml.jackson.databind.annotation.JsonNaming(com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(long samples, long rejects, int flagged, String scoredBy, String scores, String filtered, String rejectsTable,
                         long modelLoads, double modelLoadSeconds, long generatedTokens, double seconds) { }

    /** One sample's outcome: scores, or the reason it was rejected. */
    public record Scored(long id, String line, double difference, double cheap, String baseReply, String reject) implements Serializable { }

    static final AtomicBoolean FAULT_FIRED = new AtomicBoolean();

    public static Result run(SparkSession spark, Options o) {
        long t0 = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JobOutput out = JobOutput.prepare(o.out(), o.overwrite(), sc.hadoopConfiguration());
        String format = Inputs.format(o.data(), o.format());
        LongAccumulator done = sc.sc().longAccumulator("persona samples scored");
        LongAccumulator tokens = sc.sc().longAccumulator("persona base-reply tokens");
        LongAccumulator loads = sc.sc().longAccumulator("persona model loads");
        org.apache.spark.util.DoubleAccumulator loadSeconds = sc.sc().doubleAccumulator("persona model load seconds");
        JavaPairRDD<String, Long> samples = Inputs.samples(spark, o.data(), format);
        if (o.partitions() > 0) samples = samples.repartition(o.partitions());
        JavaRDD<Scored> scored = samples.mapPartitions(it -> partition(it, o, done, tokens, loads, loadSeconds)).persist(StorageLevel.MEMORY_AND_DISK());
        try {
            // rejects
            StructType rejectSchema = new StructType().add("id", DataTypes.LongType).add("line", DataTypes.StringType).add("reason", DataTypes.StringType);
            JavaRDD<Row> rejectRows = scored.filter(s -> s.reject() != null).map(s -> RowFactory.create(s.id(), s.line(), s.reject()));
            spark.createDataFrame(rejectRows, rejectSchema).write().parquet(out.table("rejects"));
            // ranking and flags on the driver, as persona screen does them: only (id, scores) travel
            List<Scored> good = scored.filter(s -> s.reject() == null).map(s -> new Scored(s.id(), null, s.difference(), s.cheap(), null, null))
                    .sortBy(Scored::id, true, 1).collect();
            if (good.isEmpty()) throw new PersonaException(o.data() + " holds no sample that could be scored", "see " + out.table("rejects") + " for why");
            List<Screen.Score> compact = new ArrayList<>();
            long[] ids = new long[good.size()];
            for (int i = 0; i < good.size(); i++) {
                compact.add(new Screen.Score(i, good.get(i).difference(), good.get(i).cheap(), null));
                ids[i] = good.get(i).id();
            }
            Screening.Flagging f = Screening.flag(compact, o.screen());
            java.util.Map<Long, int[]> rankOf = new java.util.HashMap<>();
            for (int i = 0; i < ids.length; i++) rankOf.put(ids[i], new int[] {f.rank()[i], f.flagged().contains(i) ? 1 : 0});
            Broadcast<java.util.Map<Long, int[]>> ranks = sc.broadcast(rankOf);
            StructType schema = new StructType().add("id", DataTypes.LongType).add("rank", DataTypes.IntegerType)
                    .add("projection_difference", DataTypes.DoubleType).add("cheap_score", DataTypes.DoubleType)
                    .add("base_reply", DataTypes.StringType).add("flagged", DataTypes.BooleanType);
            JavaRDD<Row> rows = scored.filter(s -> s.reject() == null).sortBy(Scored::id, true, Math.max(1, scored.getNumPartitions()))
                    .map(s -> {
                        int[] r = ranks.value().get(s.id());
                        return RowFactory.create(s.id(), r[0], o.baseReplies() ? s.difference() : null, s.cheap(), s.baseReply(), r[1] == 1);
                    });
            spark.createDataFrame(rows, schema).write().parquet(out.table("scores"));
            // the unflagged samples, in input order and format
            if (format.equals("parquet")) {
                Dataset<Row> original = spark.read().parquet(o.data());
                JavaRDD<Row> kept = Inputs.parquetRows(spark, o.data()).filter(t -> {
                    int[] r = ranks.value().get(t._2());
                    return r != null && r[1] == 0;
                }).map(t -> t._1());
                spark.createDataFrame(kept, original.schema()).write().parquet(out.table("filtered"));
            } else {
                JavaRDD<String> kept = scored.filter(s -> s.reject() == null && ranks.value().get(s.id())[1] == 0)
                        .sortBy(Scored::id, true, Math.max(1, scored.getNumPartitions())).map(Scored::line);
                spark.createDataset(kept.rdd(), Encoders.STRING()).write().text(out.table("filtered"));
            }
            long rejects = scored.filter(s -> s.reject() != null).count();
            Result r = new Result(good.size(), rejects, f.count(), o.baseReplies() ? "projection_difference" : "cheap_score", out.table("scores"),
                    out.table("filtered"), out.table("rejects"), loads.value(), loadSeconds.value(), tokens.value(), (System.nanoTime() - t0) / 1e9);
            out.finish(JsonText.write(r));
            return r;
        } finally {
            scored.unpersist(false);
        }
    }

    /** Scores one partition batch by batch on this executor's model; malformed samples become rejects. */
    static Iterator<Scored> partition(Iterator<scala.Tuple2<String, Long>> it, Options o, LongAccumulator done, LongAccumulator tokens,
                                      LongAccumulator loads,
                                      org.apache.spark.util.DoubleAccumulator loadSeconds) {
        ExecutorModels.Loaded model = ExecutorModels.get(o.model(), loads, loadSeconds);
        VectorRef vector = model.vector(o.vector());
        int partition = org.apache.spark.TaskContext.getPartitionId();
        boolean faulty = partition == o.faultPartition() && org.apache.spark.TaskContext.get().attemptNumber() == 0;
        List<Scored> out = new ArrayList<>();
        List<scala.Tuple2<String, Long>> pending = new ArrayList<>();
        int batches = 0;
        while (it.hasNext()) {
            pending.add(it.next());
            if (pending.size() == o.batch() || !it.hasNext()) {
                score(pending, model, vector, o, out, tokens);
                done.add(pending.size());
                pending.clear();
                batches++;
                // test-only fault: the first attempt dies after its first batch, the retry must redo the partition
                if (faulty && batches == 1 && FAULT_FIRED.compareAndSet(false, true)) {
                    throw new IllegalStateException("injected fault in partition " + partition + " (test)");
                }
            }
        }
        return out.iterator();
    }

    private static void score(List<scala.Tuple2<String, Long>> batch, ExecutorModels.Loaded model, VectorRef vector, Options o, List<Scored> out,
                              LongAccumulator tokens) {
        List<List<ChatMessage>> convs = new ArrayList<>();
        List<scala.Tuple2<String, Long>> ok = new ArrayList<>();
        for (scala.Tuple2<String, Long> t : batch) {
            try {
                List<ChatMessage> c = ChatDataset.parse(t._1(), (int) (t._2() + 1), "sample " + t._2()).messages();
                if (!c.get(c.size() - 1).role().equals("assistant")) {
                    out.add(new Scored(t._2(), t._1(), Double.NaN, Double.NaN, null, "sample " + t._2() + " does not end with an assistant turn"));
                    continue;
                }
                convs.add(c);
                ok.add(t);
            } catch (PersonaException e) {
                out.add(new Scored(t._2(), t._1(), Double.NaN, Double.NaN, null, e.getMessage().split("\n")[0]));
            }
        }
        if (convs.isEmpty()) return;
        long[] generated = new long[1];
        List<Screen.Score> scores = model.call(p -> {
            List<Screen.Score> sc = Screening.score(p, vector, convs, o.screen());
            for (Screen.Score s : sc) if (s.baseReply() != null) generated[0] += p.chatModel().tokenizer().encode(s.baseReply()).length;
            return sc;
        });
        tokens.add(generated[0]);
        for (int i = 0; i < scores.size(); i++) {
            Screen.Score s = scores.get(i);
            out.add(new Scored(ok.get(i)._2(), ok.get(i)._1(), s.difference(), s.cheap(), s.baseReply(), null));
        }
    }

}
