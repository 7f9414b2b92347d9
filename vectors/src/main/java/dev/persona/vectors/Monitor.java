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

    /** Conversations journaled per append; the progress callback fires at the same rate. */
    static final int JOURNAL_BATCH = 16;

    /**
     * {@link #run(ChatModel, List, float[], int, boolean, Judge, String, String)} with a journal:
     * finished rows are appended every {@value #JOURNAL_BATCH} conversations and a rerun reads them
     * back instead of computing (and judging) them again. The caller ties the journal to the model,
     * vector row, data, options and judge.
     */
    public static List<Row> run(ChatModel model, List<Item> items, float[] direction, int layer, boolean perTurn,
                                Judge judge, String trait, String rubric, Journal journal,
                                BiConsumer<Integer, Integer> progress) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<ObjectNode> pending = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Item it = items.get(i);
            JsonNode saved = journal == null ? null : journal.get(Integer.toString(i));
            if (saved != null) {
                List<Double> turns = new ArrayList<>();
                for (JsonNode t : saved.get("per_turn")) turns.add(t.asDouble());
                rows.add(new Row(i, it.condition(), saved.get("prompt_last").asDouble(), Journal.number(saved.get("response")),
                        Journal.number(saved.get("trait_score")), turns));
            } else {
                Row row = measure(model, i, it, direction, layer, perTurn, judge, trait, rubric);
                rows.add(row);
                if (journal != null) {
                    ObjectNode r = journal.newRecord(Integer.toString(i)).put("prompt_last", row.promptLast());
                    Journal.putNumber(r, "response", row.response());
                    Journal.putNumber(r, "trait_score", row.traitScore());
                    ArrayNode turns = r.putArray("per_turn");
                    for (double t : row.perTurn()) turns.add(t);
                    pending.add(r);
                }
            }
            if ((i + 1) % JOURNAL_BATCH == 0 || i == items.size() - 1) {
                if (!pending.isEmpty()) journal.append(pending);
                pending = new ArrayList<>();
                if (progress != null) progress.accept(i + 1, items.size());
            }
        }
        return rows;
    }

    private static Row measure(ChatModel model, int i, Item it, float[] direction, int layer, boolean perTurn,
                               Judge judge, String trait, String rubric) {
        List<ChatMessage> msgs = it.messages();
        boolean hasResponse = msgs.get(msgs.size() - 1).role().equals("assistant");
        List<ChatMessage> prompt = hasResponse ? msgs.subList(0, msgs.size() - 1) : msgs;
        int[] p = model.encode(prompt, true);
        int[] seq = p;
        if (hasResponse) {
            // prompt + the response's own tokens, as extraction captures them (no end-of-turn token)
            int[] r = model.tokenizer().encode(msgs.get(msgs.size() - 1).content());
            seq = java.util.Arrays.copyOf(p, p.length + r.length);
            System.arraycopy(r, 0, seq, p.length, r.length);
        }
        ActivationSummaries s = ActivationSummaries.compute(model.model(), List.of(seq), new int[] {p.length}).get(0);
        double last = Stats.projection(s.promptLast()[layer], direction);
        double resp = hasResponse && seq.length > p.length ? Stats.projection(s.responseAvg()[layer], direction) : Double.NaN;
        double score = Double.NaN;
        if (judge != null && hasResponse) {
            OptionalDouble t = judge.traitScore(new JudgeRequest(trait, prompt, msgs.get(msgs.size() - 1).content(), rubric));
            if (t.isPresent()) score = t.getAsDouble();
        }
        List<Double> turns = new ArrayList<>();
        if (perTurn) {
            for (int k = 0; k < msgs.size(); k++) {
                if (!msgs.get(k).role().equals("assistant")) continue;
                int[] q = model.encode(msgs.subList(0, k), true);
                ActivationSummaries a = ActivationSummaries.compute(model.model(), List.of(q), new int[] {q.length}).get(0);
                turns.add(Stats.projection(a.promptLast()[layer], direction));
            }
        }
        return new Row(i, it.condition(), last, resp, score, turns);
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
