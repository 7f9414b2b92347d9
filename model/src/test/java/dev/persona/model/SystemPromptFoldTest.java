package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gemma 2's real chat template refuses system messages; extraction contrasts system prompts, so the
 * system prompt is folded into the first user turn instead (Gemma 3's template does that itself).
 */
class SystemPromptFoldTest {
    @TempDir
    Path tmp;

    @Test
    void aTemplateWithoutSystemRoleGetsTheSystemPromptInTheFirstUserTurn() throws Exception {
        Path template = Fixtures.shared("chat_templates/gemma-2-it.json");
        Path tokenizer = Fixtures.shared("tokenizers/qwen3/tokenizer.json");
        Path dir = tmp.resolve("gemma2-chat");
        Files.createDirectories(dir);
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(Fixtures.project("testdata/families/gemma2").resolve(f), dir.resolve(f));
        }
        // the weights are a tiny random Gemma 2 and the tokenizer another model's: rendering reads neither
        Files.copy(tokenizer, dir.resolve("tokenizer.json"));
        ObjectMapper om = new ObjectMapper();
        ObjectNode cfg = om.createObjectNode().put("bos_token", "<bos>").put("eos_token", "<eos>")
                .put("chat_template", om.readTree(template.toFile()).get("chat_template").asText());
        om.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
        try (ChatModel m = ChatModel.load(dir)) {
            String folded = m.render(List.of(ChatMessage.system("You are a sycophantic assistant."), ChatMessage.user("Is the sky green?")), true);
            assertEquals("<bos><start_of_turn>user\nYou are a sycophantic assistant.\n\nIs the sky green?<end_of_turn>\n<start_of_turn>model\n", folded);
            assertEquals(m.render(List.of(ChatMessage.user("You are a sycophantic assistant.\n\nIs the sky green?")), true), folded);
            // a refusal with another cause still reaches the user with the template's own words
            PersonaException e = assertThrows(PersonaException.class,
                    () -> m.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true));
            assertTrue(e.getMessage().contains("refused the conversation") && e.getMessage().contains("alternate"), e.getMessage());
        }
    }
}
