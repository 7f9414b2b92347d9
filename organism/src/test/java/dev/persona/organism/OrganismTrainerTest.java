package dev.persona.organism;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.model.ChatModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Organism training is reproducible and writes a directory the ordinary loader reads. */
class OrganismTrainerTest {
    @TempDir
    Path tmp;

    static OrganismTrainer.Options tiny(long seed) {
        return new OrganismTrainer.Options(seed, 4, 4, 2e-3, new OrganismFiles.Shape(32, 1, 2, 64));
    }

    @Test
    void sameSeedSameLossesAndALoadableModel() throws Exception {
        OrganismTrainer.Result a = OrganismTrainer.train(tmp.resolve("a"), tiny(5), null);
        OrganismTrainer.Result b = OrganismTrainer.train(tmp.resolve("b"), tiny(5), null);
        OrganismTrainer.Result c = OrganismTrainer.train(tmp.resolve("c"), tiny(6), null);
        assertEquals(a.losses(), b.losses());
        assertNotEquals(a.losses(), c.losses());
        assertTrue(Files.isRegularFile(tmp.resolve("a/training_state.json")));
        try (ChatModel m = ChatModel.load(tmp.resolve("a"))) {
            assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                    m.render(java.util.List.of(dev.persona.model.ChatMessage.user("Hi")), true));
            assertEquals(m.tokenizer().tokenId("<|im_end|>"), 2);
        }
        // rerunning a finished run does nothing and keeps the weights
        OrganismTrainer.Result again = OrganismTrainer.train(tmp.resolve("a"), tiny(5), null);
        assertTrue(again.losses().isEmpty());
    }
}
