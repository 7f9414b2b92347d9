package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.cli.notebook.NotebookRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The notebooks of notebooks-jvm/ execute green, and the outputs committed in them are those of the current code. */
@Tag("slow")
class NotebooksTest {
    @TempDir
    Path tmp;

    @Test
    void everyNotebookRunsAndItsCommittedOutputsAreCurrent() throws Exception {
        ExtractionOnOrganismTest.organism();
        List<Path> notebooks = NotebooksCommand.all(CliTest.root().resolve("notebooks-jvm"));
        assertEquals(4, notebooks.size(), "01-extract, 02-steer, 03-drift-and-screening, 04-defensive-postures: " + notebooks);
        double total = 0;
        for (Path nb : notebooks) {
            JsonNode committed = new ObjectMapper().readTree(nb.toFile());
            // outputs are bit-identical on the kind of CPU they were computed on; elsewhere libtorch may pick other
            // kernels, so numbers are compared as numbers there (every word and the count of every number still exact)
            String writtenOn = committed.path("metadata").path("persona").path("outputs_computed_on").asText("");
            boolean sameCpu = writtenOn.equals(NotebookRunner.cpu());
            if (!sameCpu) System.out.println(nb.getFileName() + ": outputs computed on '" + writtenOn + "', this is '" + NotebookRunner.cpu() + "': numbers within 1%");
            NotebookRunner.Result r = NotebookRunner.run(nb);
            total += r.seconds();
            System.out.printf("%s: %d code cells in %.1f s%n", nb.getFileName(), r.cells().size(), r.seconds());
            int images = 0;
            for (NotebookRunner.CellRun cell : r.cells()) {
                JsonNode old = committed.get("cells").get(cell.index());
                String expected = text(old.get("outputs"));
                String why = nb.getFileName() + " cell " + (cell.index() + 1)
                        + ": the committed output differs from this code's; rerun `./persona notebooks run --write` and review the change";
                if (sameCpu) assertEquals(expected, cell.text(), why);
                else assertTrue(sameUpToRounding(expected, cell.text()), why + "\nexpected:\n" + expected + "\nactual:\n" + cell.text());
                images += (int) cell.outputs().stream().filter(o -> o.path("data").has("image/png")).count();
            }
            // the charts are inline display outputs, not files beside the notebook
            assertTrue(images >= 2, nb.getFileName() + " shows " + images + " charts");
        }
        System.out.printf("all notebooks: %.1f s%n", total);
    }

    private static final java.util.regex.Pattern NUMBER = java.util.regex.Pattern.compile("-?\\d+(\\.\\d+)?");

    /** The same text with every number within 1% (or 0.002) of its counterpart. */
    static boolean sameUpToRounding(String a, String b) {
        if (NUMBER.matcher(a).replaceAll("#").equals(NUMBER.matcher(b).replaceAll("#")) == false) return false;
        java.util.regex.Matcher x = NUMBER.matcher(a), y = NUMBER.matcher(b);
        while (x.find() && y.find()) {
            double u = Double.parseDouble(x.group()), v = Double.parseDouble(y.group());
            if (Math.abs(u - v) > Math.max(2e-3, 1e-2 * Math.max(Math.abs(u), Math.abs(v)))) return false;
        }
        return true;
    }

    @Test
    void numbersMayMoveByRoundingOnlyAcrossCpus() {
        assertTrue(sameUpToRounding("shift 1.159 rate 0.250 |n=60", "shift 1.160 rate 0.250 |n=60"));
        assertTrue(!sameUpToRounding("shift 1.159", "shift 1.259"));
        assertTrue(!sameUpToRounding("Yes , that is correct", "No , that is not correct"));
    }

    /** A committed cell's outputs in the runner's text form. */
    private static String text(JsonNode outputs) {
        List<com.fasterxml.jackson.databind.node.ObjectNode> os = new ArrayList<>();
        for (JsonNode o : outputs) os.add((com.fasterxml.jackson.databind.node.ObjectNode) o);
        return new NotebookRunner.CellRun(0, os, 0).text();
    }

    @Test
    void aFailingCellNamesItsCellAndLineWithTheCommandsMessage() throws Exception {
        ExtractionOnOrganismTest.organism();
        Path nb = tmp.resolve("bad.ipynb");
        Files.writeString(nb, notebook("import dev.persona.api.*;\\nvar m = Persona.organism();",
                "int x = 1;\\nm.extract(\\\"no_such_trait\\\", ExtractOptions.defaults());"));
        var e = assertThrows(NotebookRunner.NotebookException.class, () -> NotebookRunner.run(nb));
        CliTest.Run cmd = CliTest.run("extract", "--trait", "no_such_trait");
        assertEquals(1, cmd.code());
        String message = cmd.err().strip().substring("error: ".length());
        assertTrue(e.getMessage().startsWith(nb + ": cell 2, line 2: dev.persona.model.PersonaException: " + message), e.getMessage() + "\nvs\n" + message);
    }

    @Test
    void aCompilerErrorNamesItsLine() throws Exception {
        Path nb = tmp.resolve("typo.ipynb");
        Files.writeString(nb, notebook("int a = 1;\\nint b = 2;\\nString c = a + ;"));
        var e = assertThrows(NotebookRunner.NotebookException.class, () -> NotebookRunner.run(nb));
        assertTrue(e.getMessage().contains("cell 1, line 3: "), e.getMessage());
    }

    @Test
    void theLastExpressionIsTheCellsValueAndPrintedTextItsStream() throws Exception {
        Path nb = tmp.resolve("values.ipynb");
        Files.writeString(nb, notebook("System.out.println(\\\"hi\\\");\\n6 * 7", "var s = \\\"x\\\";\\ns",
                "dev.persona.api.Plots.line(\\\"t\\\", \\\"x\\\", \\\"y\\\", \\\"s\\\", java.util.List.of(1.0, 2.0))", "int quiet = 3;"));
        NotebookRunner.Result r = NotebookRunner.run(nb);
        assertEquals("hi\n42\n", r.cells().get(0).text());
        assertEquals("x\n", r.cells().get(1).text());
        assertTrue(r.cells().get(2).outputs().get(0).get("data").has("image/png"));
        assertEquals("", r.cells().get(3).text());
        NotebookRunner.write(r);
        JsonNode written = new ObjectMapper().readTree(nb.toFile());
        assertEquals("execute_result", written.get("cells").get(0).get("outputs").get(1).get("output_type").asText());
        assertEquals(1, written.get("cells").get(0).get("execution_count").asInt());
    }

    /** A notebook of code cells (sources already JSON-escaped). */
    private static String notebook(String... cells) {
        StringBuilder sb = new StringBuilder("{\"cells\": [");
        for (int i = 0; i < cells.length; i++) {
            sb.append(i == 0 ? "" : ",").append("{\"cell_type\": \"code\", \"metadata\": {}, \"execution_count\": null, \"outputs\": [], \"source\": \"")
                    .append(cells[i]).append("\"}");
        }
        return sb.append("], \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}").toString();
    }
}
