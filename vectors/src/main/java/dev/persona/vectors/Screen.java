package dev.persona.vectors;

import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import dev.persona.model.ParallelBatches;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.extract.Journal;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Scores training samples by how far their responses sit along a trait vector compared with what
 * the model itself would say: the projection difference (response-average projection of the
 * sample's response minus that of the base model's own greedy response to the same prompt), and the
 * cheap approximation without generation (response projection minus last-prompt projection).
 */
public final class Screen {
    /** Prompts per greedy generation batch (and per journal append) when the caller does not choose. */
    public static final int GENERATION_BATCH = 32;

    private Screen() { }

    /**
     * @param index       sample index in the dataset
     * @param difference  projection difference (NaN without base responses)
     * @param cheap       response projection minus last-prompt projection
     * @param baseReply   the base model's greedy reply (null without base responses)
     */
    public record Score(int index, double difference, double cheap, String baseReply) { }

    /**
     * Scores every conversation (each must end with an assistant turn). With {@code journal} set, the
     * base model's greedy replies are recorded there as they are made, batch by batch, and a rerun with
     * the same {@code runId} generates only the missing ones (greedy decoding makes them identical);
     * the projections of the samples and of the base replies are journaled beside it (files named by
     * run, direction and layer), so a rerun also skips the forward passes it has done.
     */
    public static List<Score> run(ChatModel model, List<List<ChatMessage>> data, float[] direction, int layer, boolean baseResponses,
                                  int maxTokens, Path journal, String runId, BiConsumer<Integer, Integer> progress) throws IOException {
        return run(model, data, direction, layer, baseResponses, maxTokens, journal, runId, progress, null);
    }

    /** {@link #run} reporting the projection passes too: {@code scoring} gets (stage, done, total), stage "samples" or "base". */
    public static List<Score> run(ChatModel model, List<List<ChatMessage>> data, float[] direction, int layer, boolean baseResponses,
                                  int maxTokens, Path journal, String runId, BiConsumer<Integer, Integer> progress,
                                  ScoringProgress scoring) throws IOException {
        return run(model, data, direction, layer, baseResponses, maxTokens, journal, runId, progress, scoring, GENERATION_BATCH, Monitor.DEFAULT_BATCH);
    }

    /**
     * {@link #run(ChatModel, List, float[], int, boolean, int, Path, String, BiConsumer, ScoringProgress)}
     * generating {@code generationBatch} base replies together and projecting {@code passBatch}
     * conversations per forward pass (greedy replies and projections depend on both by float rounding only).
     */
    public static List<Score> run(ChatModel model, List<List<ChatMessage>> data, float[] direction, int layer, boolean baseResponses,
                                  int maxTokens, Path journal, String runId, BiConsumer<Integer, Integer> progress,
                                  ScoringProgress scoring, int generationBatch, int passBatch) throws IOException {
        List<Monitor.Item> items = new ArrayList<>();
        for (List<ChatMessage> c : data) items.add(new Monitor.Item(c, null));
        // the projections depend on the run (model, data) and on the direction and layer
        String rowsId = runId + "|" + layer + "|" + java.util.Arrays.toString(direction);
        List<Monitor.Row> rows = Monitor.run(model, items, direction, layer, false, null, "", null,
                rowsJournal(journal, "sample_rows-", rowsId), stage(scoring, "samples"), passBatch);
        List<String> replies = null;
        List<Monitor.Row> baseRows = null;
        if (baseResponses) {
            List<List<ChatMessage>> prompts = new ArrayList<>();
            for (List<ChatMessage> c : data) prompts.add(c.subList(0, c.size() - 1));
            replies = baseReplies(model, prompts, maxTokens, journal == null ? null : new Journal(journal, runId), progress, generationBatch);
            List<Monitor.Item> baseItems = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                List<ChatMessage> c = new ArrayList<>(prompts.get(i));
                c.add(ChatMessage.assistant(replies.get(i)));
                baseItems.add(new Monitor.Item(c, null));
            }
            // the base projections also depend on the replies themselves
            baseRows = Monitor.run(model, baseItems, direction, layer, false, null, "", null,
                    rowsJournal(journal, "base_rows-", rowsId + "|" + String.join("\u0000", replies)), stage(scoring, "base"), passBatch);
        }
        List<Score> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Monitor.Row r = rows.get(i);
            double diff = baseRows == null ? Double.NaN : r.response() - baseRows.get(i).response();
            out.add(new Score(i, diff, r.response() - r.promptLast(), replies == null ? null : replies.get(i)));
        }
        return out;
    }

    /** Progress of a projection pass. */
    public interface ScoringProgress {
        void update(String stage, int done, int total);
    }

    private static BiConsumer<Integer, Integer> stage(ScoringProgress scoring, String stage) {
        return scoring == null ? null : (done, total) -> scoring.update(stage, done, total);
    }

    private static Journal rowsJournal(Path baseJournal, String prefix, String identity) throws IOException {
        return baseJournal == null ? null : Journal.named(baseJournal.toAbsolutePath().getParent(), prefix, identity);
    }

    private static List<String> baseReplies(ChatModel model, List<List<ChatMessage>> prompts, int maxTokens, Journal journal,
                                            BiConsumer<Integer, Integer> progress, int batch) throws IOException {
        String[] replies = new String[prompts.size()];
        int batches = (prompts.size() + batch - 1) / batch;
        List<Integer> pending = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            int from = b * batch, to = Math.min(prompts.size(), from + batch);
            boolean done = journal != null;
            for (int i = from; i < to && done; i++) done = journal.has(Integer.toString(i));
            if (done) {
                for (int i = from; i < to; i++) replies[i] = journal.get(Integer.toString(i)).get("text").asText();
                if (progress != null) progress.accept(to, prompts.size());
            } else {
                pending.add(b);
            }
        }
        int[] finished = {(batches - pending.size()) * batch};
        // batches side by side where passes cost per operation (narrow models on the CPU); greedy, so the same replies
        ParallelBatches.run(pending.size(), ParallelBatches.threadsFor(model.model()),
                k -> model.reply(prompts.subList(pending.get(k) * batch, Math.min(prompts.size(), (pending.get(k) + 1) * batch)),
                        GenerationOptions.greedy(maxTokens)), (k, made) -> {
            int from = pending.get(k) * batch, to = Math.min(prompts.size(), from + batch);
            List<ObjectNode> records = new ArrayList<>();
            for (int i = from; i < to; i++) {
                replies[i] = made.get(i - from);
                if (journal != null) records.add(journal.newRecord(Integer.toString(i)).put("text", replies[i]));
            }
            if (journal != null) journal.append(records);
            finished[0] += to - from;
            if (progress != null) progress.accept(Math.min(finished[0], prompts.size()), prompts.size());
        });
        return List.of(replies);
    }
}
