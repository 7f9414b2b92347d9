package dev.persona.cli;

import dev.persona.api.TemplateRender;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
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
        LocalDate day = null;
        if (date != null) {
            try {
                day = LocalDate.parse(date);
            } catch (DateTimeParseException e) {
                throw new PersonaException("--date " + date + " is not a date", "write it as YYYY-MM-DD, e.g. --date 2026-11-29");
            }
        }
        Map<String, Object> variables = new LinkedHashMap<>();
        for (var e : vars.entrySet()) variables.put(e.getKey(), TemplateRender.jsonOrString(e.getValue()));
        TemplateRender.Result r = TemplateRender.render(new TemplateRender.Options(source.model, source.template, TemplateRender.readMessages(messages),
                addGenerationPrompt, variables, tools == null ? null : TemplateRender.readTools(tools), day));
        if (json) {
            System.out.println(Json.write(r));
        } else {
            System.out.print(r.text());
            if (!r.text().endsWith("\n")) System.out.println();
        }
        return 0;
    }
}
