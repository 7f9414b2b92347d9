package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.model.ChatModel;
import dev.persona.model.PersonaException;
import dev.persona.model.template.ChatTemplate;
import dev.persona.model.template.TemplateException;
import dev.persona.model.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code persona template}: a conversation rendered exactly as transformers' apply_chat_template
 * renders it, with a model's template and special tokens or a template file, extra variables, a
 * tools list and a pinned date for strftime_now.
 */
public final class TemplateRender {
    private TemplateRender() { }

    /**
     * {@code template} (a Jinja file) or else {@code model}'s template (null: the organism);
     * {@code messages} a list of {role, content} maps; {@code variables} override the model's special
     * tokens; {@code tools} (may be null) is the tools list; {@code date} (may be null) pins strftime_now.
     */
    public record Options(Path model, Path template, List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> variables,
                          List<Object> tools, LocalDate date) {
        public Options {
            if (messages == null) throw new PersonaException("no messages to render", "pass --messages FILE.json");
            variables = variables == null ? Map.of() : Map.copyOf(variables);
        }
    }

    /** The rendered text and, with a model's tokenizer, its token ids. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Result(String text, int[] inputIds) { }

    public static Result render(Options o) {
        Map<String, Object> vars = new LinkedHashMap<>();
        ChatTemplate template;
        Tokenizer tokenizer = null;
        if (o.template() != null) {
            try {
                template = ChatTemplate.parse(Files.readString(o.template()));
            } catch (IOException e) {
                throw Io.failed(o.template(), e);
            } catch (TemplateException e) {
                throw new PersonaException(o.template() + ": " + e.getMessage(), "fix the template");
            }
        } else {
            Path dir = PersonaHome.modelDir(o.model());
            template = ChatModel.loadTemplate(dir);
            if (template == null) throw new PersonaException(dir + " has no chat template", "pass --template FILE or use a chat model");
            if (Files.isRegularFile(dir.resolve("tokenizer.json"))) {
                tokenizer = Tokenizer.load(dir);
                vars.putAll(tokenizer.specialTokens());
            }
        }
        try {
            vars.putAll(o.variables());
            if (o.tools() != null) vars.put("tools", o.tools());
            if (o.date() != null) template = ChatTemplate.parse(template.source(), () -> o.date().atStartOfDay());
            String text;
            try {
                text = template.render(o.messages(), o.addGenerationPrompt(), vars);
            } catch (TemplateException e) {
                throw new PersonaException("the template raised: " + e.getMessage(),
                        e.raisedByTemplate() ? "this template does not accept the conversation; change the messages" : "check the template and variables");
            }
            return new Result(text, tokenizer == null ? null : tokenizer.encode(text));
        } finally {
            if (tokenizer != null) tokenizer.close();
        }
    }

    /** A JSON list of {role, content} messages (or {"messages": [...]}) from {@code file}. */
    public static List<Map<String, Object>> readMessages(Path file) {
        Object v = readJson(file);
        if (v instanceof Map<?, ?> m && m.get("messages") instanceof List<?>) v = m.get("messages");
        if (!(v instanceof List<?>)) throw new PersonaException(file + ": expected a JSON list of messages", "write [{\"role\":\"user\",\"content\":\"Hi\"}]");
        return JsonText.MAPPER.convertValue(v, new TypeReference<List<Map<String, Object>>>() { });
    }

    /** A tools list from {@code file}. */
    public static List<Object> readTools(Path file) {
        Object list = readJson(file);
        if (!(list instanceof List<?>)) throw new PersonaException(file + " is not a JSON list", "write the tools as [{\"type\": \"function\", \"function\": {...}}, ...]");
        return JsonText.MAPPER.convertValue(list, new TypeReference<List<Object>>() { });
    }

    /** A --var value: JSON when it parses as JSON, else the text itself. */
    public static Object jsonOrString(String value) {
        try {
            return JsonText.MAPPER.readValue(value, Object.class);
        } catch (IOException e) {
            return value;
        }
    }

    private static Object readJson(Path file) {
        try {
            return JsonText.MAPPER.readValue(file.toFile(), Object.class);
        } catch (IOException e) {
            throw new PersonaException(file + " is not readable JSON: " + String.valueOf(e.getMessage()).split("\n")[0], "pass a JSON file");
        }
    }
}
