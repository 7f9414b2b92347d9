package dev.persona.api;

import dev.persona.extract.ArrowDatasets;
import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Screen;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Data screening: each training sample scored by how far its response sits along the vector beyond
 * the base model's own greedy reply to the same prompt (the projection difference), and by the cheap
 * no-generation approximation; the top ones flagged. Writes screen.arrow, flagged.jsonl and
 * filtered.jsonl; base replies are journaled in OUT/base_replies.jsonl, so a rerun resumes.
 */
public final class Screening {
    private Screening() { }

    public static ScreenResult run(Persona m, VectorRef vector, Path data, ScreenOptions o, Progress progress) {
        Progress p = Progress.orNone(progress);
        // one read: the conversations to score and the lines as written, for flagged.jsonl and filtered.jsonl
        List<ChatDataset.Line> lines = ChatDataset.lines(data);
        List<List<ChatMessage>> convs = lines.stream().map(ChatDataset.Line::messages).toList();
        if (convs.isEmpty()) throw new PersonaException(data + " holds no conversations", "pass a chat-messages JSONL file with at least one line");
        for (int i = 0; i < convs.size(); i++) {
            List<ChatMessage> c = convs.get(i);
            if (!c.get(c.size() - 1).role().equals("assistant")) {
                throw new PersonaException(data + " line " + lines.get(i).number() + " does not end with an assistant turn", "screening scores the final assistant response");
            }
        }
        int l = o.layer() != null ? o.layer() : vector.defaultLayer();
        Path out = o.out();
        return Io.locked(out, "persona screen", () -> {
            // the journal belongs to one (model, data, length) triple: a rerun with other inputs is refused, not mixed in
            String runId = "screen|" + m.fingerprint() + "|" + sha256(data) + "|" + o.maxTokens() + m.compute().runSuffix();
            List<Screen.Score> scores = Screen.run(m.chatModel(), convs, vector.vector().layer(l), l, o.baseReplies(), o.maxTokens(),
                    out.resolve("base_replies.jsonl"), runId, (done, total) -> p.update("base replies", done, total),
                    (stage, done, total) -> p.update("project " + stage, done, total));
            List<Screen.Score> ranked = new ArrayList<>(scores);
            Comparator<Screen.Score> byScore = Comparator.comparingDouble(s -> o.baseReplies() ? s.difference() : s.cheap());
            ranked.sort(byScore.reversed());
            int k = o.top() != null ? Math.min(o.top(), ranked.size()) : (int) Math.ceil(ranked.size() * (100 - o.percentile()) / 100.0);
            Set<Integer> flagged = new HashSet<>();
            for (int i = 0; i < k; i++) flagged.add(ranked.get(i).index());
            List<String> flaggedLines = new ArrayList<>(), kept = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) (flagged.contains(i) ? flaggedLines : kept).add(lines.get(i).text());
            Files.write(out.resolve("flagged.jsonl"), flaggedLines, StandardCharsets.UTF_8);
            Files.write(out.resolve("filtered.jsonl"), kept, StandardCharsets.UTF_8);
            Integer[] rank = new Integer[scores.size()];
            for (int i = 0; i < ranked.size(); i++) rank[ranked.get(i).index()] = i + 1;
            writeArrow(out.resolve("screen.arrow"), scores, rank, flagged);
            List<Integer> flaggedIndices = flagged.stream().sorted().toList();
            return new ScreenResult(scores.size(), k, o.baseReplies() ? "projection_difference" : "cheap_score", l, out.resolve("flagged.jsonl"),
                    out.resolve("filtered.jsonl"), out.resolve("screen.arrow"), scores, List.of(rank), flaggedIndices);
        });
    }

    private static void writeArrow(Path file, List<Screen.Score> scores, Integer[] rank, Set<Integer> flagged) throws IOException {
        ArrowType dbl = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
        Schema schema = new Schema(List.of(Field.nullable("index", new ArrowType.Int(32, true)), Field.nullable("rank", new ArrowType.Int(32, true)),
                Field.nullable("projection_difference", dbl), Field.nullable("cheap_score", dbl), Field.nullable("flagged", new ArrowType.Bool()),
                Field.nullable("base_response", new ArrowType.Utf8())));
        ArrowDatasets.write(file, schema, root -> {
            int i = 0;
            for (Screen.Score s : scores) {
                ((IntVector) root.getVector("index")).setSafe(i, s.index());
                ((IntVector) root.getVector("rank")).setSafe(i, rank[s.index()]);
                ArrowDatasets.setDouble(root, "projection_difference", i, s.difference());
                ArrowDatasets.setDouble(root, "cheap_score", i, s.cheap());
                ((BitVector) root.getVector("flagged")).setSafe(i, flagged.contains(s.index()) ? 1 : 0);
                ((VarCharVector) root.getVector("base_response")).setSafe(i, (s.baseReply() == null ? "" : s.baseReply()).getBytes(StandardCharsets.UTF_8));
                i++;
            }
            root.setRowCount(i);
        });
    }

    /** First 16 hex digits of the file's SHA-256: the data's part of a run identity. */
    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
