package dev.persona.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.extract.ArrowDatasets;
import dev.persona.extract.Judge;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelFingerprint;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Charts;
import dev.persona.vectors.Monitor;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona monitor}: projections of conversations onto trait vectors. */
@Command(name = "monitor", mixinStandardHelpOptions = true,
        description = {"Project each conversation's last prompt token (and its response average, when it ends with an",
            "assistant turn) onto a trait vector. Groups by --condition-field; with --judge, correlates the projection",
            "with the judged trait score (Pearson r, 95% interval). Writes monitor.arrow and monitor.png.",
            "Finished rows are journaled in OUT: rerun the same command after a crash to resume."})
final class MonitorCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--vector", required = true, description = "A Persona vector file.")
    Path vector;

    @Option(names = "--prompts", required = true, description = "Chat-messages JSONL.")
    Path prompts;

    @Option(names = "--layer", description = "Vector row (default: the file's recommended_layer, else best_layer_by_separation).")
    Integer layer;

    @Option(names = "--kind", defaultValue = "response_avg", description = "Which directions of the file (default ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--condition-field", description = "A field of each JSONL object to group by.")
    String conditionField;

    @Option(names = "--per-turn", description = "Also the projection before every assistant turn.")
    boolean perTurn;

    @Option(names = "--judge", description = "Judge responses: rule, openai:URL[#MODEL] or local:DIR.")
    String judge;

    @Option(names = "--trait", description = "Trait name for the judge (default: the vector's trait).")
    String trait;

    @Option(names = "--out", defaultValue = "runs/monitor", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        TraitVector v = VectorFiles.read(vector, ModelConfig.load(model.resolve()).numLayers());
        int l = layer != null ? layer : SteerCommand.defaultLayer(v, vector);
        List<Monitor.Item> items = read(prompts, conditionField);
        String traitName = trait != null ? trait : v.metadata().getOrDefault("trait", "trait");
        Judge j = judge == null ? null : ExtractCommand.judgeFor(judge, compute.precision());
        String rubric = null;
        if (j != null) {
            try {
                rubric = dev.persona.extract.TraitLibrary.load(traitName, "eval").evalPrompt();
            } catch (PersonaException e) {
                rubric = "Rate how strongly the answer shows " + traitName + ". {question} {answer}";
            }
        }
        List<Monitor.Row> rows;
        Files.createDirectories(out);
        float[] direction = v.layer(kind, l);
        // rows are journaled every few conversations under a file named by everything they depend on,
        // so a rerun after a crash computes (and judges) only the conversations it lacks
        String id = "monitor|" + ModelFingerprint.of(model.resolve()) + "|" + java.util.Arrays.toString(direction) + "|" + l + "|"
                + ScreenCommand.sha256(prompts) + "|" + perTurn + "|" + (j == null ? "" : j.name() + "|" + traitName + "|" + rubric) + compute.runSuffix();
        dev.persona.extract.Journal journal = dev.persona.extract.Journal.named(out, "monitor_rows-", id);
        if (journal.size() > 0) System.err.println("resuming: " + journal.size() + " conversations already in " + out);
        try (ChatModel chat = compute.chat(model.resolve())) {
            ProgressBar bar = new ProgressBar("monitor", items.size());
            rows = Monitor.run(chat, items, direction, l, perTurn, j, traitName, rubric, journal, (done, total) -> bar.update(done, ""));
        }
        writeArrow(out.resolve("monitor.arrow"), rows);
        List<Monitor.ConditionStats> groups = Monitor.byCondition(rows);
        double[] corr = Monitor.correlation(rows);
        Map<String, double[][]> series = new LinkedHashMap<>();
        double[] x = new double[groups.size()], y = new double[groups.size()];
        for (int i = 0; i < groups.size(); i++) {
            x[i] = i;
            y[i] = groups.get(i).meanProjection();
        }
        series.put("mean last-prompt projection", new double[][] {x, y});
        Charts.lines(out.resolve("monitor.png"), "Projection onto " + traitName + " (layer " + l + ") by condition", "condition (in file order)", "projection", series);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("vector", vector.toString());
        summary.put("layer", l);
        summary.put("conversations", rows.size());
        summary.put("conditions", groups);
        if (j != null) summary.put("pearson_r", Map.of("r", corr[0], "ci95_low", corr[1], "ci95_high", corr[2], "n", (int) corr[3]));
        summary.put("arrow", out.resolve("monitor.arrow").toString());
        summary.put("chart", out.resolve("monitor.png").toString());
        if (json) {
            System.out.println(Json.write(summary));
        } else {
            for (Monitor.ConditionStats g : groups) {
                System.out.printf("%-20s n=%-4d projection %.3f +- %.3f   trait score %.1f%n", g.condition(), g.n(), g.meanProjection(), g.stdProjection(), g.meanTraitScore());
            }
            if (j != null) System.out.printf("Pearson r (projection, trait score) = %.3f [%.3f, %.3f], n = %d%n", corr[0], corr[1], corr[2], (int) corr[3]);
        }
        return 0;
    }

    static List<Monitor.Item> read(Path file, String conditionField) throws IOException {
        List<Monitor.Item> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        int n = 0;
        for (String line : Files.readAllLines(file)) {
            n++;
            if (line.isBlank()) continue;
            JsonNode node = json.readTree(line);
            JsonNode msgs = node.get("messages");
            if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
                throw new PersonaException(file + " line " + n + ": no \"messages\" list", "write {\"messages\": [...]} per line");
            }
            List<ChatMessage> conv = new ArrayList<>();
            for (JsonNode m : msgs) conv.add(new ChatMessage(m.path("role").asText(), m.path("content").asText()));
            String cond = conditionField == null ? null : node.path(conditionField).asText(null);
            out.add(new Monitor.Item(conv, cond));
        }
        return out;
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
                ((VarCharVector) root.getVector("condition")).setSafe(i, (r.condition() == null ? "" : r.condition()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                ArrowDatasets.setDouble(root, "projection_prompt_last", i, r.promptLast());
                ArrowDatasets.setDouble(root, "projection_response", i, r.response());
                ArrowDatasets.setDouble(root, "trait_score", i, r.traitScore());
                ((VarCharVector) root.getVector("per_turn")).setSafe(i, r.perTurn().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                i++;
            }
            root.setRowCount(i);
        });
    }
}
