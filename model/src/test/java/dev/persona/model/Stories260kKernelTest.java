package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link Stories260kTest}'s checks against llama2.c (logits at every position, final norm, greedy
 * continuations id for id) with every product of up to 64 rows on the decoding kernel ({@link Gemv})
 * instead of libtorch.
 */
class Stories260kKernelTest extends Stories260kTest {
    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.shared("stories260k");
        model = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()));
        assertTrue(model.decodesThroughKernel());
        goldens = new ObjectMapper().readTree(dir.resolve("goldens.json").toFile());
    }
}
