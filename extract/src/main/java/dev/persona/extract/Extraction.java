package dev.persona.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import dev.persona.model.Generator;
import dev.persona.model.ParallelBatches;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * The reference's extraction, resumable: generate under contrasting system prompts, judge, filter
 * pairs, capture activations, take mean differences. Generations and judgments are journaled as they
 * finish (generations.jsonl, judgments.jsonl in the output directory), in fixed batches with fixed
 * seeds, so a run killed at any point and restarted with the same arguments continues and ends
 * bit-identical to an uninterrupted one.
 */
public final class Extraction {
    /**
     * @param samples        samples per (question, instruction pair) and polarity
     * @param maxTokens      new tokens per response
     * @param seed           sampling seed
     * @param batchSize      generation batch (fixed: part of the run's identity)
     * @param posThreshold   keep a pair when pos trait score >= this
     * @param negThreshold   ... and neg trait score < this
     * @param coherenceThreshold ... and both coherences >= this
     */
    public record Options(int samples, int maxTokens, long seed, int batchSize, double posThreshold, double negThreshold,
                          double coherenceThreshold) {
        public static Options defaults() {
            return new Options(10, 64, 0, 64, 50, 50, 50);
        }
    }

    /** Tokens of the longest rendered prompt of {@code spec} (any polarity, instruction pair and question). */
    public static int longestPrompt(ChatModel model, TraitSpec spec) {
        // one sample of each (question, pair, polarity) holds every distinct prompt
        return model.longest(plan(spec, 1).stream().map(Sample::prompt).toList(), true);
    }

    /** Progress: stage name, done, total. */
    public interface Progress {
        void update(String stage, int done, int total);
    }

    /** How many pairs each filter dropped and how many were kept. */
    public record FilterReport(int pairs, int droppedPos, int droppedNeg, int droppedCoherence, int droppedNoScore, int kept) { }

    /** What a run produced: samples in order, their texts, scores, the kept pair keys and the summaries of kept samples. */
    public record Result(List<Sample> samples, Map<String, String> responses, Map<String, int[]> responseIds,
                         Map<String, Double> traitScores, Map<String, Double> coherence, FilterReport filter,
                         List<String> keptPairs, Map<String, ActivationSummaries> summaries) { }

    private Extraction() { }

    /** All samples of a spec in the run's fixed order: question, pair, sample, then pos before neg. */
    public static List<Sample> plan(TraitSpec spec, int samples) {
        List<Sample> out = new ArrayList<>();
        for (int q = 0; q < spec.questions().size(); q++) {
            for (int k = 0; k < spec.instructions().size(); k++) {
                for (int s = 0; s < samples; s++) {
                    for (boolean pos : new boolean[] {true, false}) {
                        out.add(new Sample(out.size(), q, k, s, pos, spec.systemPrompt(pos, k), spec.questions().get(q)));
                    }
                }
            }
        }
        return out;
    }

    /** Sequences per activation-capture pass when the caller does not choose. */
    public static final int CAPTURE_BATCH = 16;

    public static Result run(ChatModel model, TraitSpec spec, Judge judge, Path out, Options o, String runId, Progress progress) throws IOException {
        return run(model, spec, judge, out, o, runId, progress, CAPTURE_BATCH);
    }

    /**
     * Generates, judges and captures a trait's samples, resuming from the journals in {@code out};
     * {@code captureBatch} sequences go through each capture pass (not part of the run's identity:
     * captures are not journaled, and the batch changes float rounding only).
     */
    public static Result run(ChatModel model, TraitSpec spec, Judge judge, Path out, Options o, String runId, Progress progress,
                             int captureBatch) throws IOException {
        List<Sample> samples = plan(spec, o.samples());
        Journal gen = new Journal(out.resolve("generations.jsonl"), runId);
        GenerationOptions base = new GenerationOptions(o.maxTokens(), 1.0, 1.0, 0, 0, null);
        int batches = (samples.size() + o.batchSize() - 1) / o.batchSize();
        List<Integer> unfinished = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            if (batch(samples, b, o.batchSize()).stream().allMatch(s -> gen.has(s.key()))) {
                if (progress != null) progress.update("generate", b + 1, batches);
            } else {
                unfinished.add(b);
            }
        }
        int[] finished = {batches - unfinished.size()};
        ParallelBatches.run(unfinished.size(), ParallelBatches.threadsFor(model.model()), i -> {
            int b = unfinished.get(i);
            List<int[]> prompts = new ArrayList<>();
            for (Sample s : batch(samples, b, o.batchSize())) prompts.add(model.encode(s.prompt(), true));
            // the seed of a batch depends only on its index, so a resumed run samples exactly what it would have
            GenerationOptions opt = new GenerationOptions(base.maxNewTokens(), 1.0, 1.0, 0, o.seed() * 1_000_003L + b, model.stopIds());
            return new Generator(model.model()).generate(prompts, opt);
        }, (i, outs) -> {
            List<Sample> batch = batch(samples, unfinished.get(i), o.batchSize());
            List<ObjectNode> recs = new ArrayList<>();
            for (int k = 0; k < batch.size(); k++) {
                ObjectNode r = gen.newRecord(batch.get(k).key());
                r.put("text", model.tokenizer().decode(outs.get(k), true));
                var ids = r.putArray("ids");
                for (int id : outs.get(k)) ids.add(id);
                recs.add(r);
            }
            gen.append(recs);
            if (progress != null) progress.update("generate", ++finished[0], batches);
        });
        Map<String, String> texts = new LinkedHashMap<>();
        Map<String, int[]> ids = new LinkedHashMap<>();
        for (Sample s : samples) {
            JsonNode r = gen.get(s.key());
            texts.put(s.key(), r.get("text").asText());
            int[] a = new int[r.get("ids").size()];
            for (int i = 0; i < a.length; i++) a[i] = r.get("ids").get(i).asInt();
            ids.put(s.key(), a);
        }

        Journal judged = new Journal(out.resolve("judgments.jsonl"), runId + "|" + judge.name());
        Map<String, Double> trait = new LinkedHashMap<>(), coh = new LinkedHashMap<>();
        List<ObjectNode> pending = new ArrayList<>();
        int done = 0;
        try {
            // a judge that batches (a local model) gets its batch at a time; what is scored is journaled every 32 samples
            int per = Math.max(1, judge.batchSize());
            for (int from = 0; from < samples.size(); from += per) {
                List<Sample> unjudged = new ArrayList<>();
                List<JudgeRequest> reqs = new ArrayList<>();
                for (Sample s : samples.subList(from, Math.min(samples.size(), from + per))) {
                    if (judged.has(s.key())) continue;
                    unjudged.add(s);
                    reqs.add(new JudgeRequest(spec.name(), s.prompt(), texts.get(s.key()), spec.evalPrompt()));
                }
                if (!unjudged.isEmpty()) {
                    List<OptionalDouble> t = judge.traitScores(reqs);
                    List<OptionalDouble> c = judge.coherences(reqs);
                    for (int i = 0; i < unjudged.size(); i++) {
                        ObjectNode r = judged.newRecord(unjudged.get(i).key());
                        if (t.get(i).isPresent()) r.put("trait", t.get(i).getAsDouble());
                        if (c.get(i).isPresent()) r.put("coherence", c.get(i).getAsDouble());
                        pending.add(r);
                    }
                    if (pending.size() >= 32) {
                        judged.append(pending);
                        pending.clear();
                    }
                }
                done = Math.min(samples.size(), from + per);
                if (progress != null) progress.update("judge", done, samples.size());
            }
        } finally {
            // a judge that fails (unreachable after retries) loses nothing already scored
            judged.append(pending);
        }
        for (Sample s : samples) {
            JsonNode r = judged.get(s.key());
            if (r.has("trait")) trait.put(s.key(), r.get("trait").asDouble());
            if (r.has("coherence")) coh.put(s.key(), r.get("coherence").asDouble());
        }

        FilterReport filter;
        List<String> kept = new ArrayList<>();
        int dPos = 0, dNeg = 0, dCoh = 0, dNone = 0, pairs = 0;
        for (Sample s : samples) {
            if (!s.positive()) continue;
            pairs++;
            String pk = s.key(), nk = s.pairKey() + "-neg";
            if (!trait.containsKey(pk) || !trait.containsKey(nk) || !coh.containsKey(pk) || !coh.containsKey(nk)) {
                dNone++;
            } else if (trait.get(pk) < o.posThreshold()) {
                dPos++;
            } else if (trait.get(nk) >= o.negThreshold()) {
                dNeg++;
            } else if (coh.get(pk) < o.coherenceThreshold() || coh.get(nk) < o.coherenceThreshold()) {
                dCoh++;
            } else {
                kept.add(s.pairKey());
            }
        }
        filter = new FilterReport(pairs, dPos, dNeg, dCoh, dNone, kept.size());
        if (kept.isEmpty()) {
            throw new PersonaException("no pair of " + pairs + " passed the filter: " + dPos + " had pos trait score < " + o.posThreshold()
                    + ", " + dNeg + " had neg trait score >= " + o.negThreshold() + ", " + dCoh + " had coherence < " + o.coherenceThreshold()
                    + ", " + dNone + " got no score; generations and judgments are kept in " + out,
                    "check the trait's instructions and the judge, or relax --pos-threshold/--neg-threshold/--coherence-threshold");
        }

        Map<String, ActivationSummaries> summaries = new LinkedHashMap<>();
        List<Sample> keptSamples = new ArrayList<>();
        java.util.Set<String> keptSet = new java.util.HashSet<>(kept);
        for (Sample s : samples) if (keptSet.contains(s.pairKey())) keptSamples.add(s);
        int captures = (keptSamples.size() + captureBatch - 1) / captureBatch;
        ParallelBatches.run(captures, ParallelBatches.threadsFor(model.model()), c -> {
            List<Sample> batch = batch(keptSamples, c, captureBatch);
            List<int[]> seqs = new ArrayList<>();
            int[] promptLens = new int[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                int[] p = model.encode(batch.get(i).prompt(), true);
                int[] r = ids.get(batch.get(i).key());
                int[] seq = java.util.Arrays.copyOf(p, p.length + r.length);
                System.arraycopy(r, 0, seq, p.length, r.length);
                seqs.add(seq);
                promptLens[i] = p.length;
            }
            return ActivationSummaries.compute(model.model(), seqs, promptLens);
        }, (c, sums) -> {
            List<Sample> batch = batch(keptSamples, c, captureBatch);
            for (int i = 0; i < batch.size(); i++) summaries.put(batch.get(i).key(), sums.get(i));
            if (progress != null) progress.update("capture", Math.min(keptSamples.size(), (c + 1) * captureBatch), keptSamples.size());
        });
        return new Result(samples, texts, ids, trait, coh, filter, kept, summaries);
    }

    /** Samples of generation batch {@code b}. */
    private static List<Sample> batch(List<Sample> samples, int b, int size) {
        return samples.subList(b * size, Math.min(samples.size(), (b + 1) * size));
    }
}
