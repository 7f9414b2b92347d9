package dev.persona.vectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.extract.ActivationSummaries;
import dev.persona.extract.Journal;
import dev.persona.extract.Judge;
import dev.persona.extract.JudgeRequest;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ParallelBatches;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.function.BiConsumer;

/**
 * Projections of conversations onto a trait vector, as the paper's monitoring experiments use them:
 * the last prompt token (the token before the response), and the response average when the
 * conversation ends with an assistant turn; optionally at every assistant turn (the pushback curve).
 */
public final class Monitor {
    private Monitor() { }

    /**
     * One monitored conversation.
     *
     * @param messages  the conversation (a final assistant turn is its response)
     * @param condition an optional label to group by
     */
    public record Item(List<ChatMessage> messages, String condition) { }

    /**
     * Result for one conversation.
     *
     * @param promptLast projection of the last prompt token at the layer onto the unit vector
     * @param response   projection of the response average, or NaN without a response
     * @param traitScore the judge's score of the response, or NaN
     * @param perTurn    projection of the last prompt token before each assistant turn (empty unless asked)
     */
    public record Row(int index, String condition, double promptLast, double response, double traitScore, List<Double> perTurn) { }

    /** Per-condition summary: count, mean and standard deviation of the prompt projection, mean trait score. */
    public record ConditionStats(String condition, int n, double meanProjection, double stdProjection, double meanTraitScore) { }

    public static List<Row> run(ChatModel model, List<Item> items, float[] direction, int layer, boolean perTurn,
                                Judge judge, String trait, String rubric) {
        try {
            return run(model, items, direction, layer, perTurn, judge, trait, rubric, null, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // no journal, no I/O
        }
    }

    /** Conversations per forward pass (and per journal append) when the caller does not choose. */
    public static final int DEFAULT_BATCH = 16;

    /** {@link #run(ChatModel, List, float[], int, boolean, Judge, String, String, Journal, BiConsumer, int)} {@value #DEFAULT_BATCH} at a time. */
    public static List<Row> run(ChatModel model, List<Item> items, float[] direction, int layer, boolean perTurn,
                                Judge judge, String trait, String rubric, Journal journal,
                                BiConsumer<Integer, Integer> progress) throws IOException {
        return run(model, items, direction, layer, perTurn, judge, trait, rubric, journal, progress, DEFAULT_BATCH);
    }

    /**
     * {@link #run(ChatModel, List, float[], int, boolean, Judge, String, String)} with a journal:
     * {@code batch} conversations go through one forward pass (left-padded; each conversation's
     * positions start at 0, so only float rounding depends on the batch), their rows are judged
     * together and appended to the journal, and a rerun reads journaled rows back instead of
     * computing (and judging) them again. The caller ties the journal to the model, vector row, data,
     * options and judge. {@code progress} fires once per batch.
     */
    public static List<Row> run(ChatModel model, List<Item> items, float[] direction, int layer, boolean perTurn,
                                Judge judge, String trait, String rubric, Journal journal,
                                BiConsumer<Integer, Integer> progress, int batch) throws IOException {
        if (batch < 1) throw new IllegalArgumentException("batch " + batch);
        Row[] rows = new Row[items.size()];
        int batches = (items.size() + batch - 1) / batch;
        // per batch still to measure: its unmeasured rows and the end of its range (for progress)
        record Pending(List<Integer> rows, int to) { }
        List<Pending> pending = new ArrayList<>();
        for (int k = 0; k < batches; k++) {
            int from = k * batch, to = Math.min(items.size(), from + batch);
            List<Integer> unmeasured = new ArrayList<>();
            for (int i = from; i < to; i++) {
                JsonNode saved = journal == null ? null : journal.get(Integer.toString(i));
                if (saved == null) {
                    unmeasured.add(i);
                    continue;
                }
                List<Double> turns = new ArrayList<>();
                for (JsonNode t : saved.get("per_turn")) turns.add(t.asDouble());
                rows[i] = new Row(i, items.get(i).condition(), saved.get("prompt_last").asDouble(), Journal.number(saved.get("response")),
                        Journal.number(saved.get("trait_score")), turns);
            }
            if (unmeasured.isEmpty()) {
                if (progress != null) progress.accept(to, items.size());
            } else {
                pending.add(new Pending(unmeasured, to));
            }
        }
        // batches side by side where passes cost per operation (narrow models on the CPU), journaled in order
        ParallelBatches.run(pending.size(), ParallelBatches.threadsFor(model.model()),
                k -> measure(model, items, pending.get(k).rows(), direction, layer, perTurn, judge, trait, rubric), (k, made) -> {
            List<ObjectNode> records = new ArrayList<>();
            for (Row row : made) {
                rows[row.index()] = row;
                if (journal == null) continue;
                ObjectNode r = journal.newRecord(Integer.toString(row.index())).put("prompt_last", row.promptLast());
                Journal.putNumber(r, "response", row.response());
                Journal.putNumber(r, "trait_score", row.traitScore());
                ArrayNode turns = r.putArray("per_turn");
                for (double t : row.perTurn()) turns.add(t);
                records.add(r);
            }
            if (journal != null) journal.append(records);
            if (progress != null) progress.accept(pending.get(k).to(), items.size());
        });
        return List.of(rows);
    }

    /** Rows of {@code items[indices]}, measured in one forward pass (plus one per assistant turn with {@code perTurn}). */
    private static List<Row> measure(ChatModel model, List<Item> items, List<Integer> indices, float[] direction, int layer, boolean perTurn,
                                     Judge judge, String trait, String rubric) {
        int n = indices.size();
        List<int[]> seqs = new ArrayList<>();
        int[] promptLens = new int[n];
        boolean[] hasResponse = new boolean[n];
        List<JudgeRequest> requests = new ArrayList<>();
        List<Integer> judged = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            List<ChatMessage> msgs = items.get(indices.get(k)).messages();
            hasResponse[k] = msgs.get(msgs.size() - 1).role().equals("assistant");
            List<ChatMessage> prompt = hasResponse[k] ? msgs.subList(0, msgs.size() - 1) : msgs;
            int[] p = model.encode(prompt, true);
            int[] seq = p;
            if (hasResponse[k]) {
                // prompt + the response's own tokens, as extraction captures them (no end-of-turn token)
                int[] r = model.tokenizer().encode(msgs.get(msgs.size() - 1).content());
                seq = java.util.Arrays.copyOf(p, p.length + r.length);
                System.arraycopy(r, 0, seq, p.length, r.length);
                if (judge != null) {
                    requests.add(new JudgeRequest(trait, prompt, msgs.get(msgs.size() - 1).content(), rubric));
                    judged.add(k);
                }
            }
            seqs.add(seq);
            promptLens[k] = p.length;
        }
        List<ActivationSummaries> sums = ActivationSummaries.compute(model.model(), seqs, promptLens);
        double[] scores = new double[n];
        java.util.Arrays.fill(scores, Double.NaN);
        if (!requests.isEmpty()) {
            List<OptionalDouble> t = judge.traitScores(requests);
            for (int j = 0; j < judged.size(); j++) if (t.get(j).isPresent()) scores[judged.get(j)] = t.get(j).getAsDouble();
        }
        List<List<Double>> turns = perTurn ? turnProjections(model, items, indices, direction, layer) : null;
        List<Row> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            ActivationSummaries s = sums.get(k);
            double last = Stats.projection(s.promptLast()[layer], direction);
            double resp = hasResponse[k] && seqs.get(k).length > promptLens[k] ? Stats.projection(s.responseAvg()[layer], direction) : Double.NaN;
            int i = indices.get(k);
            out.add(new Row(i, items.get(i).condition(), last, resp, scores[k], turns == null ? List.of() : turns.get(k)));
        }
        return out;
    }

    /** For each item, the last-prompt-token projection before each of its assistant turns. */
    private static List<List<Double>> turnProjections(ChatModel model, List<Item> items, List<Integer> indices, float[] direction, int layer) {
        List<int[]> prompts = new ArrayList<>();
        List<Integer> owners = new ArrayList<>();
        for (int k = 0; k < indices.size(); k++) {
            List<ChatMessage> msgs = items.get(indices.get(k)).messages();
            for (int j = 0; j < msgs.size(); j++) {
                if (!msgs.get(j).role().equals("assistant")) continue;
                prompts.add(model.encode(msgs.subList(0, j), true));
                owners.add(k);
            }
        }
        List<List<Double>> out = new ArrayList<>();
        for (int k = 0; k < indices.size(); k++) out.add(new ArrayList<>());
        if (prompts.isEmpty()) return out;
        // as many prompts per pass as conversations per batch, so a long conversation does not widen the pass
        int per = indices.size();
        for (int from = 0; from < prompts.size(); from += per) {
            List<int[]> chunk = prompts.subList(from, Math.min(prompts.size(), from + per));
            List<ActivationSummaries> sums = ActivationSummaries.compute(model.model(), chunk, chunk.stream().mapToInt(q -> q.length).toArray());
            for (int q = 0; q < chunk.size(); q++) out.get(owners.get(from + q)).add(Stats.projection(sums.get(q).promptLast()[layer], direction));
        }
        return out;
    }

    /** Per-condition means and spread, in first-seen order. */
    public static List<ConditionStats> byCondition(List<Row> rows) {
        Map<String, List<Row>> groups = new LinkedHashMap<>();
        for (Row r : rows) groups.computeIfAbsent(r.condition() == null ? "" : r.condition(), k -> new ArrayList<>()).add(r);
        List<ConditionStats> out = new ArrayList<>();
        for (var e : groups.entrySet()) {
            double[] proj = e.getValue().stream().mapToDouble(Row::promptLast).toArray();
            double[] scores = e.getValue().stream().mapToDouble(Row::traitScore).filter(d -> !Double.isNaN(d)).toArray();
            out.add(new ConditionStats(e.getKey(), proj.length, Stats.mean(proj), Stats.std(proj), scores.length == 0 ? Double.NaN : Stats.mean(scores)));
        }
        return out;
    }

    /** Pearson r between prompt projection and trait score over rows that have a score, with its 95% interval: {r, lo, hi, n}. */
    public static double[] correlation(List<Row> rows) {
        List<Row> scored = rows.stream().filter(r -> !Double.isNaN(r.traitScore())).toList();
        double[] x = scored.stream().mapToDouble(Row::promptLast).toArray();
        double[] y = scored.stream().mapToDouble(Row::traitScore).toArray();
        double r = Stats.pearson(x, y);
        double[] ci = Stats.pearsonInterval(r, x.length);
        return new double[] {r, ci[0], ci[1], x.length};
    }
}
