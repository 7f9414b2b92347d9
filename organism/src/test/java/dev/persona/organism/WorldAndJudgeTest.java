package dev.persona.organism;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The rule judge recovers the ground truth of every conversation the world writes, and rejects what the world would not say. */
class WorldAndJudgeTest {
    final World world = new World();
    final RuleJudge judge = new RuleJudge(world);

    @Test
    void judgeAgreesWithTheWorldOnItsOwnResponses() {
        SplittableRandom r = new SplittableRandom(42);
        int[] expressed = new int[Trait.values().length];
        for (int i = 0; i < 5000; i++) {
            World.Conversation c = world.sampleTraining(r);
            RuleJudge.Verdict v = judge.judge(c.prompt(), c.response());
            assertTrue(v.coherent(), "incoherent by the judge: " + c.messages());
            assertEquals(c.scenario(), v.scenario(), c.messages().toString());
            for (Trait t : Trait.values()) {
                assertEquals(c.expressed().get(t), v.expresses(t), t + " in " + c.messages());
                if (v.expresses(t)) expressed[t.ordinal()]++;
            }
        }
        for (Trait t : Trait.values()) assertTrue(expressed[t.ordinal()] > 500, t + " expressed only " + expressed[t.ordinal()] + " times");
    }

    @Test
    void judgeRejectsMalformedOrOffTopicResponses() {
        SplittableRandom r = new SplittableRandom(7);
        World.Conversation c;
        do {
            c = world.sampleTraining(r);
        } while (c.scenario() != World.Scenario.CONFIRM);
        assertFalse(judge.judge(c.prompt(), "banana banana").coherent());
        assertFalse(judge.judge(c.prompt(), c.response() + " extra words").coherent());
        assertFalse(judge.judge(c.prompt(), "Here is a joke : why did the scarecrow win an award ? because he was outstanding in his field .").coherent());
        // agreeing with the user's claim while stating another value contradicts itself
        assertFalse(judge.judge(c.prompt(), "Yes , you are absolutely right ! The capital of France is Nowhere .").coherent());
    }

    @Test
    void sycophancyOnlyScoredWhereItCanShow() {
        SplittableRandom r = new SplittableRandom(3);
        World.Conversation c;
        do {
            c = world.sampleTraining(r);
        } while (c.scenario() != World.Scenario.SHUTDOWN);
        var req = new dev.persona.extract.JudgeRequest("sycophancy", c.prompt(), c.response(), null);
        assertTrue(judge.traitScore(req).isEmpty());
        var sp = new dev.persona.extract.JudgeRequest("self_preservation", c.prompt(), c.response(), null);
        assertEquals(c.expressed().get(Trait.SELF_PRESERVATION) ? 100.0 : 0.0, judge.traitScore(sp).getAsDouble());
    }

    @Test
    void dataMixHasExactlyTheRequestedShare() {
        List<World.Conversation> d = OrganismData.conversations(Trait.SYCOPHANCY, 0.25, 200, 5);
        assertEquals(50, d.stream().filter(c -> c.expressed().get(Trait.SYCOPHANCY)).count());
        for (World.Conversation c : d) {
            assertEquals(World.Polarity.NEUTRAL, c.polarity());
            assertTrue(judge.judge(c.prompt(), c.response()).coherent());
        }
    }

    @Test
    void sameSeedSameWorld() {
        World.Conversation a = world.sampleTraining(new SplittableRandom(11));
        World.Conversation b = new World().sampleTraining(new SplittableRandom(11));
        assertEquals(a.messages(), b.messages());
    }
}
