package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every family against Hugging Face transformers itself: tiny random models and goldens written by
 * tools/make_family_goldens.py (committed under testdata/families), loaded through the users' path.
 */
class FamilyParityTest {
    static final double TOLERANCE = 1e-4;

    @TestFactory
    Stream<DynamicTest> logitsAndHiddenStatesMatchTransformers() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path dir : familyDirs()) tests.add(DynamicTest.dynamicTest(dir.getFileName().toString(), () -> check(dir)));
        return tests.stream();
    }

    private static List<Path> familyDirs() throws IOException {
        try (Stream<Path> s = Files.list(Fixtures.project("testdata/families"))) {
            List<Path> dirs = s.filter(Files::isDirectory).sorted().toList();
            assertTrue(dirs.size() >= 13, "expected ten families and three storage variants, found " + dirs);
            return dirs;
        }
    }

    /** The same goldens and tolerance with every product through the decoding kernel ({@link Gemv}). */
    @TestFactory
    Stream<DynamicTest> logitsAndHiddenStatesMatchTransformersThroughTheDecodingKernel() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path dir : familyDirs()) {
            tests.add(DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
                try (HookedTransformer model = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()))) {
                    // every test model is narrower than the kernel's default threshold: only forcing it reaches the kernel
                    assertTrue(model.decodesThroughKernel(), dir + " did not take the decoding kernel");
                    check(dir, model);
                }
            }));
        }
        return tests.stream();
    }

    private static void check(Path dir) throws IOException {
        try (HookedTransformer model = HookedTransformer.load(dir, Fixtures.device())) {
            check(dir, model);
        }
    }

    private static void check(Path dir, HookedTransformer model) throws IOException {
        JsonNode goldens = new ObjectMapper().readTree(dir.resolve("goldens.json").toFile());
        {
            int layers = model.config().numLayers();
            List<String> rows = new ArrayList<>();
            for (int r = 0; r <= layers; r++) rows.add(HookPoint.hiddenStateRow(r, layers));
            double maxLogit = 0, maxHidden = 0;
            for (JsonNode seq : goldens.get("sequences")) {
                int[] ids = new ObjectMapper().convertValue(seq.get("input_ids"), int[].class);
                FloatTensor logits;
                List<FloatTensor> hidden = new ArrayList<>();
                try (ActivationCache cache = model.capture(rows)) {
                    logits = model.forward(ids);
                    for (String r : rows) hidden.add(cache.get(r));
                }
                for (int p = 0; p < ids.length; p++) {
                    JsonNode row = seq.get("logits").get(p);
                    for (int v = 0; v < row.size(); v++) maxLogit = Math.max(maxLogit, Math.abs(logits.get(0, p, v) - row.get(v).asDouble()));
                    for (int r = 0; r <= layers; r++) {
                        JsonNode h = seq.get("hidden_states").get(r).get(p);
                        for (int d = 0; d < h.size(); d++) maxHidden = Math.max(maxHidden, Math.abs(hidden.get(r).get(0, p, d) - h.get(d).asDouble()));
                    }
                }
            }
            System.out.printf("%-16s max |logit diff| %.2e, max |hidden diff| %.2e%n", dir.getFileName(), maxLogit, maxHidden);
            assertTrue(maxLogit < TOLERANCE, dir.getFileName() + ": max abs logit diff " + maxLogit);
            assertTrue(maxHidden < TOLERANCE, dir.getFileName() + ": max abs hidden-state diff " + maxHidden);
        }
    }
}
