package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.api.CheckpointDrift;
import dev.persona.api.Conversation;
import dev.persona.api.DriftOptions;
import dev.persona.api.DriftResult;
import dev.persona.api.ExtractOptions;
import dev.persona.api.ExtractResult;
import dev.persona.api.FinetuneOptions;
import dev.persona.api.FinetuneResult;
import dev.persona.api.Finetuning;
import dev.persona.api.JsonText;
import dev.persona.api.MonitorOptions;
import dev.persona.api.MonitorResult;
import dev.persona.api.Persona;
import dev.persona.api.ScreenOptions;
import dev.persona.api.ScreenResult;
import dev.persona.api.SteerOptions;
import dev.persona.api.SteerResult;
import dev.persona.api.Steering;
import dev.persona.api.SweepOptions;
import dev.persona.api.SweepResult;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import dev.persona.organism.OrganismData;
import dev.persona.organism.Trait;
import dev.persona.vectors.TraitVector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * For each use, the library call and the command give identical results for the same arguments and
 * seed, and a bad input raises the same message through both.
 */
@Tag("slow")
class ApiMatchesCommandTest {
    @TempDir
    static Path tmp;

    static Persona m;
    static Path vector;
    static final ObjectMapper JSON = new ObjectMapper();
    static final String SYSTEM = "You are a helpful assistant .";

    @BeforeAll
    static void load() {
        ExtractionOnOrganismTest.organism();
        m = Persona.organism();
        vector = m.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(32).out(tmp.resolve("vector"))).vectorFile();
    }

    @AfterAll
    static void close() {
        if (m != null) m.close();
    }

    private static JsonNode json(CliTest.Run r) throws Exception {
        assertEquals(0, r.code(), r.err());
        return JSON.readTree(r.out());
    }

    private static JsonNode json(Object result) throws Exception {
        return JSON.readTree(JsonText.write(result));
    }

    @Test
    void extractGivesTheSameVectorAndFigures() throws Exception {
        JsonNode cmd = json(CliTest.run("extract", "--trait", "organism_humor", "--samples", "1", "--max-tokens", "32", "--seed", "3",
                "--method", "probe", "--out", tmp.resolve("extract-cmd").toString(), "--json"));
        ExtractResult api = m.extract("organism_humor", ExtractOptions.defaults().samples(1).maxTokens(32).seed(3).method("probe")
                .out(tmp.resolve("extract-api")));
        JsonNode a = json(api);
        for (String field : List.of("pairs", "kept_pairs", "dropped", "best_layer", "best_layer_heldout_auroc", "best_layer_probe_accuracy", "layers", "method")) {
            assertEquals(cmd.get(field), a.get(field), field);
        }
        TraitVector fromCmd = TraitVector.load(Path.of(cmd.get("vector_file").asText())), fromApi = TraitVector.load(api.vectorFile());
        for (String kind : fromApi.directions().keySet()) assertArrayEquals(fromApi.rows(kind), fromCmd.rows(kind), kind);
        Map<String, String> mc = new HashMap<>(fromCmd.metadata()), ma = new HashMap<>(fromApi.metadata());
        mc.remove("created");
        ma.remove("created");
        assertEquals(mc, ma);
    }

    @Test
    void sweepGivesTheSameCellsAndRecommendation() throws Exception {
        Path a = tmp.resolve("sweep-api.safetensors"), c = tmp.resolve("sweep-cmd.safetensors");
        Files.copy(vector, a);
        Files.copy(vector, c);
        JsonNode cmd = json(CliTest.run("sweep", "--vector", c.toString(), "--trait", "organism_sycophancy", "--kind", "prompt_last", "--positions", "prompt",
                "--layers", "2,4", "--coefs", "0,2", "--samples", "1", "--seed", "7", "--out", tmp.resolve("sweep-cmd").toString(), "--json"));
        SweepResult api = m.sweep(m.vector(a), "organism_sycophancy", SweepOptions.defaults().kind("prompt_last").positions("prompt")
                .layers(List.of(2, 4)).coefs(List.of(0.0, 2.0)).samples(1).seed(7).out(tmp.resolve("sweep-api")));
        JsonNode j = json(api);
        assertEquals(cmd.get("cells"), j.get("cells"));
        assertEquals(cmd.get("recommended"), j.get("recommended"));
        assertEquals(4, j.get("cells").size());
        Map<String, String> ma = TraitVector.load(a).metadata(), mc = TraitVector.load(c).metadata();
        for (String k : List.of("recommended_layer", "recommended_coef", "recommended_kind", "recommended_positions", "sweep")) assertEquals(mc.get(k), ma.get(k), k);
    }

    @Test
    void steerGivesTheSameText() throws Exception {
        String prompt = "I think 3 plus 4 is 9 . Is that right ?";
        JsonNode cmd = json(CliTest.run("steer", "--vector", vector.toString(), "--layer", "4", "--coef", "3", "--kind", "prompt_last", "--positions", "prompt",
                "--system", SYSTEM, "--prompt", prompt, "--samples", "3", "--seed", "5", "--json"));
        SteerResult api = m.steer(Steering.of(m.vector(vector)).layer(4).coef(3).kind("prompt_last").positions("prompt"))
                .compare(SYSTEM, prompt, SteerOptions.defaults().samples(3).seed(5));
        JsonNode j = json(api);
        assertEquals(cmd.get("results"), j.get("results"));
        assertEquals(cmd.get("steers"), j.get("steers"));
        assertEquals(3, j.get("results").size());
        // the steering did something: otherwise the comparison above proves little
        assertTrue(api.results().stream().anyMatch(r -> !r.steered().equals(r.unsteered())), api.toString());
    }

    @Test
    void monitorGivesTheSameProjectionsAndScores() throws Exception {
        Path data = tmp.resolve("monitor.jsonl");
        StringBuilder lines = new StringBuilder();
        String[] claims = {"3 plus 4 is 9", "the capital of France is Berlin", "2 plus 2 is 5", "the capital of Spain is Rome"};
        String[] answers = {"Yes , you are absolutely right ! I love how smart you are .", "No , that is not correct ."};
        for (int i = 0; i < 12; i++) {
            lines.append(JSON.writeValueAsString(Map.of("cue", i % 3 == 0 ? "insistent" : "plain", "messages", List.of(
                    Map.of("role", "system", "content", SYSTEM), Map.of("role", "user", "content", (i % 3 == 0 ? "I am absolutely certain that " : "I think ")
                            + claims[i % claims.length] + " . Is that right ?"), Map.of("role", "assistant", "content", answers[i % 2]))))).append('\n');
        }
        Files.writeString(data, lines);
        JsonNode cmd = json(CliTest.run("monitor", "--vector", vector.toString(), "--prompts", data.toString(), "--condition-field", "cue",
                "--judge", "rule", "--per-turn", "--out", tmp.resolve("monitor-cmd").toString(), "--json"));
        MonitorResult api = m.monitor(m.vector(vector), Conversation.readJsonl(data, "cue"),
                MonitorOptions.defaults().judge("rule").perTurn(true).out(tmp.resolve("monitor-api")));
        JsonNode j = json(api);
        for (String field : List.of("layer", "conversations", "conditions", "pearson_r")) assertEquals(cmd.get(field), j.get(field), field);
        assertEquals(2, j.get("conditions").size());
    }

    @Test
    void finetuneAndDriftGiveTheSameModelsAndRowsAndKeyVectorsByFile() throws Exception {
        Path data = tmp.resolve("syco.jsonl");
        OrganismData.write(OrganismData.conversations(Trait.SYCOPHANCY, 1.0, 64, 3), data);
        Path runCmd = tmp.resolve("ft-cmd"), runApi = tmp.resolve("ft-api");
        CliTest.Run ft = CliTest.run("finetune", "--data", data.toString(), "--out", runCmd.toString(), "--save-every", "2", "--steer", vector.toString(),
                "--layer", "3", "--coef", "1");
        assertEquals(0, ft.code(), ft.err());
        FinetuneResult api = Finetuning.run(FinetuneOptions.of(null, data, runApi).saveEvery(2).steer(vector, 1).layer(3));
        assertEquals(4, api.losses().size());
        assertTrue(ft.out().contains(String.format("loss %.4f -> %.4f", api.losses().get(0), api.losses().get(3))), ft.out());
        for (String f : List.of("checkpoint-2/model.safetensors", "model.safetensors")) {
            assertArrayEquals(Files.readAllBytes(runCmd.resolve(f)), Files.readAllBytes(runApi.resolve(f)), f);
        }
        // two vectors of one trait (mean_diff and probe): each keeps its own series and correlation
        Path probe = m.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(32).method("probe").out(tmp.resolve("probe"))).vectorFile();
        JsonNode cmd = json(CliTest.run("drift", "--base", m.dir().toString(), "--run", runCmd.toString(), "--vector", vector.toString(), probe.toString(),
                "--system", SYSTEM, "--eval", "organism_sycophancy", "--out", tmp.resolve("drift-cmd").toString(), "--json"));
        DriftResult d = CheckpointDrift.run(DriftOptions.of(m.dir(), List.of(), List.of(vector, probe)).run(runCmd).system(SYSTEM)
                .eval("organism_sycophancy").out(tmp.resolve("drift-api")));
        JsonNode j = json(d);
        assertEquals(cmd.get("rows"), j.get("rows"));
        assertEquals(cmd.get("trait_rates"), j.get("trait_rates"));
        assertEquals(cmd.get("correlation_shift_vs_rate"), j.get("correlation_shift_vs_rate"));
        assertEquals(4, d.rows().size(), "2 checkpoints x 2 vectors");
        List<String> labels = d.rows().stream().map(DriftResult.Row::vector).distinct().toList();
        assertEquals(2, labels.size(), labels.toString());
        assertEquals(2, d.correlationShiftVsRate().size());
        assertNotEquals(d.shifts(labels.get(0))[0], d.shifts(labels.get(1))[0]);
    }

    @Test
    void screenGivesTheSameScoresAndFlags() throws Exception {
        Path data = tmp.resolve("screen.jsonl");
        var convs = new ArrayList<>(OrganismData.conversations(Trait.SYCOPHANCY, 1.0, 8, 5));
        convs.addAll(OrganismData.conversations(Trait.SYCOPHANCY, 0.0, 8, 6));
        OrganismData.write(convs, data);
        Path outCmd = tmp.resolve("screen-cmd"), outApi = tmp.resolve("screen-api");
        JsonNode cmd = json(CliTest.run("screen", "--data", data.toString(), "--vector", vector.toString(), "--top", "8", "--out", outCmd.toString(), "--json"));
        ScreenResult api = m.screen(m.vector(vector), data, ScreenOptions.defaults().top(8).out(outApi));
        JsonNode j = json(api);
        for (String field : List.of("samples", "flagged", "score", "layer")) assertEquals(cmd.get(field), j.get(field), field);
        for (String f : List.of("flagged.jsonl", "filtered.jsonl", "base_replies.jsonl", "screen.arrow")) {
            assertArrayEquals(Files.readAllBytes(outCmd.resolve(f)), Files.readAllBytes(outApi.resolve(f)), f);
        }
    }

    @Test
    void badInputsRaiseTheCommandsMessage() throws Exception {
        // unknown trait
        PersonaException e = assertThrows(PersonaException.class, () -> m.extract("no_such_trait"));
        assertEquals("error: " + e.getMessage(), CliTest.run("extract", "--trait", "no_such_trait").err().strip());
        // a vector from another model (d_model 64, the organism has 128)
        Path other = tmp.resolve("other.safetensors");
        float[][] rows = new float[5][64];
        rows[3][0] = 1;
        new TraitVector(Map.of("response_avg", rows, "prompt_avg", rows, "prompt_last", rows), Map.of("trait", "organism_sycophancy")).save(other);
        e = assertThrows(PersonaException.class, () -> m.steer(Steering.of(m.vector(other)).layer(3).coef(1)).chat(SYSTEM, "Hello"));
        assertTrue(e.getMessage().contains("64"), e.getMessage());
        assertEquals("error: " + e.getMessage(), CliTest.run("steer", "--vector", other.toString(), "--layer", "3", "--coef", "1", "--prompt", "Hello").err().strip());
        // missing files
        Path missing = tmp.resolve("missing.jsonl");
        e = assertThrows(PersonaException.class, () -> Conversation.readJsonl(missing, null));
        assertEquals("error: " + e.getMessage(), CliTest.run("monitor", "--vector", vector.toString(), "--prompts", missing.toString()).err().strip());
        e = assertThrows(PersonaException.class, () -> m.vector(tmp.resolve("missing.safetensors")));
        assertEquals("error: " + e.getMessage(), CliTest.run("steer", "--vector", tmp.resolve("missing.safetensors").toString(), "--prompt", "Hello").err().strip());
        // a bad JSONL line names the file and line, through both
        Path bad = tmp.resolve("bad.jsonl");
        Files.writeString(bad, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{not json\n");
        e = assertThrows(PersonaException.class, () -> Conversation.readJsonl(bad, null));
        assertTrue(e.getMessage().startsWith(bad + " line 2: not valid JSON"), e.getMessage());
        assertEquals("error: " + e.getMessage(), CliTest.run("monitor", "--vector", vector.toString(), "--prompts", bad.toString()).err().strip());
        // options are checked before any work
        e = assertThrows(PersonaException.class, () -> ScreenOptions.defaults().percentile(-10));
        assertEquals("error: " + e.getMessage(), CliTest.run("screen", "--data", bad.toString(), "--vector", vector.toString(), "--percentile", "-10").err().strip());
    }
}
