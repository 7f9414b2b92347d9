package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.api.CheckpointDrift;
import dev.persona.api.Conversation;
import dev.persona.api.DriftOptions;
import dev.persona.api.ExtractOptions;
import dev.persona.api.ExtractResult;
import dev.persona.api.MonitorOptions;
import dev.persona.api.MonitorResult;
import dev.persona.api.Persona;
import dev.persona.api.ScreenOptions;
import dev.persona.api.ScreenResult;
import dev.persona.api.SweepOptions;
import dev.persona.api.SweepResult;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatMessage;
import dev.persona.organism.OrganismData;
import dev.persona.organism.RuleJudge;
import dev.persona.organism.Trait;
import dev.persona.steer.Sweep;
import dev.persona.steer.SteeringPlan;
import dev.persona.vectors.Monitor;
import dev.persona.vectors.Screen;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commands choose their batch from memory and take {@code --batch}: the batch of a forward pass or of
 * greedy replies changes float rounding only, a sampled generation's batch is recorded and splits the
 * answers, and the default on this machine is the command's old fixed batch.
 */
@Tag("slow")
class BatchChoiceTest {
    @TempDir
    static Path tmp;

    static Persona m;
    static Path vector;
    static final String SYSTEM = "You are a helpful assistant .";

    @BeforeAll
    static void load() {
        ExtractionOnOrganismTest.organism();
        m = Persona.organism();
        ExtractResult x = m.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(32).out(tmp.resolve("vector")));
        // 24 GB machines give the old fixed batch: the organism's rows are small
        assertEquals(64, x.batch());
        vector = x.vectorFile();
    }

    @AfterAll
    static void close() {
        if (m != null) m.close();
    }

    private static Path conversations(String name, int n) throws Exception {
        Path data = tmp.resolve(name + ".jsonl");
        var convs = new ArrayList<>(OrganismData.conversations(Trait.SYCOPHANCY, 1.0, n / 2, 5));
        convs.addAll(OrganismData.conversations(Trait.SYCOPHANCY, 0.0, n - n / 2, 6));
        OrganismData.write(convs, data);
        return data;
    }

    @Test
    void monitorBatchChangesRoundingOnly() throws Exception {
        List<Conversation> convs = Conversation.readJsonl(conversations("monitor", 11), null);
        MonitorResult one = m.monitor(m.vector(vector), convs, MonitorOptions.defaults().perTurn(true).judge("rule").batch(1).out(tmp.resolve("m1")));
        MonitorResult four = m.monitor(m.vector(vector), convs, MonitorOptions.defaults().perTurn(true).judge("rule").batch(4).out(tmp.resolve("m4")));
        MonitorResult chosen = m.monitor(m.vector(vector), convs, MonitorOptions.defaults().perTurn(true).judge("rule").out(tmp.resolve("mm")));
        for (MonitorResult other : List.of(four, chosen)) {
            assertEquals(11, other.rows().size());
            for (int i = 0; i < 11; i++) {
                Monitor.Row a = one.rows().get(i), b = other.rows().get(i);
                assertEquals(i, b.index());
                assertEquals(a.promptLast(), b.promptLast(), 1e-4, "prompt_last " + i);
                assertEquals(a.response(), b.response(), 1e-4, "response " + i);
                assertEquals(a.traitScore(), b.traitScore(), 0.0, "judged " + i);
                assertEquals(a.perTurn().size(), b.perTurn().size());
                for (int k = 0; k < a.perTurn().size(); k++) assertEquals(a.perTurn().get(k), b.perTurn().get(k), 1e-4, "turn " + k + " of " + i);
            }
        }
    }

    @Test
    void screenBatchKeepsGreedyRepliesAndScores() throws Exception {
        Path data = conversations("screen", 10);
        ScreenResult one = m.screen(m.vector(vector), data, ScreenOptions.defaults().top(3).batch(1).out(tmp.resolve("s1")));
        ScreenResult three = m.screen(m.vector(vector), data, ScreenOptions.defaults().top(3).batch(3).out(tmp.resolve("s3")));
        ScreenResult chosen = m.screen(m.vector(vector), data, ScreenOptions.defaults().top(3).out(tmp.resolve("sm")));
        for (ScreenResult other : List.of(three, chosen)) {
            for (int i = 0; i < 10; i++) {
                Screen.Score a = one.scores().get(i), b = other.scores().get(i);
                assertEquals(a.baseReply(), b.baseReply(), "greedy base reply " + i);
                assertEquals(a.difference(), b.difference(), 1e-4, "difference " + i);
                assertEquals(a.cheap(), b.cheap(), 1e-4, "cheap " + i);
            }
        }
    }

    @Test
    void driftBatchChangesRoundingOnly() {
        DriftOptions o = DriftOptions.of(m.dir(), List.of(m.dir()), List.of(vector)).system(SYSTEM).out(tmp.resolve("d"));
        double[][] one = CheckpointDrift.plan(o.batch(1)).measureBase();
        double[][] chosen = CheckpointDrift.plan(o).measureBase();
        assertEquals(one.length, chosen.length);
        for (int p = 0; p < one.length; p++) {
            for (int i = 0; i < one[p].length; i++) assertEquals(one[p][i], chosen[p][i], 1e-4, "probe " + p + " dim " + i);
        }
    }

    @Test
    void sweepSplitsACellOnlyWhenTheBatchIsSmaller() throws Exception {
        TraitSpec spec = TraitLibrary.load("organism_sycophancy", "eval");
        List<List<ChatMessage>> prompts = Sweep.prompts(spec, SYSTEM, 2);
        SteeringPlan none = new SteeringPlan();
        var model = m.chatModel();
        Sweep.Score whole = Sweep.evaluate(model, none, spec, prompts, new RuleJudge(), 24, 5);
        Sweep.Score oneBatch = Sweep.evaluate(model, none, spec, prompts, new RuleJudge(), 24, 5, prompts.size());
        assertEquals(whole, oneBatch, "a batch that holds the cell answers as one call");
        Sweep.Score split = Sweep.evaluate(model, none, spec, prompts, new RuleJudge(), 24, 5, 3);
        assertEquals(prompts.size(), split.n());
        assertTrue(split.traitScore() >= 0 && split.traitScore() <= 100, split.toString());
        // the command: a smaller batch gets a journal of its own, so it never mixes cells sampled with another split
        Path out = tmp.resolve("sweep");
        SweepOptions o = SweepOptions.defaults().layers(List.of(2)).coefs(List.of(0.0, 2.0)).maxTokens(24).out(out);
        SweepResult a = m.sweep(m.vector(vector), "organism_sycophancy", o);
        SweepResult b = m.sweep(m.vector(vector), "organism_sycophancy", o.batch(3));
        assertEquals(a.cells().size(), b.cells().size());
        try (var files = Files.list(out)) {
            assertEquals(2, files.filter(f -> f.getFileName().toString().startsWith("sweep_cells-")).count(), "one journal per batch split");
        }
    }
}
