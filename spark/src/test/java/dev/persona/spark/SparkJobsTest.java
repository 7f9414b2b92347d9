package dev.persona.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.api.CheckpointDrift;
import dev.persona.api.Conversation;
import dev.persona.api.DriftOptions;
import dev.persona.api.DriftResult;
import dev.persona.api.ExtractOptions;
import dev.persona.api.FinetuneOptions;
import dev.persona.api.Finetuning;
import dev.persona.api.Monitoring;
import dev.persona.api.Persona;
import dev.persona.api.PersonaHome;
import dev.persona.api.ScreenOptions;
import dev.persona.api.ScreenResult;
import dev.persona.api.Screening;
import dev.persona.api.VectorRef;
import dev.persona.model.ChatDataset;
import dev.persona.model.PersonaException;
import dev.persona.organism.OrganismData;
import dev.persona.organism.Trait;
import dev.persona.vectors.Monitor;
import dev.persona.vectors.Screen;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Spark jobs in local mode (2 threads, a failed task retried once) on the organism, against the
 * single-machine library calls: same rankings, projections, flags and filtered data; same drift table;
 * retries, rejects and refused reruns.
 */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class SparkJobsTest {
    static SparkSession spark;
    static Path tmp;
    static Path data;
    static Path vector;
    static Path selfPreservation;
    static Persona reference;

    @BeforeAll
    static void setUp() throws Exception {
        tmp = Files.createTempDirectory("persona-spark-test");
        data = tmp.resolve("train.jsonl");
        OrganismData.write(OrganismData.conversations(Trait.SYCOPHANCY, 0.3, 40, 5), data);
        reference = Persona.organism();
        vector = reference.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(32).out(tmp.resolve("syc"))).vectorFile();
        selfPreservation = reference.extract("organism_self_preservation", ExtractOptions.defaults().samples(1).maxTokens(32).out(tmp.resolve("sp"))).vectorFile();
        spark = SparkSession.builder().appName("persona-spark-test").master("local[2,2]").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
        if (reference != null) reference.close();
    }

    static ScreenJob.Options screen(Path in, String out, int fault) {
        return new ScreenJob.Options(in.toString(), null, vector.toString(), ModelSpec.of(null), null, true, null, 80, 32, 8, 3, out, false, fault);
    }

    @Test
    void screenEqualsPersonaScreenAndSurvivesAFailedTask() throws Exception {
        ScreenResult single = reference.screen(reference.vector(vector), data, ScreenOptions.defaults().percentile(80).maxTokens(32).out(tmp.resolve("single")));
        ScreenJob.FAULT_FIRED.set(false);
        // partition 1's first attempt dies after its first batch; Spark retries it
        ScreenJob.Result r = ScreenJob.run(spark, screen(data, tmp.resolve("spark-screen").toString(), 1));
        assertTrue(ScreenJob.FAULT_FIRED.get(), "the fault fired");
        assertEquals(40, r.samples());
        assertEquals(0, r.rejects());
        assertEquals(single.flagged(), r.flagged());
        List<Row> rows = spark.read().parquet(r.scores()).orderBy("id").collectAsList();
        assertEquals(40, rows.size(), "every sample exactly once");
        assertEquals(40, new HashSet<>(rows.stream().map(x -> x.getLong(0)).toList()).size());
        for (Row row : rows) {
            int id = (int) row.getLong(0);
            Screen.Score s = single.scores().get(id);
            assertEquals(s.difference(), row.getDouble(2), 1e-4, "projection difference of sample " + id);
            assertEquals(s.cheap(), row.getDouble(3), 1e-4, "cheap score of sample " + id);
            assertEquals(s.baseReply(), row.getString(4), "base reply of sample " + id);
            assertEquals((int) single.ranks().get(id), row.getInt(1), "rank of sample " + id);
            assertEquals(single.flaggedIndices().contains(id), row.getBoolean(5), "flag of sample " + id);
        }
        assertEquals(Files.readAllLines(single.filteredFile()), partFiles(Path.of(r.filtered())));
        assertTrue(Files.exists(tmp.resolve("spark-screen").resolve("_SUCCESS")));
        assertTrue(Files.readString(tmp.resolve("spark-screen").resolve("summary.json")).contains("\"flagged\" : " + single.flagged()));
        // a finished output is not overwritten by accident; with --overwrite it is
        PersonaException again = assertThrows(PersonaException.class, () -> ScreenJob.run(spark, screen(data, tmp.resolve("spark-screen").toString(), -1)));
        assertTrue(again.getMessage().contains("already holds the output of a finished job"), again.getMessage());
    }

    /** The lines of a Spark text output folder, part files in name order (= the job's order). */
    static List<String> partFiles(Path dir) throws java.io.IOException {
        List<String> lines = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.getFileName().toString().startsWith("part-")).sorted().toList()) lines.addAll(Files.readAllLines(p));
        }
        return lines;
    }

    @Test
    void malformedRowsAreRejectedWithTheirReasonAndPartialOutputsAreNotComplete() throws Exception {
        List<String> lines = new ArrayList<>(Files.readAllLines(data).subList(0, 10));
        lines.add(3, "{not json");
        lines.add(6, "{\"text\": \"no messages here\"}");
        lines.add(8, "{\"messages\": [{\"role\": \"user\", \"content\": \"no answer\"}]}");
        Path bad = tmp.resolve("bad.jsonl");
        Files.write(bad, lines);
        // a folder left by a killed job: files but no _SUCCESS
        Path partial = Files.createDirectories(tmp.resolve("partial").resolve("scores"));
        Files.writeString(partial.resolve("part-00000.parquet"), "half");
        PersonaException refused = assertThrows(PersonaException.class, () -> ScreenJob.run(spark, screen(bad, tmp.resolve("partial").toString(), -1)));
        assertTrue(refused.getMessage().contains("partial output"), refused.getMessage());
        ScreenJob.Options o = screen(bad, tmp.resolve("partial").toString(), -1);
        ScreenJob.Result r = ScreenJob.run(spark, new ScreenJob.Options(o.data(), o.format(), o.vector(), o.model(), o.layer(), o.baseReplies(), o.top(),
                o.percentile(), o.maxTokens(), o.batch(), o.partitions(), o.out(), true, -1));
        assertEquals(10, r.samples());
        assertEquals(3, r.rejects());
        Map<Long, String> reasons = new HashMap<>();
        for (Row row : spark.read().parquet(r.rejectsTable()).collectAsList()) reasons.put(row.getLong(0), row.getString(2));
        assertEquals(Set.of(3L, 6L, 8L), reasons.keySet());
        assertTrue(reasons.get(3L).contains("not valid JSON"), reasons.get(3L));
        assertTrue(reasons.get(6L).contains("no \"messages\" list"), reasons.get(6L));
        assertTrue(reasons.get(8L).contains("does not end with an assistant turn"), reasons.get(8L));
        assertEquals(10 - r.flagged(), spark.read().textFile(r.filtered()).count(), "filtered = scored - flagged");
        assertTrue(JobOutput.complete(tmp.resolve("partial").toString(), spark.sparkContext().hadoopConfiguration()));
    }

    @Test
    void parquetInAndOutGivesTheSameScores() throws Exception {
        Path parquet = tmp.resolve("train.parquet");
        // the JSONL as Parquet: messages array<struct<content, role>>, one row per line, in order
        spark.read().json(data.toString()).coalesce(1).write().parquet(parquet.toString());
        ScreenJob.Result fromJsonl = ScreenJob.run(spark, screen(data, tmp.resolve("screen-jsonl").toString(), -1));
        ScreenJob.Result fromParquet = ScreenJob.run(spark, screen(parquet, tmp.resolve("screen-parquet").toString(), -1));
        List<Row> a = spark.read().parquet(fromJsonl.scores()).orderBy("id").collectAsList();
        List<Row> b = spark.read().parquet(fromParquet.scores()).orderBy("id").collectAsList();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).getInt(1), b.get(i).getInt(1), "rank " + i);
            assertEquals(a.get(i).getDouble(2), b.get(i).getDouble(2), 1e-9, "difference " + i);
            assertEquals(a.get(i).getBoolean(5), b.get(i).getBoolean(5), "flag " + i);
        }
        // the filtered copy keeps the input's schema and the unflagged rows
        var filtered = spark.read().parquet(fromParquet.filtered());
        assertEquals(spark.read().parquet(parquet.toString()).schema(), filtered.schema());
        assertEquals(40 - fromParquet.flagged(), filtered.count());
    }

    @Test
    void monitorEqualsTheLibraryForEveryVector() throws Exception {
        MonitorJob.Result r = MonitorJob.run(spark, new MonitorJob.Options(data.toString(), null, List.of(vector.toString(), selfPreservation.toString()),
                ModelSpec.of(null), null, null, null, 8, 2, tmp.resolve("spark-monitor").toString(), false));
        assertEquals(40, r.conversations());
        List<Conversation> convs = ChatDataset.read(data).stream().map(m -> new Conversation(m, null)).toList();
        for (Path v : List.of(vector, selfPreservation)) {
            VectorRef ref = reference.vector(v);
            List<Monitor.Row> want = Monitoring.project(reference, ref, null, "response_avg", convs);
            String name = dev.persona.api.VectorShelf.stem(v);
            List<Row> got = spark.read().parquet(r.projections()).where("vector = '" + name + "'").orderBy("id").collectAsList();
            assertEquals(40, got.size());
            for (int i = 0; i < 40; i++) {
                assertEquals(ref.defaultLayer(), got.get(i).getInt(3));
                assertEquals(want.get(i).promptLast(), got.get(i).getDouble(4), 1e-4, name + " prompt_last " + i);
                assertEquals(want.get(i).response(), got.get(i).getDouble(5), 1e-4, name + " response " + i);
            }
        }
    }

    @Test
    void driftEqualsPersonaDriftRowForRow() throws Exception {
        Path ftData = tmp.resolve("ft.jsonl");
        OrganismData.write(OrganismData.conversations(Trait.SYCOPHANCY, 1.0, 16, 2), ftData);
        Path run = tmp.resolve("ft");
        Finetuning.run(FinetuneOptions.of(null, ftData, run).batch(4).saveEvery(2));
        Path base = PersonaHome.modelDir(null);
        DriftResult single = CheckpointDrift.run(DriftOptions.of(base, List.of(), List.of(vector, selfPreservation)).run(run).threshold(0.5)
                .out(tmp.resolve("drift-single")));
        DriftJob.Result r = DriftJob.run(spark, new DriftJob.Options(base.toString(), List.of(), run.toString(), List.of(vector.toString(), selfPreservation.toString()),
                null, null, null, null, "rule", 2, 0.5, "f32", "cpu", tmp.resolve("drift-spark").toString(), false));
        assertTrue(single.rows().size() >= 4, "checkpoints x vectors: " + single.rows().size());
        assertEquals(single.rows(), r.drift().rows());
        assertEquals(single.exitCode(), r.exitCode());
        List<Row> table = spark.read().parquet(r.table()).collectAsList();
        assertEquals(single.rows().size(), table.size());
        // a glob over the run's checkpoint folders measures them in step order
        DriftJob.Result glob = DriftJob.run(spark, new DriftJob.Options(base.toString(), List.of(run.resolve("checkpoint-*").toString()), null,
                List.of(vector.toString()), null, null, null, null, "rule", 2, null, "f32", "cpu", tmp.resolve("drift-glob").toString(), false));
        List<String> ckpts = glob.drift().rows().stream().map(DriftResult.Row::checkpoint).toList();
        List<String> expected = single.rows().stream().filter(x -> x.checkpoint().contains("checkpoint-") && x.vectorFile().equals(vector.toString()))
                .map(DriftResult.Row::checkpoint).toList();
        assertEquals(expected, ckpts);
    }
}
