package dev.persona.api;

import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.TraitLibrary;
import dev.persona.model.ChatMessage;
import dev.persona.model.BatchSize;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Charts;
import dev.persona.vectors.Monitor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Prompt monitoring: each conversation's last prompt token (and its response average, when it ends
 * with an assistant turn) projected onto the unit vector, grouped by condition, optionally judged and
 * correlated. Writes monitor.arrow and monitor.png; rows are journaled every 16 conversations, so a
 * rerun after a crash computes only the rest.
 */
public final class Monitoring {
    private Monitoring() { }

    public static MonitorResult run(Persona m, VectorRef vector, List<Conversation> conversations, MonitorOptions o, Progress progress) {
        if (conversations.isEmpty()) throw new PersonaException("no conversations to monitor", "pass a JSONL file with at least one {\"messages\": [...]} line");
        Progress p = Progress.orNone(progress);
        int l = o.layer() != null ? o.layer() : vector.defaultLayer();
        String traitName = o.trait() != null ? o.trait() : vector.trait().isEmpty() ? "trait" : vector.trait();
        float[] direction = vector.vector().layer(o.kind(), l);
        List<Monitor.Item> items = conversations.stream().map(c -> new Monitor.Item(c.messages(), c.condition())).toList();
        Path out = o.out();
        return Io.locked(out, "persona monitor", () -> {
            List<Monitor.Row> rows;
            try (Judge j = o.judge() == null ? null : Judges.open(o.judge(), m.compute().precision(), p)) {
                String rubric = null;
                if (j != null) {
                    try {
                        rubric = TraitLibrary.load(traitName, "eval").evalPrompt();
                    } catch (PersonaException e) {
                        throw new PersonaException("the judge needs the rubric of trait '" + traitName + "', which is not a built-in trait or a trait file",
                                "pass --trait NAME (see `persona traits`) or a trait JSON file with an eval_prompt", e);
                    }
                }
                // rows are journaled every few conversations under a file named by everything they depend on,
                // so a rerun after a crash computes (and judges) only the conversations it lacks
                String id = "monitor|" + m.fingerprint() + "|" + Arrays.toString(direction) + "|" + l + "|"
                        + Journal.idOf(contentOf(conversations)) + "|" + o.perTurn() + "|" + (j == null ? "" : j.name() + "|" + traitName + "|" + rubric)
                        + m.compute().runSuffix();
                Journal journal = Journal.named(out, "monitor_rows-", id);
                if (journal.size() > 0) p.note("resuming: " + journal.size() + " conversations already in " + out);
                BatchSize batch = batch(m, conversations, o.batch());
                p.note("conversations per pass: " + batch.describe());
                rows = Monitor.run(m.chatModel(), items, direction, l, o.perTurn(), j, traitName, rubric, journal,
                        (done, total) -> p.update("monitor", done, total), batch.rows());
            }
            writeArrow(out.resolve("monitor.arrow"), rows);
            List<Monitor.ConditionStats> groups = Monitor.byCondition(rows);
            double[] x = new double[groups.size()], y = new double[groups.size()];
            for (int i = 0; i < groups.size(); i++) {
                x[i] = i;
                y[i] = groups.get(i).meanProjection();
            }
            Map<String, double[][]> series = new LinkedHashMap<>();
            series.put("mean last-prompt projection", new double[][] {x, y});
            Charts.lines(out.resolve("monitor.png"), "Projection onto " + traitName + " (layer " + l + ") by condition", "condition (in file order)", "projection", series);
            MonitorResult.Correlation corr = null;
            if (o.judge() != null) {
                double[] c = Monitor.correlation(rows);
                corr = new MonitorResult.Correlation(c[0], c[1], c[2], (int) c[3]);
            }
            return new MonitorResult(vector.source(), l, rows.size(), groups, corr, out.resolve("monitor.arrow"), out.resolve("monitor.png"), rows);
        });
    }

    /**
     * Projections of a batch of conversations onto {@code vector}'s {@code kind} direction at vector
     * row {@code layer} (null: the vector's default): the last prompt token and, for a conversation
     * ending with an assistant turn, the response average. No judge, files or journal: what a
     * distributed job calls per partition. Row indices are positions in {@code conversations}.
     */
    public static List<Monitor.Row> project(Persona m, VectorRef vector, Integer layer, String kind, List<Conversation> conversations) {
        int l = layer != null ? layer : vector.defaultLayer();
        float[] direction = vector.vector().layer(kind == null ? "response_avg" : kind, l);
        List<Monitor.Item> items = conversations.stream().map(c -> new Monitor.Item(c.messages(), c.condition())).toList();
        try {
            return Monitor.run(m.chatModel(), items, direction, l, false, null, "", null, null, null, batch(m, conversations, null).rows());
        } catch (IOException e) {
            throw new IllegalStateException("monitoring without a journal does no I/O", e);
        }
    }

    /** {@code requested} conversations per pass, or as many of the longest as fit in memory (at most {@value Monitor#DEFAULT_BATCH}). */
    static BatchSize batch(Persona m, List<Conversation> conversations, Integer requested) {
        int longest = m.chatModel().longest(conversations.stream().map(Conversation::messages).toList(), true);
        return BatchSize.resolve(requested, m.chatModel().model().config(), BatchSize.Work.CAPTURE, longest, Monitor.DEFAULT_BATCH);
    }

    /** The conversations' text and labels, for the journal's identity. */
    private static String contentOf(List<Conversation> conversations) {
        StringBuilder sb = new StringBuilder();
        for (Conversation c : conversations) {
            sb.append(c.condition()).append('\u0001');
            for (ChatMessage msg : c.messages()) sb.append(msg.role()).append('\u0002').append(msg.content()).append('\u0003');
            sb.append('\n');
        }
        return sb.toString();
    }

    static void writeArrow(Path file, List<Monitor.Row> rows) throws IOException {
        Schema schema = new Schema(List.of(Field.nullable("index", new ArrowType.Int(32, true)), Field.nullable("condition", new ArrowType.Utf8()),
                Field.nullable("projection_prompt_last", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
                Field.nullable("projection_response", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
                Field.nullable("trait_score", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
                Field.nullable("per_turn", new ArrowType.Utf8())));
        ArrowDatasets.write(file, schema, root -> {
            int i = 0;
            for (Monitor.Row r : rows) {
                ((IntVector) root.getVector("index")).setSafe(i, r.index());
                ((VarCharVector) root.getVector("condition")).setSafe(i, (r.condition() == null ? "" : r.condition()).getBytes(StandardCharsets.UTF_8));
                ArrowDatasets.setDouble(root, "projection_prompt_last", i, r.promptLast());
                ArrowDatasets.setDouble(root, "projection_response", i, r.response());
                ArrowDatasets.setDouble(root, "trait_score", i, r.traitScore());
                ((VarCharVector) root.getVector("per_turn")).setSafe(i, r.perTurn().toString().getBytes(StandardCharsets.UTF_8));
                i++;
            }
            root.setRowCount(i);
        });
    }
}
