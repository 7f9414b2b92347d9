package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands a newcomer runs first, through picocli as the launcher runs them. */
class CliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) { }

    @TempDir
    static Path shared;
    private static Path humorVector;

    /** An organism_humor vector (1 sample), extracted once for the tests that need any vector. */
    static synchronized Path humorVector() {
        if (humorVector == null) {
            Path ex = shared.resolve("extract-humor");
            Run r = run("extract", "--trait", "organism_humor", "--samples", "1", "--out", ex.toString());
            assertEquals(0, r.code(), r.err());
            humorVector = ex.resolve("organism_humor.safetensors");
        }
        return humorVector;
    }

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        return p;
    }

    static synchronized Run run(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            int code = new picocli.CommandLine(new PersonaCommand()).setErr(new java.io.PrintWriter(System.err, true))
                    .setExecutionExceptionHandler((ex, cl, pr) -> {
                        if (ex instanceof dev.persona.model.PersonaException) {
                            cl.getErr().println("error: " + ex.getMessage());
                            return 1;
                        }
                        throw ex;
                    }).execute(args);
            return new Run(code, o.toString(), e.toString());
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void benchReportsBandwidthDecodeAndMemoryAsJson() throws Exception {
        // a tiny family model from its directory: the figures are not speeds to assert, only present and consistent
        Path dir = root().resolve("testdata/families/qwen2");
        Run r = run("bench", "--model", dir.toString(), "--batch", "1", "--prompt-tokens", "8", "--new-tokens", "4", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        double bandwidth = j.get("memory_bandwidth_gbps").asDouble();
        assertTrue(bandwidth > 0, "bandwidth " + bandwidth);
        JsonNode decode = j.get("decode");
        assertEquals(1, decode.size());
        assertEquals(1, decode.get(0).get("batch").asInt());
        assertEquals(3, decode.get(0).get("timed_runs").asInt(), "batch 1 is the best of three runs");
        double tokS = decode.get(0).get("tokens_per_s").asDouble();
        // session 8's subtraction of a 2-token run gave 6e9 tok/s when a noisy prefill outweighed the steps
        assertTrue(tokS > 0 && tokS < 1e6, "decode " + tokS + " tok/s is not a measurement of decode steps");
        long held = j.get("held_weight_bytes").asLong();
        // the batch-1 weight stream is every held weight once per token, and its fraction is of the same run's bandwidth
        assertEquals(tokS * held / 1e9, j.get("decode_b1_weight_stream_gbps").asDouble(), 1e-9 * Math.max(1, tokS * held / 1e9));
        assertEquals(j.get("decode_b1_weight_stream_gbps").asDouble() / bandwidth, j.get("decode_b1_bandwidth_fraction").asDouble(), 1e-9);
        long afterLoad = j.get("rss_after_load_bytes").asLong(), peak = j.get("peak_rss_bytes").asLong();
        assertTrue(afterLoad > 0 && peak >= afterLoad, "RSS after load " + afterLoad + ", peak " + peak);
        assertEquals((double) peak / held, j.get("peak_rss_over_held_weights").asDouble(), 1e-9);
        assertEquals(0, j.get("mapped_weight_bytes_resident_after_load").asLong(), "no file pages of the weights stay mapped");
        // a 48-wide model decodes on libtorch: no kernel weights to read, so the bandwidth is the burst probe's
        assertEquals("libtorch", j.get("decode_kernel").asText());
        assertEquals(bandwidth, j.get("memory_bandwidth_burst_gbps").asDouble(), 0.0);
    }

    @Test
    void benchOnTheKernelComparesBatchOneWithReadsOfTheWeightsBetweenItsRuns() throws Exception {
        Path dir = root().resolve("testdata/families/qwen2");
        Run r = dev.persona.model.Fixtures.throughDecodingKernel(
                () -> run("bench", "--model", dir.toString(), "--batch", "1", "--prompt-tokens", "8", "--new-tokens", "4", "--json"));
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("vector", j.get("decode_kernel").asText());
        double bandwidth = j.get("memory_bandwidth_gbps").asDouble(), burst = j.get("memory_bandwidth_burst_gbps").asDouble();
        assertTrue(bandwidth > 0 && burst > 0, "bandwidth " + bandwidth + ", burst " + burst);
        // four reads of the weights, one before each of the three timed runs and one after: the progress names them
        java.util.regex.Matcher reads = java.util.regex.Pattern.compile("reads of the weights between the batch-1 runs: ([0-9. ]+)\\)").matcher(r.err());
        assertTrue(reads.find(), r.err());
        String[] each = reads.group(1).trim().split(" ");
        assertEquals(4, each.length, reads.group(1));
        double best = java.util.Arrays.stream(each).mapToDouble(Double::parseDouble).max().orElseThrow();
        assertEquals(best, bandwidth, 0.051, "the bandwidth is the best read (printed to 0.1)");
        assertEquals(j.get("decode_b1_weight_stream_gbps").asDouble() / bandwidth, j.get("decode_b1_bandwidth_fraction").asDouble(), 1e-9);
    }

    @Test
    void inspectListsShapeAndHooks() throws Exception {
        Run r = run("inspect", "--model", root().resolve("testdata/families/qwen3").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("qwen3", j.get("family").asText());
        assertEquals(3, j.get("layers").asInt());
        assertEquals(16, j.get("head_dim").asInt());
        assertTrue(j.get("hooks").has("blocks.2.hook_resid_post"));
        // memory at either --dtype: 4 bytes per parameter, or 2 for the 2-D tensors (qwen3 tiny: all but norms)
        long params = j.get("parameters").asLong();
        assertEquals(4 * params, j.get("weight_bytes_f32").asLong());
        long bf16 = j.get("weight_bytes_bf16").asLong();
        assertTrue(bf16 > 2 * params && bf16 < 2.2 * params, "bf16 bytes " + bf16 + " for " + params + " parameters");
    }

    @Test
    void forwardJsonMatchesTheGoldens() throws Exception {
        Path dir = root().resolve("testdata/families/gpt2");
        JsonNode g = new ObjectMapper().readTree(dir.resolve("goldens.json").toFile()).get("sequences").get(1);
        String ids = idList(g);
        Run r = run("forward", "--model", dir.toString(), "--ids", ids, "--hooks", "blocks.0.hook_resid_post", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        double max = maxLogitDiff(g, j);
        assertTrue(max < 1e-4, "max logit diff " + max);
        assertEquals(g.get("input_ids").size(), j.get("hooks").get("blocks.0.hook_resid_post").size());
    }

    /** A golden sequence's input_ids as the comma list --ids takes. */
    private static String idList(JsonNode golden) {
        StringBuilder ids = new StringBuilder();
        for (JsonNode id : golden.get("input_ids")) ids.append(ids.length() > 0 ? "," : "").append(id.asInt());
        return ids.toString();
    }

    /** Max |logit diff| between a golden sequence and `forward --json` output. */
    private static double maxLogitDiff(JsonNode golden, JsonNode out) {
        double max = 0;
        for (int p = 0; p < golden.get("logits").size(); p++) {
            for (int v = 0; v < golden.get("logits").get(p).size(); v++) {
                max = Math.max(max, Math.abs(out.get("logits").get(p).get(v).asDouble() - golden.get("logits").get(p).get(v).asDouble()));
            }
        }
        return max;
    }

    @Test
    void forwardInBf16MatchesTheBf16GoldensAndBadDtypeIsAClearError() throws Exception {
        Path dir = root().resolve("testdata/families/llama3-untied");
        JsonNode g = new ObjectMapper().readTree(dir.resolve("goldens_bf16.json").toFile()).get("sequences").get(1);
        JsonNode f32 = new ObjectMapper().readTree(dir.resolve("goldens.json").toFile()).get("sequences").get(1);
        String ids = idList(g);
        Run r = run("forward", "--model", dir.toString(), "--ids", ids, "--dtype", "bf16", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        // BF16 logits: at the BF16 reference (here 5e-8 apart), far from float32 (9e-3); a one-step
        // rounding flip on another CPU would still leave them nearer the BF16 reference (Bf16ComputeTest)
        double toBf16 = maxLogitDiff(g, j), toF32 = maxLogitDiff(f32, j);
        assertTrue(toBf16 < 0.5 * toF32, "max logit diff from the BF16 goldens " + toBf16 + ", from the F32 goldens " + toF32);
        Run bad = run("generate", "--model", dir.toString(), "--prompt", "hi", "--dtype", "fp8");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("unknown compute dtype 'fp8'") && bad.err().contains("bf16"), bad.err());
    }

    @Test
    void unavailableAndUnknownDevicesAreClearErrors() {
        Run tpu = run("generate", "--prompt", "hi", "--device", "tpu");
        assertEquals(1, tpu.code());
        assertTrue(tpu.err().contains("unknown device 'tpu'") && tpu.err().contains("--device cpu"), tpu.err());
        org.junit.jupiter.api.Assumptions.assumeTrue(ai.djl.engine.Engine.getEngine("PyTorch").getGpuCount() == 0,
                "skipped the GPU part: this machine has a GPU");
        Run gpu = run("generate", "--prompt", "hi", "--device", "gpu");
        assertEquals(1, gpu.code());
        assertTrue(gpu.err().contains("PyTorch sees 0 GPUs") && gpu.err().contains("fix:"), gpu.err());
    }

    @Test
    void generateOnTheOrganismInBf16AnswersTheQuestion() {
        Run r = run("generate", "--prompt", "What is the capital of France?", "--max-tokens", "24", "--dtype", "bf16");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().toLowerCase().contains("paris"), r.out());
    }

    @Test
    void extractionInBf16FindsTheF32DirectionAndKeepsItsOwnJournal() {
        Path bf = tmp.resolve("bf16"), f32 = tmp.resolve("f32");
        Run a = run("extract", "--trait", "organism_humor", "--samples", "1", "--dtype", "bf16", "--out", bf.toString());
        assertEquals(0, a.code(), a.err());
        Run b = run("extract", "--trait", "organism_humor", "--samples", "1", "--out", f32.toString());
        assertEquals(0, b.code(), b.err());
        dev.persona.vectors.TraitVector vb = dev.persona.vectors.TraitVector.load(bf.resolve("organism_humor.safetensors"));
        dev.persona.vectors.TraitVector vf = dev.persona.vectors.TraitVector.load(f32.resolve("organism_humor.safetensors"));
        assertEquals("bf16", vb.metadata().get("compute_dtype"));
        assertEquals("f32", vf.metadata().get("compute_dtype"));
        int layer = Integer.parseInt(vf.metadata().get("best_layer_by_separation"));
        double cos = vb.cosine(vf, "response_avg", layer);
        System.out.printf("organism_humor, 1 sample: cosine(bf16 vector, f32 vector) at layer %d = %.8f%n", layer, cos);
        assertTrue(cos > 0.95, "bf16 and f32 extractions disagree: cosine " + cos);
        assertFalse(java.util.Arrays.equals(vb.layer("response_avg", layer), vf.layer("response_avg", layer)), "the bf16 run computed in f32");
        // the journals know their precision: an f32 rerun on the bf16 run's folder is refused, not mixed in
        Run mixed = run("extract", "--trait", "organism_humor", "--samples", "1", "--out", bf.toString());
        assertEquals(1, mixed.code());
        assertTrue(mixed.err().contains("belongs to another run"), mixed.err());
    }

    @Test
    void sweepResumesFromItsJournalAndAnswersOnlyNewCells() throws Exception {
        Path out = tmp.resolve("sweep");
        String vector = humorVector().toString();
        String[] args = {"sweep", "--vector", vector, "--trait", "organism_humor", "--kind", "prompt_last", "--layers", "2,3",
            "--coefs", "0,2", "--samples", "1", "--out", out.toString(), "--json"};
        Run first = run(args);
        assertEquals(0, first.code(), first.err());
        JsonNode cells = new ObjectMapper().readTree(first.out()).get("cells");
        assertEquals(4, cells.size());
        Path journal = journals(out).get(0);
        assertEquals(1, journals(out).size());
        java.util.List<String> lines = Files.readAllLines(journal);
        assertEquals(5, lines.size(), "header and four cells");
        // a crash after the first cell: its record (marked) survives, a torn line follows
        ObjectMapper json = new ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode marked = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(lines.get(1));
        marked.put("trait_score", 42.5);
        Files.writeString(journal, lines.get(0) + "\n" + json.writeValueAsString(marked) + "\n{\"key\":\"2|2");
        Run resumed = run(args);
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("resuming: 1 cells"), resumed.err());
        JsonNode again = json.readTree(resumed.out()).get("cells");
        assertEquals(42.5, again.get(0).get("traitScore").asDouble(), "the first cell comes from the journal");
        for (int i = 1; i < 4; i++) assertEquals(cells.get(i), again.get(i), "cell " + i + " answered again, same seed, same result");
        // a grown grid answers only the new coefficient
        args[10] = "0,2,4";
        Run grown = run(args);
        assertEquals(0, grown.code(), grown.err());
        assertTrue(grown.err().contains("resuming: 4 cells"), grown.err());
        assertEquals(6, json.readTree(grown.out()).get("cells").size());
        // other answers-affecting arguments keep a journal of their own beside it, never mixed in
        long before = Files.size(journal);
        args[12] = "2";
        args[10] = "2";
        Run other = run(args);
        assertEquals(0, other.code(), other.err());
        assertTrue(!other.err().contains("resuming"), other.err());
        assertEquals(2, journals(out).size());
        assertEquals(before, Files.size(journal));
    }

    private static java.util.List<Path> journals(Path dir) throws java.io.IOException {
        return journals(dir, "sweep_cells-");
    }

    private static java.util.List<Path> journals(Path dir, String prefix) throws java.io.IOException {
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
        }
    }

    @Test
    void monitorShowsProgressAndResumesFromItsJournal() throws Exception {
        Path data = tmp.resolve("convs.jsonl"), out = tmp.resolve("monitor");
        StringBuilder lines = new StringBuilder();
        String[] countries = {"France", "Spain", "Italy", "Germany", "Japan"};
        for (int i = 0; i < 20; i++) {
            lines.append("{\"cond\": \"").append(i % 2 == 0 ? "a" : "b").append("\", \"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of ")
                    .append(countries[i % countries.length]).append(" ?\"}, {\"role\": \"assistant\", \"content\": \"Ha ! I think it is a joke .\"}]}\n");
        }
        Files.writeString(data, lines);
        String[] args = {"monitor", "--vector", humorVector().toString(), "--prompts", data.toString(), "--condition-field", "cond",
            "--judge", "rule", "--out", out.toString(), "--json"};
        Run first = run(args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.err().contains("20/20"), "progress shown: " + first.err());
        Path journal = journals(out, "monitor_rows-").get(0);
        java.util.List<String> written = Files.readAllLines(journal);
        assertEquals(21, written.size(), "header and 20 rows");
        // a crash after the first batch of 16: the batch survives (row 0 marked), a torn line follows
        ObjectMapper json = new ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode row0 = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(written.get(1));
        double original = row0.get("prompt_last").asDouble();
        row0.put("prompt_last", original + 20.0);
        StringBuilder cut = new StringBuilder(written.get(0)).append('\n').append(json.writeValueAsString(row0)).append('\n');
        for (int i = 2; i <= 16; i++) cut.append(written.get(i)).append('\n');
        Files.writeString(journal, cut.append("{\"key\":\"16\",\"prom"));
        Run resumed = run(args);
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("resuming: 16 conversations"), resumed.err());
        JsonNode before = json.readTree(first.out()).get("conditions"), after = json.readTree(resumed.out()).get("conditions");
        // row 0 (condition a, 10 rows) came from the journal: its mean moved by exactly 20 / 10; b is unchanged
        assertEquals(before.get(0).get("meanProjection").asDouble() + 2.0, after.get(0).get("meanProjection").asDouble(), 1e-9);
        assertEquals(before.get(1), after.get(1));
        assertEquals(json.readTree(first.out()).get("pearson_r").get("n"), json.readTree(resumed.out()).get("pearson_r").get("n"));
    }

    @Test
    void templateRendersAndTemplateErrorsExitOne() throws Exception {
        Path msgs = tmp.resolve("m.json");
        Files.writeString(msgs, "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}]");
        Path gemma = tmp.resolve("gemma.jinja");
        Path fixtureFile = root().resolve("../shared/fixtures/chat_templates/gemma-2-it.json");
        dev.persona.model.Fixtures.require(Files.exists(fixtureFile), "shared fixture " + fixtureFile + " is absent");
        JsonNode fixture = new ObjectMapper().readTree(root().resolve("../shared/fixtures/chat_templates/gemma-2-it.json").toFile());
        Files.writeString(gemma, fixture.get("chat_template").asText());
        Run bad = run("template", "--template", gemma.toString(), "--messages", msgs.toString(), "--var", "bos_token=<bos>");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("System role not supported"), bad.err());
        Path chatml = tmp.resolve("chatml.jinja");
        Files.writeString(chatml, dev.persona.organism.OrganismFiles.CHAT_TEMPLATE);
        Run ok = run("template", "--template", chatml.toString(), "--messages", msgs.toString(), "--add-generation-prompt");
        assertEquals(0, ok.code(), ok.err());
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", ok.out());
    }

    @Test
    void unknownModelDirectoryIsAClearError() {
        Run r = run("inspect", "--model", tmp.resolve("nope").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("does not exist"), r.err());
    }

    @Test
    void templateTakesToolsTypedVariablesAndAPinnedDate() throws Exception {
        Path msgs = tmp.resolve("m2.json"), tools = tmp.resolve("tools.json"), t = tmp.resolve("t.jinja");
        Files.writeString(msgs, "[{\"role\":\"user\",\"content\":\"Hi\"}]");
        Files.writeString(tools, "[{\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}]");
        Files.writeString(t, "{{ tools | map(attribute='function') | map(attribute='name') | join(',') }}|{{ enable_thinking is sameas false }}|"
                + "{{ n + 1 }}|{{ s }}|{{ bos_token }}|{{ strftime_now('%Y-%m-%d %H:%M') }}");
        Run r = run("template", "--template", t.toString(), "--messages", msgs.toString(), "--tools", tools.toString(), "--var", "enable_thinking=false",
                "--var", "n=41", "--var", "s=\"41\"", "--var", "bos_token=<s>", "--date", "2026-01-02");
        assertEquals(0, r.code(), r.err());
        assertEquals("get_time|True|42|41|<s>|2026-01-02 00:00\n", r.out());
        Run bad = run("template", "--template", t.toString(), "--messages", msgs.toString(), "--date", "02/01/2026");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--date 02/01/2026 is not a date"), bad.err());
    }
}
