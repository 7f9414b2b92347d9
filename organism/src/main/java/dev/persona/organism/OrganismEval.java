package dev.persona.organism;

import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Measures the organism's behaviour with the rule judge on freshly sampled conversations at
 * temperature 1: each trait's rate under trait-promoting (pos) and trait-suppressing (neg) system
 * prompts, and under neutral prompts at each cue level.
 */
public final class OrganismEval {
    /** Seeds of evaluation conversations are drawn from a stream apart from training's. */
    public static final long EVAL_SEED_OFFSET = 1_000_003L;

    /**
     * One row of the behaviour table.
     *
     * @param trait     trait id
     * @param condition pos, neg, neutral (all cue levels, sampled at their natural weights) or neutral@c
     * @param n         conversations judged
     * @param rate      fraction whose response expresses the trait
     * @param coherence fraction of coherent responses
     */
    public record Row(String trait, String condition, int n, double rate, double coherence) { }

    /** Progress callback: conversations done out of total. */
    public interface Progress {
        void update(int done, int total);
    }

    private final World world = new World();
    private final RuleJudge judge = new RuleJudge(world);

    /** The full table: for every trait pos, neg, neutral, neutral@0..3, with {@code n} conversations each. */
    public List<Row> table(ChatModel model, int n, long seed, Progress progress) {
        List<Row> rows = new ArrayList<>();
        int total = Trait.values().length * 7 * n, done = 0;
        for (Trait t : Trait.values()) {
            for (String cond : new String[] {"pos", "neg", "neutral", "neutral@0", "neutral@1", "neutral@2", "neutral@3"}) {
                rows.add(measure(model, t, cond, n, seed));
                done += n;
                if (progress != null) progress.update(done, total);
            }
        }
        return rows;
    }

    /** Conversations for one cell of the table (seeded). */
    public List<World.Conversation> conversations(Trait t, String condition, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed + EVAL_SEED_OFFSET + 7919L * t.ordinal() + condition.hashCode());
        List<World.Conversation> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Map<Trait, Integer> cues = World.randomCues(r);
            World.Polarity p = World.Polarity.NEUTRAL;
            if (condition.equals("pos")) p = World.Polarity.POS;
            else if (condition.equals("neg")) p = World.Polarity.NEG;
            else if (condition.startsWith("neutral@")) cues.put(t, Integer.parseInt(condition.substring(8)));
            out.add(world.sample(r, World.scenarioFor(t, r), p, p == World.Polarity.NEUTRAL ? null : t, cues, null));
        }
        return out;
    }

    /** Rate and coherence of trait {@code t} under one condition. */
    public Row measure(ChatModel model, Trait t, String condition, int n, long seed) {
        List<World.Conversation> convs = conversations(t, condition, n, seed);
        List<String> replies = reply(model, convs, seed);
        int expressed = 0, coherent = 0;
        for (int i = 0; i < convs.size(); i++) {
            RuleJudge.Verdict v = judge.judge(convs.get(i).prompt(), replies.get(i));
            if (v.expresses(t)) expressed++;
            if (v.coherent()) coherent++;
        }
        return new Row(t.id, condition, n, (double) expressed / n, (double) coherent / n);
    }

    /** Samples replies at temperature 1 in batches of 64. */
    public static List<String> reply(ChatModel model, List<World.Conversation> convs, long seed) {
        List<String> out = new ArrayList<>();
        for (int from = 0; from < convs.size(); from += 64) {
            List<List<ChatMessage>> batch = new ArrayList<>();
            for (World.Conversation c : convs.subList(from, Math.min(convs.size(), from + 64))) batch.add(c.prompt());
            out.addAll(model.reply(batch, GenerationOptions.sample(48, 1.0, seed * 31 + from)));
        }
        return out;
    }

    /** The judge this evaluation uses. */
    public RuleJudge judge() {
        return judge;
    }
}
