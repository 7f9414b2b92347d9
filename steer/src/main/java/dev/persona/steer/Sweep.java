package dev.persona.steer;

import dev.persona.extract.Judge;
import dev.persona.extract.JudgeRequest;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import dev.persona.model.PositionMask;
import dev.persona.vectors.TraitVector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.extract.Journal;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.function.BiConsumer;

/**
 * Steers a trait's evaluation questions at every (layer, coefficient), judges the answers, and picks
 * a cell among those whose mean coherence is at least a floor (75 by default). Two directions:
 * {@link #run} elicits the trait under a neutral system prompt and picks the highest mean trait
 * score; {@link #suppress} steers against it under the trait's own trait-promoting system prompts
 * (the reference's pos instructions) and picks the lowest. Seeded: the same arguments give the same
 * table and the same choice.
 */
public final class Sweep {
    private Sweep() { }

    /** One cell: mean trait score and coherence (0..100) over the judged answers. */
    public record Cell(int layer, double coef, int n, double traitScore, double coherence) { }

    /** The table and the choice (null when no cell reaches the coherence floor). */
    public record Result(List<Cell> cells, Cell best) { }

    /**
     * What a sweep tries: directions {@code kind} of the vector at every (layer, coef), each cell
     * answering every question {@code samples} times with up to {@code maxTokens} new tokens
     * (temperature 1, {@code seed}), steering at {@code positions}; a recommended cell needs mean
     * coherence at least {@code coherenceFloor}; a cell's answers are generated {@code batch} at a
     * time (see {@link #evaluate(ChatModel, SteeringPlan, TraitSpec, List, Judge, int, long, int)}).
     */
    public record Grid(String kind, List<Integer> layers, List<Double> coefs, int samples, int maxTokens, long seed,
                       PositionMask positions, double coherenceFloor, int batch) {
        public Grid {
            layers = List.copyOf(layers);
            coefs = List.copyOf(coefs);
            if (samples < 1) throw new IllegalArgumentException("samples must be >= 1, got " + samples);
            if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }

        /** A grid whose cells generate all their answers in one batch. */
        public Grid(String kind, List<Integer> layers, List<Double> coefs, int samples, int maxTokens, long seed,
                    PositionMask positions, double coherenceFloor) {
            this(kind, layers, coefs, samples, maxTokens, seed, positions, coherenceFloor, Integer.MAX_VALUE);
        }
    }

    /**
     * The eliciting sweep: the questions under {@code system} (null: none). With a {@code journal},
     * each finished cell is recorded and a rerun with the same journal reads it back instead of
     * answering again (the caller ties the journal to everything but the grid, so a grown grid
     * reuses the cells it shares).
     */
    public static Result run(ChatModel model, TraitVector vector, TraitSpec spec, String system, Judge judge, Grid grid,
                             Journal journal, BiConsumer<Integer, Integer> progress) throws IOException {
        List<List<ChatMessage>> prompts = prompts(spec, system, grid.samples());
        List<Cell> cells = cells(model, vector, spec, prompts, judge, grid, grid.coefs(), journal, progress);
        return new Result(cells, pick(cells, grid.coherenceFloor(), true));
    }

    /**
     * The suppression sweep: every question under the trait's pos system prompts (pair (question +
     * sample) mod pairs), steered with -|coef| at each layer; the pick is the lowest trait score whose
     * coherence reaches the floor. {@code journal} as in {@link #run}.
     */
    public static Result suppress(ChatModel model, TraitVector vector, TraitSpec spec, Judge judge, Grid grid,
                                  Journal journal, BiConsumer<Integer, Integer> progress) throws IOException {
        List<List<ChatMessage>> prompts = suppressionPrompts(spec, grid.samples());
        List<Double> negative = grid.coefs().stream().map(c -> -Math.abs(c)).toList();
        List<Cell> cells = cells(model, vector, spec, prompts, judge, grid, negative, journal, progress);
        return new Result(cells, pick(cells, grid.coherenceFloor(), false));
    }

    /** The eliciting sweep's prompts of a cell: each question {@code samples} times under {@code system} (null: none). */
    public static List<List<ChatMessage>> prompts(TraitSpec spec, String system, int samples) {
        List<List<ChatMessage>> prompts = new ArrayList<>();
        for (String q : spec.questions()) for (int s = 0; s < samples; s++) prompts.add(ChatMessage.prompt(system, q));
        return prompts;
    }

    /** The suppression sweep's prompts of a cell: each question {@code samples} times under pos system prompt (question + sample) mod pairs. */
    public static List<List<ChatMessage>> suppressionPrompts(TraitSpec spec, int samples) {
        List<List<ChatMessage>> prompts = new ArrayList<>();
        for (int q = 0; q < spec.questions().size(); q++) {
            for (int s = 0; s < samples; s++) {
                prompts.add(ChatMessage.prompt(spec.systemPrompt(true, (q + s) % spec.instructions().size()), spec.questions().get(q)));
            }
        }
        return prompts;
    }

    private static List<Cell> cells(ChatModel model, TraitVector vector, TraitSpec spec, List<List<ChatMessage>> prompts, Judge judge,
                                    Grid grid, List<Double> coefs, Journal journal, BiConsumer<Integer, Integer> progress) throws IOException {
        List<Cell> cells = new ArrayList<>();
        int total = grid.layers().size() * coefs.size(), done = 0;
        for (int layer : grid.layers()) {
            for (double coef : coefs) {
                String key = layer + "|" + coef;
                JsonNode saved = journal == null ? null : journal.get(key);
                Cell cell;
                if (saved != null) {
                    cell = new Cell(layer, coef, saved.get("n").asInt(), Journal.number(saved.get("trait_score")), Journal.number(saved.get("coherence")));
                } else {
                    SteeringPlan plan = new SteeringPlan().add(new SteeringPlan.Steer(vector, grid.kind(), layer, coef, false, grid.positions()));
                    Score score = evaluate(model, plan, spec, prompts, judge, grid.maxTokens(), grid.seed(), grid.batch());
                    cell = new Cell(layer, coef, prompts.size(), score.traitScore(), score.coherence());
                    if (journal != null) {
                        ObjectNode r = journal.newRecord(key).put("n", cell.n());
                        Journal.putNumber(r, "trait_score", cell.traitScore());
                        Journal.putNumber(r, "coherence", cell.coherence());
                        journal.append(List.of(r));
                    }
                }
                cells.add(cell);
                if (progress != null) progress.accept(++done, total);
            }
        }
        return cells;
    }

    /** The cell with the highest ({@code highest}) or lowest trait score among those at or above the coherence floor. */
    private static Cell pick(List<Cell> cells, double coherenceFloor, boolean highest) {
        Cell best = null;
        for (Cell c : cells) {
            if (Double.isNaN(c.traitScore()) || !(c.coherence() >= coherenceFloor)) continue;
            if (best == null || (highest ? c.traitScore() > best.traitScore() : c.traitScore() < best.traitScore())) best = c;
        }
        return best;
    }

    /**
     * Mean judged trait score and coherence (0-100; NaN when the judge scored nothing) of {@code n}
     * answers.
     */
    public record Score(int n, double traitScore, double coherence) { }

    /**
     * Answers {@code prompts} under {@code plan} (temperature 1, {@code seed}; an empty plan is the
     * unsteered model) and judges them for {@code spec}'s trait and for coherence, all prompts in one
     * generation batch.
     */
    public static Score evaluate(ChatModel model, SteeringPlan plan, TraitSpec spec, List<List<ChatMessage>> prompts, Judge judge,
                                 int maxTokens, long seed) {
        return evaluate(model, plan, spec, prompts, judge, maxTokens, seed, Math.max(1, prompts.size()));
    }

    /**
     * {@link #evaluate(ChatModel, SteeringPlan, TraitSpec, List, Judge, int, long)} generating
     * {@code batch} prompts at a time: the first batch samples with {@code seed} (so a batch holding
     * every prompt answers as one call did), batch k > 0 with its own seed derived from {@code seed} and k.
     */
    public static Score evaluate(ChatModel model, SteeringPlan plan, TraitSpec spec, List<List<ChatMessage>> prompts, Judge judge,
                                 int maxTokens, long seed, int batch) {
        List<String> answers = new ArrayList<>();
        try (AutoCloseable h = plan.apply(model.model())) {
            for (int from = 0, k = 0; from < prompts.size(); from += batch, k++) {
                long s = k == 0 ? seed : seed * 1_000_003L + k;
                answers.addAll(model.reply(prompts.subList(from, Math.min(prompts.size(), from + batch)), GenerationOptions.sample(maxTokens, 1.0, s)));
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
        List<JudgeRequest> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) requests.add(new JudgeRequest(spec.name(), prompts.get(i), answers.get(i), spec.evalPrompt()));
        List<OptionalDouble> traits = judge.traitScores(requests), cohs = judge.coherences(requests);
        double traitSum = 0, cohSum = 0;
        int nTrait = 0, nCoh = 0;
        for (int i = 0; i < prompts.size(); i++) {
            OptionalDouble t = traits.get(i), c = cohs.get(i);
            if (t.isPresent()) {
                traitSum += t.getAsDouble();
                nTrait++;
            }
            if (c.isPresent()) {
                cohSum += c.getAsDouble();
                nCoh++;
            }
        }
        return new Score(prompts.size(), nTrait == 0 ? Double.NaN : traitSum / nTrait, nCoh == 0 ? Double.NaN : cohSum / nCoh);
    }
}
