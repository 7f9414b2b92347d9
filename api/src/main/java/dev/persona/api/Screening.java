package dev.persona.api;

import dev.persona.extract.ArrowDatasets;
import dev.persona.model.BatchSize;
import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Monitor;
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
            BatchSize[] batches = batches(m, convs, o);
            p.note("base replies " + batches[0].describe() + "; projections " + batches[1].describe());
            List<Screen.Score> scores = Screen.run(m.chatModel(), convs, vector.vector().layer(l), l, o.baseReplies(), o.maxTokens(),
                    out.resolve("base_replies.jsonl"), runId, (done, total) -> p.update("base replies", done, total),
                    (stage, done, total) -> p.update("project " + stage, done, total), batches[0].rows(), batches[1].rows());
            Flagging f = flag(scores, o);
            Set<Integer> flagged = f.flagged();
            int k = f.count();
            List<String> flaggedLines = new ArrayList<>(), kept = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) (flagged.contains(i) ? flaggedLines : kept).add(lines.get(i).text());
            Files.write(out.resolve("flagged.jsonl"), flaggedLines, StandardCharsets.UTF_8);
            Files.write(out.resolve("filtered.jsonl"), kept, StandardCharsets.UTF_8);
            Integer[] rank = f.rank();
            writeArrow(out.resolve("screen.arrow"), scores, rank, flagged);
            List<Integer> flaggedIndices = flagged.stream().sorted().toList();
            return new ScreenResult(scores.size(), k, o.baseReplies() ? "projection_difference" : "cheap_score", l, out.resolve("flagged.jsonl"),
                    out.resolve("filtered.jsonl"), out.resolve("screen.arrow"), scores, List.of(rank), flaggedIndices);
        });
    }

    /**
     * The ranking and the flags: samples ordered by the score in use (projection difference with
     * base replies, else the cheap score), highest first, ties in dataset order; the first
     * {@code top} (or those at or above the {@code percentile}) flagged.
     *
     * @param rank    1-based rank of each sample, indexed by {@link Screen.Score#index()} (0..n-1)
     * @param flagged indices of the flagged samples
     */
    public record Flagging(int count, Integer[] rank, Set<Integer> flagged) { }

    /** {@link Flagging} of {@code scores}, whose indices are 0..n-1, as {@code persona screen} ranks and flags them. */
    public static Flagging flag(List<Screen.Score> scores, ScreenOptions o) {
        List<Screen.Score> ranked = new ArrayList<>(scores);
        Comparator<Screen.Score> byScore = Comparator.comparingDouble(s -> o.baseReplies() ? s.difference() : s.cheap());
        // a stable sort: equal scores keep dataset order
        ranked.sort(byScore.reversed());
        int k = o.top() != null ? Math.min(o.top(), ranked.size()) : (int) Math.ceil(ranked.size() * (100 - o.percentile()) / 100.0);
        Set<Integer> flagged = new HashSet<>();
        for (int i = 0; i < k; i++) flagged.add(ranked.get(i).index());
        Integer[] rank = new Integer[scores.size()];
        for (int i = 0; i < ranked.size(); i++) rank[ranked.get(i).index()] = i + 1;
        return new Flagging(k, rank, flagged);
    }

    /**
     * The base-reply generation batch and the projection batch for {@code convs}: {@code o.batch()}
     * for both when given, else from memory for the longest prompt plus {@code o.maxTokens()} new
     * tokens (at most {@value Screen#GENERATION_BATCH}) and the longest conversation (at most
     * {@value Monitor#DEFAULT_BATCH}).
     */
    static BatchSize[] batches(Persona m, List<List<ChatMessage>> convs, ScreenOptions o) {
        ChatModel cm = m.chatModel();
        int prompt = cm.longest(convs.stream().map(c -> c.subList(0, c.size() - 1)).toList(), true);
        int whole = Math.max(cm.longest(convs, false), prompt + o.maxTokens());
        ModelConfig c = cm.model().config();
        return new BatchSize[] {BatchSize.resolve(o.batch(), c, BatchSize.Work.GENERATION, prompt + o.maxTokens(), Screen.GENERATION_BATCH),
                BatchSize.resolve(o.batch(), c, BatchSize.Work.CAPTURE, whole, Monitor.DEFAULT_BATCH)};
    }

    /**
     * Scores of a batch of samples (each ending with an assistant turn) with no files and no journal:
     * the projection difference (with {@code o.baseReplies()}, generating the base model's greedy
     * reply of up to {@code o.maxTokens()}) and the cheap score, at {@code o.layer()} (null: the
     * vector's default). Score indices are positions in {@code samples}. What a distributed job calls
     * per partition; {@link #run} is this plus ranking, files and a journal.
     */
    public static List<Screen.Score> score(Persona m, VectorRef vector, List<List<ChatMessage>> samples, ScreenOptions o) {
        int l = o.layer() != null ? o.layer() : vector.defaultLayer();
        try {
            BatchSize[] batches = batches(m, samples, o);
            return Screen.run(m.chatModel(), samples, vector.vector().layer(l), l, o.baseReplies(), o.maxTokens(), null, "", null, null,
                    batches[0].rows(), batches[1].rows());
        } catch (IOException e) {
            throw new IllegalStateException("screening without a journal does no I/O", e);
        }
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
