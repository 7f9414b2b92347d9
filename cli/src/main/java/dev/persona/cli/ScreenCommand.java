package dev.persona.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.extract.ArrowDatasets;
import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelFingerprint;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Screen;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona screen}: rank training samples by their push along a trait vector. */
@Command(name = "screen", mixinStandardHelpOptions = true,
        description = {"Score each training sample by the projection difference (its response vs the base model's greedy response",
            "to the same prompt, along the trait vector) and the cheap approximation (response minus last-prompt projection).",
            "Writes screen.arrow, flagged.jsonl and filtered.jsonl (the data without the flagged samples). Base replies are",
            "journaled in OUT/base_replies.jsonl as they are made: rerun the same command after a crash to resume."})
final class ScreenCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--data", required = true, description = "Chat-messages JSONL; each conversation ends with the assistant turn to score.")
    Path data;

    @Option(names = "--vector", required = true, description = "A Persona vector file.")
    Path vector;

    @Option(names = "--layer", description = "Vector row (default: the file's recommended or best layer).")
    Integer layer;

    @Option(names = "--base-responses", defaultValue = "greedy", description = "greedy (generate, default) or none (cheap approximation only).")
    String baseResponses;

    @Option(names = "--top", description = "Flag the K highest-scoring samples.")
    Integer top;

    @Option(names = "--percentile", defaultValue = "90", description = "Flag samples above this percentile of the score (default ${DEFAULT-VALUE}).")
    double percentile;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens for base responses (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--out", defaultValue = "runs/screen", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (!baseResponses.equals("greedy") && !baseResponses.equals("none")) {
            throw new PersonaException("--base-responses " + baseResponses + " is not greedy or none", "use --base-responses greedy or none");
        }
        List<List<ChatMessage>> convs = ChatDataset.read(data);
        for (int i = 0; i < convs.size(); i++) {
            List<ChatMessage> c = convs.get(i);
            if (!c.get(c.size() - 1).role().equals("assistant")) {
                throw new PersonaException(data + " line " + (i + 1) + " does not end with an assistant turn", "screening scores the final assistant response");
            }
        }
        TraitVector v = VectorFiles.read(vector, ModelConfig.load(model.resolve()).numLayers());
        int l = layer != null ? layer : SteerCommand.defaultLayer(v, vector);
        boolean generate = baseResponses.equals("greedy");
        List<Screen.Score> scores;
        Files.createDirectories(out);
        Path journal = out.resolve("base_replies.jsonl");
        // the journal belongs to one (model, data, length) triple: a rerun with other inputs is refused, not mixed in
        String runId = "screen|" + ModelFingerprint.of(model.resolve()) + "|" + sha256(data) + "|" + maxTokens + compute.runSuffix();
        try (ChatModel chat = compute.chat(model.resolve())) {
            ProgressBar bar = new ProgressBar("base replies", convs.size());
            Map<String, ProgressBar> scoring = new java.util.HashMap<>();
            scores = Screen.run(chat, convs, v.layer(l), l, generate, maxTokens, journal, runId, (done, total) -> bar.update(done, ""),
                    (stage, done, total) -> scoring.computeIfAbsent(stage, st -> new ProgressBar("project " + st, total)).update(done, ""));
        }
        List<Screen.Score> ranked = new ArrayList<>(scores);
        Comparator<Screen.Score> byScore = Comparator.comparingDouble(s -> generate ? s.difference() : s.cheap());
        ranked.sort(byScore.reversed());
        int k = top != null ? Math.min(top, ranked.size()) : (int) Math.ceil(ranked.size() * (100 - percentile) / 100.0);
        Set<Integer> flagged = new HashSet<>();
        for (int i = 0; i < k; i++) flagged.add(ranked.get(i).index());
        List<String> lines = Files.readAllLines(data, StandardCharsets.UTF_8).stream().filter(s -> !s.isBlank()).toList();
        List<String> flaggedLines = new ArrayList<>(), kept = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) (flagged.contains(i) ? flaggedLines : kept).add(lines.get(i));
        Files.write(out.resolve("flagged.jsonl"), flaggedLines, StandardCharsets.UTF_8);
        Files.write(out.resolve("filtered.jsonl"), kept, StandardCharsets.UTF_8);
        Map<Integer, Integer> rank = new LinkedHashMap<>();
        for (int i = 0; i < ranked.size(); i++) rank.put(ranked.get(i).index(), i + 1);
        ArrowType dbl = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
        Schema schema = new Schema(List.of(Field.nullable("index", new ArrowType.Int(32, true)), Field.nullable("rank", new ArrowType.Int(32, true)),
                Field.nullable("projection_difference", dbl), Field.nullable("cheap_score", dbl), Field.nullable("flagged", new ArrowType.Bool()),
                Field.nullable("base_response", new ArrowType.Utf8())));
        ArrowDatasets.write(out.resolve("screen.arrow"), schema, root -> {
            int i = 0;
            for (Screen.Score s : scores) {
                ((IntVector) root.getVector("index")).setSafe(i, s.index());
                ((IntVector) root.getVector("rank")).setSafe(i, rank.get(s.index()));
                ArrowDatasets.setDouble(root, "projection_difference", i, s.difference());
                ArrowDatasets.setDouble(root, "cheap_score", i, s.cheap());
                ((BitVector) root.getVector("flagged")).setSafe(i, flagged.contains(s.index()) ? 1 : 0);
                ((VarCharVector) root.getVector("base_response")).setSafe(i, (s.baseReply() == null ? "" : s.baseReply()).getBytes(StandardCharsets.UTF_8));
                i++;
            }
            root.setRowCount(i);
        });
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("samples", scores.size());
        summary.put("flagged", k);
        summary.put("score", generate ? "projection_difference" : "cheap_score");
        summary.put("layer", l);
        summary.put("flagged_file", out.resolve("flagged.jsonl").toString());
        summary.put("filtered_file", out.resolve("filtered.jsonl").toString());
        summary.put("table", out.resolve("screen.arrow").toString());
        if (json) System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(summary));
        else System.out.printf("flagged %d of %d samples by %s (layer %d); kept data in %s%n", k, scores.size(), summary.get("score"), l, out.resolve("filtered.jsonl"));
        return 0;
    }

    static String sha256(Path file) throws IOException {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
