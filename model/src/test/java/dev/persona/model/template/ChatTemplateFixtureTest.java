package dev.persona.model.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every real template of ../shared/fixtures/chat_templates renders exactly what transformers rendered, or raises its error. */
class ChatTemplateFixtureTest {
    private static final LocalDateTime PINNED = LocalDateTime.of(2024, 7, 26, 12, 0);

    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicTest> everyTemplateRendersExactly() throws IOException {
        Path dir = Fixtures.shared("chat_templates");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".json") && !p.getFileName().toString().equals("index.json")).sorted().toList();
        }
        assertTrue(files.size() >= 20, "expected 20+ templates, found " + files.size());
        ObjectMapper json = new ObjectMapper();
        List<DynamicTest> tests = new ArrayList<>();
        for (Path f : files) {
            Map<String, Object> t = json.readValue(f.toFile(), Map.class);
            ChatTemplate template = ChatTemplate.parse((String) t.get("chat_template"), () -> PINNED);
            for (Map<String, Object> c : (List<Map<String, Object>>) t.get("cases")) {
                tests.add(DynamicTest.dynamicTest(t.get("name") + " " + c.get("id") + " gen=" + c.get("add_generation_prompt"), () -> {
                    Map<String, Object> vars = new java.util.LinkedHashMap<>((Map<String, Object>) t.get("variables"));
                    if (t.containsKey("tools")) vars.put("tools", t.get("tools"));
                    List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
                    boolean gen = (Boolean) c.get("add_generation_prompt");
                    if (c.get("error") != null) {
                        try {
                            String out = template.render(messages, gen, vars);
                            fail("expected error '" + c.get("error") + "' but rendered:\n" + out);
                        } catch (TemplateException e) {
                            assertTrue(e.raisedByTemplate(), "error should come from raise_exception: " + e.getMessage());
                            assertEquals(c.get("error"), e.getMessage());
                        }
                    } else {
                        assertEquals(c.get("expected"), template.render(messages, gen, vars));
                    }
                }));
            }
        }
        return tests.stream();
    }
}
