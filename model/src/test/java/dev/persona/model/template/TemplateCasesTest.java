package dev.persona.model.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.Fixtures;
import java.time.LocalDateTime;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Persona's own cases for the Jinja constructs real templates use beyond the fixture (call arguments
 * unpacked with *args / **kwargs, call blocks with caller(), filter blocks) render exactly what
 * transformers' chat-template environment rendered (tools/make_template_cases.py), and syntax errors
 * name the line jinja2 names, with a column.
 */
class TemplateCasesTest {
    @Test
    void ownCasesRenderAsTransformersDoes() throws Exception {
        ObjectMapper json = new ObjectMapper();
        JsonNode cases = json.readTree(Fixtures.project("testdata/templates").resolve("cases.json").toFile()).get("cases");
        int rendered = 0, errors = 0;
        for (JsonNode c : cases) {
            String name = c.get("name").asText();
            ChatTemplate t;
            if (c.has("error_line")) {
                TemplateException e = assertThrows(TemplateException.class, () -> ChatTemplate.parse(c.get("template").asText()), name);
                assertTrue(e.getMessage().contains("line " + c.get("error_line").asInt() + ", column "), name + ": " + e.getMessage()
                        + "\n(jinja2: line " + c.get("error_line").asInt() + ": " + c.get("jinja2_message").asText() + ")");
                errors++;
                continue;
            }
            t = ChatTemplate.parse(c.get("template").asText(), () -> LocalDateTime.of(2026, 11, 29, 9, 30));
            Map<String, Object> vars = json.convertValue(c.get("context"), new TypeReference<Map<String, Object>>() { });
            assertEquals(c.get("expected").asText(), t.renderVariables(vars), name + " with add_generation_prompt " + vars.get("add_generation_prompt"));
            rendered++;
        }
        assertEquals(16, rendered);
        assertEquals(3, errors);
    }
}
