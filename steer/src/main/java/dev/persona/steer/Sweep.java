package dev.persona.steer;

import dev.persona.extract.Judge;
import dev.persona.extract.JudgeRequest;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import dev.persona.model.PositionMask;
import dev.persona.vectors.TraitVector;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

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

    public static Result run(ChatModel model, TraitVector vector, String kind, TraitSpec spec, String system, Judge judge,
                             List<Integer> layers, List<Double> coefs, int samples, int maxTokens, long seed,
                             PositionMask positions, double coherenceFloor, java.util.function.BiConsumer<Integer, Integer> progress) {
        List<List<ChatMessage>> prompts = new ArrayList<>();
        for (String q : spec.questions()) for (int s = 0; s < samples; s++) prompts.add(ChatMessage.prompt(system, q));
        List<Cell> cells = cells(model, vector, kind, spec, prompts, judge, layers, coefs, maxTokens, seed, positions, progress);
        return new Result(cells, pick(cells, coherenceFloor, true));
    }

    /**
     * The suppression sweep: every question under the trait's pos system prompts (pair (question +
     * sample) mod pairs), steered with -|coef| at each layer; the pick is the lowest trait score whose
     * coherence reaches the floor.
     */
    public static Result suppress(ChatModel model, TraitVector vector, String kind, TraitSpec spec, Judge judge,
                                  List<Integer> layers, List<Double> coefs, int samples, int maxTokens, long seed,
                                  PositionMask positions, double coherenceFloor, java.util.function.BiConsumer<Integer, Integer> progress) {
        List<List<ChatMessage>> prompts = new ArrayList<>();
        for (int q = 0; q < spec.questions().size(); q++) {
            for (int s = 0; s < samples; s++) {
                prompts.add(ChatMessage.prompt(spec.systemPrompt(true, (q + s) % spec.instructions().size()), spec.questions().get(q)));
            }
        }
        List<Double> negative = coefs.stream().map(c -> -Math.abs(c)).toList();
        List<Cell> cells = cells(model, vector, kind, spec, prompts, judge, layers, negative, maxTokens, seed, positions, progress);
        return new Result(cells, pick(cells, coherenceFloor, false));
    }

    private static List<Cell> cells(ChatModel model, TraitVector vector, String kind, TraitSpec spec, List<List<ChatMessage>> prompts, Judge judge,
                                    List<Integer> layers, List<Double> coefs, int maxTokens, long seed, PositionMask positions,
                                    java.util.function.BiConsumer<Integer, Integer> progress) {
        List<Cell> cells = new ArrayList<>();
        int total = layers.size() * coefs.size(), done = 0;
        for (int layer : layers) {
            for (double coef : coefs) {
                SteeringPlan plan = new SteeringPlan().add(new SteeringPlan.Steer(vector, kind, layer, coef, false, positions));
                Score score = evaluate(model, plan, spec, prompts, judge, maxTokens, seed);
                cells.add(new Cell(layer, coef, prompts.size(), score.traitScore(), score.coherence()));
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
     * unsteered model) and judges them for {@code spec}'s trait and for coherence.
     */
    public static Score evaluate(ChatModel model, SteeringPlan plan, TraitSpec spec, List<List<ChatMessage>> prompts, Judge judge,
                                 int maxTokens, long seed) {
        List<String> answers;
        try (AutoCloseable h = plan.apply(model.model())) {
            answers = model.reply(prompts, GenerationOptions.sample(maxTokens, 1.0, seed));
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
        double traitSum = 0, cohSum = 0;
        int nTrait = 0, nCoh = 0;
        for (int i = 0; i < prompts.size(); i++) {
            JudgeRequest req = new JudgeRequest(spec.name(), prompts.get(i), answers.get(i), spec.evalPrompt());
            OptionalDouble t = judge.traitScore(req), c = judge.coherence(req);
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
