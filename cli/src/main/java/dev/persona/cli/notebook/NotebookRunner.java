package dev.persona.cli.notebook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.model.PersonaException;
import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import javax.imageio.ImageIO;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.ExpressionSnippet;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.VarSnippet;

/**
 * Executes a Jupyter notebook's Java code cells in order in one JShell, as a Java kernel (JJava,
 * IJava) does: the snippets see this JVM's classpath; what a cell prints becomes a {@code stream}
 * output, and the value of its last expression an {@code execute_result}: {@code image/png} for an
 * image (a chart), else {@code text/plain}. Any exception or compiler error fails the run with the
 * cell number and the offending source line. {@link Result#notebook()} is the notebook with these
 * outputs, ready to be written back.
 */
public final class NotebookRunner {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One executed code cell: its index among all cells, and its outputs in Jupyter's format. */
    public record CellRun(int index, List<ObjectNode> outputs, double seconds) {
        /** The text/plain and stream texts of the cell, in order (images as a placeholder). */
        public String text() {
            StringBuilder sb = new StringBuilder();
            for (ObjectNode o : outputs) {
                if (o.has("text")) sb.append(joined(o.get("text")));
                else if (o.path("data").has("text/plain")) sb.append(joined(o.get("data").get("text/plain"))).append('\n');
                if (o.path("data").has("image/png")) sb.append("<image/png>\n");
            }
            return sb.toString();
        }
    }

    /** A whole run: each code cell's outputs, and the notebook with them filled in. */
    public record Result(Path file, List<CellRun> cells, ObjectNode notebook, double seconds) { }

    private NotebookRunner() { }

    /** Runs {@code file}; throws a {@link NotebookException} naming the cell and line on the first failure. */
    public static Result run(Path file) throws IOException {
        ObjectNode nb = (ObjectNode) JSON.readTree(file.toFile());
        ArrayNode cells = (ArrayNode) nb.get("cells");
        if (cells == null) throw new PersonaException(file + " has no \"cells\" list", "pass a Jupyter notebook (.ipynb, nbformat 4)");
        List<CellRun> runs = new ArrayList<>();
        long t0 = System.nanoTime();
        PrintStream out = System.out, err = System.err;
        try (JShell shell = JShell.builder().executionEngine("local")
                .compilerOptions("--class-path", classPath()).build()) {
            int count = 0;
            for (int i = 0; i < cells.size(); i++) {
                ObjectNode cell = (ObjectNode) cells.get(i);
                if (!"code".equals(cell.path("cell_type").asText())) continue;
                count++;
                String source = joined(cell.get("source"));
                ByteArrayOutputStream printed = new ByteArrayOutputStream();
                PrintStream capture = new PrintStream(printed, true, StandardCharsets.UTF_8);
                long c0 = System.nanoTime();
                Object value;
                try {
                    System.setOut(capture);
                    System.setErr(capture);
                    value = execute(shell, file, i, source);
                } finally {
                    System.setOut(out);
                    System.setErr(err);
                }
                List<ObjectNode> outputs = new ArrayList<>();
                String text = printed.toString(StandardCharsets.UTF_8);
                if (!text.isEmpty()) outputs.add(stream(text));
                if (value != Display.NONE && value != null) outputs.add(result(value, count));
                cell.set("outputs", JSON.valueToTree(outputs));
                cell.put("execution_count", count);
                runs.add(new CellRun(i, outputs, (System.nanoTime() - c0) / 1e9));
            }
        }
        return new Result(file, runs, nb, (System.nanoTime() - t0) / 1e9);
    }

    /**
     * The CPU the outputs were computed on (model name and the vector extensions libtorch's kernels
     * choose by): bit-identical outputs are promised only on the same kind of CPU.
     */
    public static String cpu() {
        try {
            String model = "unknown", flags = "";
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown")) model = line.substring(line.indexOf(':') + 1).trim();
                if (line.startsWith("flags") && flags.isEmpty()) flags = line.substring(line.indexOf(':') + 1).trim();
            }
            List<String> simd = new ArrayList<>();
            for (String f : flags.split("\\s+")) if (f.startsWith("avx") || f.startsWith("amx") || f.equals("fma") || f.equals("f16c")) simd.add(f);
            java.util.Collections.sort(simd);
            return model + " | " + String.join(" ", simd);
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** Writes the executed notebook back (Jupyter's 1-space indentation, trailing newline), recording the CPU in its metadata. */
    public static void write(Result r) throws IOException {
        ObjectNode meta = r.notebook().has("metadata") ? (ObjectNode) r.notebook().get("metadata") : r.notebook().putObject("metadata");
        meta.putObject("persona").put("outputs_computed_on", cpu());
        String text = JSON.writer(new com.fasterxml.jackson.core.util.DefaultPrettyPrinter()
                .withObjectIndenter(new com.fasterxml.jackson.core.util.DefaultIndenter(" ", "\n"))
                .withArrayIndenter(new com.fasterxml.jackson.core.util.DefaultIndenter(" ", "\n"))).writeValueAsString(r.notebook());
        Files.writeString(r.file(), text.replace("\" : ", "\": ") + "\n");
    }

    /** Runs every snippet of a cell; returns the last expression's value, or {@link Display#NONE}. */
    private static Object execute(JShell shell, Path file, int cellIndex, String source) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = source;
        Snippet last = null;
        while (!remaining.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) break;
            if (!info.completeness().isComplete()) {
                throw new NotebookException(file, cellIndex, lineOf(source, remaining), "incomplete statement: " + firstLine(remaining));
            }
            String snippet = info.source();
            int startLine = lineOf(source, remaining);
            for (SnippetEvent e : shell.eval(snippet)) {
                if (e.exception() != null) {
                    String type = e.exception() instanceof EvalException ee ? ee.getExceptionClassName() : e.exception().getClass().getName();
                    throw new NotebookException(file, cellIndex, startLine, type + ": " + e.exception().getMessage(), e.exception());
                }
                if (e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED || e.status() == Snippet.Status.RECOVERABLE_DEFINED) {
                    throw new NotebookException(file, cellIndex, startLine, "refers to something undefined: "
                            + String.join(", ", shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet) e.snippet()).toList()));
                }
                if (e.status() == Snippet.Status.REJECTED) {
                    StringBuilder msg = new StringBuilder();
                    int line = startLine;
                    // startLine counts from the snippet's first non-blank character; a diagnostic's position from its start
                    int lead = snippet.length() - snippet.stripLeading().length();
                    for (Diag d : shell.diagnostics(e.snippet()).toList()) {
                        if (!d.isError()) continue;
                        line = startLine + countLines(snippet.substring(lead), Math.max(0, (int) d.getStartPosition() - lead));
                        msg.append(d.getMessage(null)).append("; ");
                    }
                    throw new NotebookException(file, cellIndex, line, "does not compile: " + msg + "in: " + firstLine(snippet));
                }
                if (e.causeSnippet() == null) last = e.snippet();
            }
            remaining = info.remaining();
        }
        // the cell's value: a bare expression (JShell names it $N) or a bare variable name
        String name = last instanceof VarSnippet v && last.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND ? v.name()
                : last instanceof ExpressionSnippet x ? x.name() : null;
        if (name != null) {
            for (SnippetEvent e : shell.eval(Display.class.getName() + ".capture(" + name + ");")) {
                if (e.exception() != null || e.status() == Snippet.Status.REJECTED) return Display.NONE;
            }
            return Display.take();
        }
        return Display.NONE;
    }

    private static ObjectNode stream(String text) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("output_type", "stream");
        o.put("name", "stdout");
        o.set("text", lines(text));
        return o;
    }

    private static ObjectNode result(Object value, int count) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("output_type", "execute_result");
        o.put("execution_count", count);
        ObjectNode data = o.putObject("data");
        if (value instanceof RenderedImage img) {
            ByteArrayOutputStream png = new ByteArrayOutputStream();
            try {
                ImageIO.write(img, "png", png);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            data.put("image/png", Base64.getEncoder().encodeToString(png.toByteArray()));
            data.set("text/plain", lines(value.getClass().getSimpleName() + " " + img.getWidth() + "x" + img.getHeight()));
        } else {
            data.set("text/plain", lines(String.valueOf(value)));
        }
        o.putObject("metadata");
        return o;
    }

    /** Jupyter stores text as a list of lines, each but the last ending in a newline. */
    private static ArrayNode lines(String text) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        int from = 0;
        while (from < text.length()) {
            int nl = text.indexOf('\n', from);
            int to = nl < 0 ? text.length() : nl + 1;
            a.add(text.substring(from, to));
            from = to;
        }
        return a;
    }

    static String joined(JsonNode source) {
        if (source == null) return "";
        if (source.isTextual()) return source.asText();
        StringBuilder sb = new StringBuilder();
        for (JsonNode l : source) sb.append(l.asText());
        return sb.toString();
    }

    private static int lineOf(String source, String remaining) {
        String done = source.substring(0, source.length() - remaining.length());
        // the first line of the snippet that starts after the done part (skipping blank lines)
        int line = countLines(done, done.length()) + 1;
        for (int i = 0; i < remaining.length() && Character.isWhitespace(remaining.charAt(i)); i++) if (remaining.charAt(i) == '\n') line++;
        return line;
    }

    private static int countLines(String s, int upTo) {
        int n = 0;
        for (int i = 0; i < Math.min(upTo, s.length()); i++) if (s.charAt(i) == '\n') n++;
        return n;
    }

    private static String firstLine(String s) {
        String t = s.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl) + " ...";
    }

    /**
     * The compiler's classpath: this JVM's, with the Class-Path entries of manifest-only jars (as
     * test runners use) spelled out.
     */
    static String classPath() {
        List<String> entries = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            entries.add(e);
            if (!e.endsWith(".jar")) continue;
            try (JarFile jar = new JarFile(e)) {
                Manifest m = jar.getManifest();
                String cp = m == null ? null : m.getMainAttributes().getValue("Class-Path");
                if (cp == null) continue;
                for (String u : cp.trim().split("\\s+")) {
                    try {
                        entries.add(Path.of(new java.net.URI(u).isAbsolute() ? new java.net.URI(u) : Path.of(e).toUri().resolve(u)).toString());
                    } catch (java.net.URISyntaxException | IllegalArgumentException ex) {
                        entries.add(u);
                    }
                }
            } catch (IOException ex) {
                // not a readable jar: leave the entry as it is
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    /** A cell that failed: the notebook, the cell (1-based among all cells), the line in the cell and why. */
    public static final class NotebookException extends PersonaException {
        public NotebookException(Path file, int cellIndex, int line, String problem) {
            this(file, cellIndex, line, problem, null);
        }

        public NotebookException(Path file, int cellIndex, int line, String problem, Throwable cause) {
            // a PersonaException raised in the cell already says its fix
            super(file + ": cell " + (cellIndex + 1) + ", line " + line + ": " + problem, problem.contains("\n  fix: ") ? "" : "fix the cell and run the notebook again", cause);
        }
    }
}
