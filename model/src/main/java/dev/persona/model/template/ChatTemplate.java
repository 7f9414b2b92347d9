package dev.persona.model.template;

import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A Hugging Face chat template, rendered exactly as transformers' {@code apply_chat_template} renders
 * it: Jinja with {@code trim_blocks} and {@code lstrip_blocks}, loop controls, the
 * {@code {% generation %}} tag, and the globals {@code raise_exception}, {@code strftime_now} and
 * {@code namespace}. This is a focused interpreter for the Jinja subset chat templates use (no
 * Jinja library for Java renders them all exactly); a template is parsed once and may be rendered
 * many times.
 */
public final class ChatTemplate {
    private final String source;
    private final List<Node.Stmt> body;
    private final Supplier<LocalDateTime> clock;

    private ChatTemplate(String source, List<Node.Stmt> body, Supplier<LocalDateTime> clock) {
        this.source = source;
        this.body = body;
        this.clock = clock;
    }

    /** Parses {@code source}; syntax errors are thrown as {@link TemplateException}. */
    public static ChatTemplate parse(String source) {
        return parse(source, LocalDateTime::now);
    }

    /** Parses {@code source} with a clock for {@code strftime_now} (tests pin it). */
    public static ChatTemplate parse(String source, Supplier<LocalDateTime> clock) {
        return new ChatTemplate(source, new Parser(new Lexer(source).tokenize()).parseTemplate(), clock);
    }

    /** The template text. */
    public String source() {
        return source;
    }

    /**
     * Renders a conversation.
     *
     * @param messages            maps with at least "role" and "content" (JSON-like Java values)
     * @param addGenerationPrompt append the assistant turn's opening
     * @param variables           extra variables: bos_token, eos_token, tools, ...
     */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("tools", null);
        vars.put("documents", null);
        if (variables != null) variables.forEach((k, v) -> vars.put(k, Py.fromJava(v)));
        vars.put("messages", Py.fromJava(new ArrayList<>(messages)));
        vars.put("add_generation_prompt", addGenerationPrompt);
        return renderVariables(vars);
    }

    /** Renders with an explicit variable map (values as JSON-like Java objects). */
    public String renderVariables(Map<String, ?> variables) {
        Interpreter.Scope globals = new Interpreter.Scope(null);
        globals.set("raise_exception", (Py.Callable) (args, kw) -> {
            throw new TemplateException(args.isEmpty() ? "" : Py.str(args.get(0)), true);
        });
        globals.set("strftime_now", (Py.Callable) (args, kw) -> strftime(Py.str(args.get(0)), clock.get()));
        globals.set("namespace", (Py.Callable) (args, kw) -> {
            Py.Namespace ns = new Py.Namespace();
            for (Object a : args) if (a instanceof Map<?, ?> m) m.forEach((k, v) -> ns.put(Py.str(k), v));
            ns.putAll(kw);
            return ns;
        });
        globals.set("range", (Py.Callable) (args, kw) -> {
            long start = args.size() > 1 ? Py.toLong(args.get(0)) : 0;
            long stop = Py.toLong(args.get(args.size() > 1 ? 1 : 0));
            long step = args.size() > 2 ? Py.toLong(args.get(2)) : 1;
            List<Object> out = new ArrayList<>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) out.add(i);
            return out;
        });
        globals.set("dict", (Py.Callable) (args, kw) -> new LinkedHashMap<String, Object>(kw));
        Interpreter.Scope scope = new Interpreter.Scope(globals);
        variables.forEach((k, v) -> scope.set(k, Py.fromJava(v)));
        StringBuilder out = new StringBuilder();
        new Interpreter().render(body, scope, out);
        return out.toString();
    }

    /** Python's time.strftime for the directives templates use. */
    static String strftime(String fmt, LocalDateTime t) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                sb.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            switch (d) {
                case 'd' -> sb.append(String.format("%02d", t.getDayOfMonth()));
                case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> sb.append(String.format("%02d", t.getHour()));
                case 'I' -> sb.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> sb.append(String.format("%02d", t.getMinute()));
                case 'S' -> sb.append(String.format("%02d", t.getSecond()));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }
}
