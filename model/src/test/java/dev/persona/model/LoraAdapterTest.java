package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT LoRA adapters merged on load, against PEFT itself: adapters and logits written by
 * tools/make_lora_goldens.py (testdata/lora) cover rank/alpha patterns, rsLoRA with
 * layers_to_transform, and GPT-2's fan_in_fan_out Conv1D layout.
 */
class LoraAdapterTest {
    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> adaptedLogitsMatchPeft() throws IOException {
        Path root = Fixtures.project("testdata/lora");
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(Files::isDirectory).sorted().toList().stream()
                    .map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> check(dir)));
        }
    }

    private static void check(Path adapter) throws IOException {
        JsonNode goldens = new ObjectMapper().readTree(adapter.resolve("goldens.json").toFile());
        Path base = Fixtures.project(goldens.get("base").asText());
        double maxAdapted = 0, maxBase = 0;
        // the users' path: base_model_name_or_path resolved from adapter_config.json
        try (HookedTransformer model = HookedTransformer.load(adapter); HookedTransformer plain = HookedTransformer.load(base)) {
            assertEquals(base.toAbsolutePath().normalize(), model.directory().toAbsolutePath().normalize());
            for (JsonNode seq : goldens.get("sequences")) {
                int[] ids = new ObjectMapper().convertValue(seq.get("input_ids"), int[].class);
                FloatTensor logits = model.forward(ids), baseLogits = plain.forward(ids);
                for (int p = 0; p < ids.length; p++) {
                    JsonNode row = seq.get("logits").get(p);
                    for (int v = 0; v < row.size(); v++) {
                        maxAdapted = Math.max(maxAdapted, Math.abs(logits.get(0, p, v) - row.get(v).asDouble()));
                        maxBase = Math.max(maxBase, Math.abs(baseLogits.get(0, p, v) - row.get(v).asDouble()));
                    }
                }
            }
        }
        System.out.printf("%-20s max |logit diff| adapted %.2e (base alone %.2e)%n", adapter.getFileName(), maxAdapted, maxBase);
        assertTrue(maxAdapted < FamilyParityTest.TOLERANCE, adapter.getFileName() + ": max abs logit diff " + maxAdapted);
        // the adapter must matter, or the comparison above proves nothing
        assertTrue(maxBase > 100 * FamilyParityTest.TOLERANCE, adapter.getFileName() + ": the base alone is within " + maxBase);
    }

    @Test
    void explicitBaseAndChatModelLoadTheSameWeights() throws IOException {
        Path adapter = copy(Fixtures.project("testdata/lora/qwen2-rslora"), tmp.resolve("moved"));
        rewrite(adapter, c -> c.put("base_model_name_or_path", "Qwen/Qwen2-0.5B"));
        PersonaException e = assertThrows(PersonaException.class, () -> HookedTransformer.load(adapter).close());
        assertTrue(e.getMessage().contains("Qwen/Qwen2-0.5B") && e.getMessage().contains("--base"), e.getMessage());
        Path base = Fixtures.project("testdata/families/qwen2");
        try (HookedTransformer a = HookedTransformer.loadAdapted(base, adapter, Device.cpu(), false);
             HookedTransformer b = HookedTransformer.load(Fixtures.project("testdata/lora/qwen2-rslora"))) {
            int[] ids = {1, 5, 9, 14};
            FloatTensor x = a.forward(ids), y = b.forward(ids);
            for (int v = 0; v < x.shape()[2]; v++) assertEquals(y.get(0, 3, v), x.get(0, 3, v), 0f);
        }
    }

    @Test
    void unsupportedAdaptersAreRefusedByName() throws IOException {
        Path src = Fixtures.project("testdata/lora/llama3-untied-lora");
        Path dora = copy(src, tmp.resolve("dora"));
        rewrite(dora, c -> c.put("use_dora", true));
        assertTrue(message(dora).contains("use_dora"));
        Path saved = copy(src, tmp.resolve("saved"));
        rewrite(saved, c -> c.putArray("modules_to_save").add("lm_head"));
        assertTrue(message(saved).contains("modules_to_save"));
        Path rank = copy(src, tmp.resolve("rank"));
        rewrite(rank, c -> c.with("rank_pattern").put("o_proj", 3));
        String m = message(rank);
        assertTrue(m.contains("o_proj") && m.contains("rank 2"), m);
        Path missing = copy(src, tmp.resolve("missing"));
        Files.delete(missing.resolve("adapter_model.safetensors"));
        assertTrue(message(missing).contains("adapter_model.safetensors"));
    }

    private static String message(Path adapter) {
        return assertThrows(PersonaException.class, () -> HookedTransformer.load(adapter).close()).getMessage();
    }

    private static Path copy(Path src, Path dst) throws IOException {
        Files.createDirectories(dst);
        try (var s = Files.list(src)) {
            for (Path p : s.toList()) Files.copy(p, dst.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        // keep the base resolvable from the copy: the fixture's path is relative to the project root
        return dst;
    }

    private static void rewrite(Path adapter, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        ObjectMapper om = new ObjectMapper();
        ObjectNode c = (ObjectNode) om.readTree(adapter.resolve("adapter_config.json").toFile());
        edit.accept(c);
        om.writeValue(adapter.resolve("adapter_config.json").toFile(), c);
    }
}
