package dev.persona.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.Fixtures;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Real Qwen3 and Llama 3 tokenizers encode the chat-template fixture strings to transformers' ids. */
class TokenizerTest {
    @Test
    void qwen3AndLlama3MatchHuggingFaceIds() throws Exception {
        JsonNode goldens = new ObjectMapper().readTree(Fixtures.project("testdata/tokenizer_goldens.json").toFile());
        for (String name : new String[] {"qwen3", "llama3"}) {
            Path dir = Fixtures.shared("tokenizers/" + name);
            int n = 0;
            try (Tokenizer tok = Tokenizer.load(dir)) {
                for (JsonNode c : goldens.get("cases").get(name)) {
                    int[] expected = new ObjectMapper().convertValue(c.get("ids"), int[].class);
                    assertArrayEquals(expected, tok.encode(c.get("text").asText()), name + ": " + c.get("text").asText());
                    n++;
                }
            }
            assertTrue(n >= 10, name + ": only " + n + " golden strings");
        }
    }

    @Test
    void specialTokensAndKnownIds() {
        try (Tokenizer tok = Tokenizer.load(Fixtures.shared("tokenizers/qwen3"))) {
            assertEquals(151644, tok.tokenId("<|im_start|>"));
            assertEquals(151645, tok.tokenId("<|im_end|>"));
            assertEquals("<|im_end|>", tok.specialTokens().get("eos_token"));
            int[] ids = tok.encode("<|im_start|>user\nHello<|im_end|>");
            assertEquals("user\nHello", tok.decode(ids, true));
        }
    }

    @Test
    void missingTokenizerIsAClearError() {
        PersonaException e = assertThrows(PersonaException.class, () -> Tokenizer.load(Path.of("/nonexistent/model")));
        assertTrue(e.getMessage().contains("no tokenizer.json in /nonexistent/model"), e.getMessage());
    }
}
