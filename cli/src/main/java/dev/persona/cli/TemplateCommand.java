package dev.persona.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.persona.model.ChatModel;
import dev.persona.model.PersonaException;
import dev.persona.model.template.ChatTemplate;
import dev.persona.model.template.TemplateException;
import dev.persona.model.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code persona template}: exactly what the model will see for a conversation. */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Render a conversation with a chat template, exactly as transformers' apply_chat_template does. A template's own error (raise_exception) is printed as an error with exit code 1.")
final class TemplateCommand implements Callable<Integer> {
    static final class Source {
        @Option(names = "--model", paramLabel = "DIR", description = "Use this model's chat template and special tokens.")
        Path model;

        @Option(names = "--template", paramLabel = "FILE", description = "A chat-template text file (Jinja).")
        Path template;
    }

    @ArgGroup(exclusive = true)
    Source source = new Source();

    @Option(names = "--messages", required = true, paramLabel = "FILE.json",
            description = "JSON list of {\"role\": ..., \"content\": ...} objects (or {\"messages\": [...]}).")
    Path messages;

    @Option(names = "--add-generation-prompt", description = "Append the assistant turn's opening.")
    boolean addGenerationPrompt;

    @Option(names = "--var", paramLabel = "NAME=VALUE", description = "Template variable (repeatable). A VALUE that parses as JSON is that value (enable_thinking=false, n=3, x='{\"a\": 1}'); any other VALUE is a string (bos_token='<s>'); quote a JSON string to force one (n='\"3\"').")
    Map<String, String> vars = new LinkedHashMap<>();

    @Option(names = "--tools", paramLabel = "FILE.json", description = "The tools list tool-calling templates read (a JSON list of {\"type\": \"function\", \"function\": {...}} objects).")
    Path tools;

    @Option(names = "--date", paramLabel = "YYYY-MM-DD", description = "The date strftime_now sees (midnight), for reproducible renders; default: now.")
    String date;

    @Option(names = "--json", description = "Print JSON (with --model: also the token ids).")
    boolean json;

    @Override
    public Integer call() {
        List<Map<String, Object>> msgs = readMessages(messages);
        Map<String, Object> variables = new LinkedHashMap<>();
        ChatTemplate template;
        Tokenizer tokenizer = null;
        Path modelDir = source.template == null ? (source.model != null ? source.model : dev.persona.api.PersonaHome.organism()) : null;
        if (source.template != null) {
            try {
                template = ChatTemplate.parse(Files.readString(source.template));
            } catch (IOException e) {
                throw new PersonaException("cannot read template " + source.template + ": " + e.getMessage(), "check the path");
            } catch (TemplateException e) {
                throw new PersonaException(source.template + ": " + e.getMessage(), "fix the template");
            }
        } else {
            template = ChatModel.loadTemplate(modelDir);
            if (template == null) {
                throw new PersonaException(modelDir + " has no chat template", "pass --template FILE or use a chat model");
            }
            if (Files.isRegularFile(modelDir.resolve("tokenizer.json"))) {
                tokenizer = Tokenizer.load(modelDir);
                variables.putAll(tokenizer.specialTokens());
            }
        }
        for (var e : vars.entrySet()) variables.put(e.getKey(), jsonOrString(e.getValue()));
        if (tools != null) {
            Object list = readJson(tools);
            if (!(list instanceof List<?>)) throw new PersonaException(tools + " is not a JSON list", "write the tools as [{\"type\": \"function\", \"function\": {...}}, ...]");
            variables.put("tools", list);
        }
        if (date != null) {
            java.time.LocalDate day;
            try {
                day = java.time.LocalDate.parse(date);
            } catch (java.time.format.DateTimeParseException e) {
                throw new PersonaException("--date " + date + " is not a date", "write it as YYYY-MM-DD, e.g. --date 2026-11-29");
            }
            template = ChatTemplate.parse(template.source(), () -> day.atStartOfDay());
        }
        String text;
        try {
            text = template.render(msgs, addGenerationPrompt, variables);
        } catch (TemplateException e) {
            throw new PersonaException("the template raised: " + e.getMessage(),
                    e.raisedByTemplate() ? "this template does not accept the conversation; change the messages" : "check the template and variables");
        }
        try {
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("text", text);
                if (tokenizer != null) out.put("input_ids", tokenizer.encode(text));
                System.out.println(Json.write(out));
            } else {
                System.out.print(text);
                if (!text.endsWith("\n")) System.out.println();
            }
        } finally {
            if (tokenizer != null) tokenizer.close();
        }
        return 0;
    }

    /** A --var value: JSON when it parses as JSON, else the text itself. */
    static Object jsonOrString(String value) {
        try {
            return dev.persona.api.JsonText.MAPPER.readValue(value, Object.class);
        } catch (IOException e) {
            return value;
        }
    }

    private static Object readJson(Path file) {
        try {
            return dev.persona.api.JsonText.MAPPER.readValue(file.toFile(), Object.class);
        } catch (IOException e) {
            throw new PersonaException(file + " is not readable JSON: " + e.getMessage().split("\n")[0], "pass a JSON file");
        }
    }

    static List<Map<String, Object>> readMessages(Path file) {
        try {
            Object v = dev.persona.api.JsonText.MAPPER.readValue(file.toFile(), Object.class);
            if (v instanceof Map<?, ?> m && m.get("messages") instanceof List<?>) v = m.get("messages");
            if (!(v instanceof List<?>)) throw new PersonaException(file + ": expected a JSON list of messages", "write [{\"role\":\"user\",\"content\":\"Hi\"}]");
            return dev.persona.api.JsonText.MAPPER.convertValue(v, new TypeReference<List<Map<String, Object>>>() { });
        } catch (IOException e) {
            throw new PersonaException("cannot read messages " + file + ": " + e.getMessage(), "pass a JSON file with a list of {role, content}");
        }
    }
}
