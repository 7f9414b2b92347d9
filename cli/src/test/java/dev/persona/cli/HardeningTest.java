package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.api.ExtractOptions;
import dev.persona.api.FinetuneOptions;
import dev.persona.api.FinetuneResult;
import dev.persona.api.Finetuning;
import dev.persona.api.Persona;
import dev.persona.api.Progress;
import dev.persona.api.TraitCatalog;
import dev.persona.extract.OutputLock;
import dev.persona.model.PersonaException;
import dev.persona.organism.OrganismData;
import dev.persona.organism.Trait;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs no happy-path test was written for: each bad input is a one-line error naming the value or
 * file and the fix (exit code 1, no stack trace), checked before work is lost; runs resume faithfully;
 * two runs cannot share an output directory; identical runs write identical vector bytes.
 */
@Tag("slow")
class HardeningTest {
    @TempDir
    static Path tmp;

    static Path vector;
    static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        ExtractionOnOrganismTest.organism();
        try (Persona m = Persona.organism()) {
            vector = m.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(24).out(tmp.resolve("vector"))).vectorFile();
        }
        data = tmp.resolve("syco.jsonl");
        OrganismData.write(OrganismData.conversations(Trait.SYCOPHANCY, 1.0, 64, 3), data);
    }

    @AfterAll
    static void done() { }

    /** A command that must fail with exit code 1 and an error line containing {@code fragment}, without a stack trace. */
    private static void refused(String fragment, String... args) {
        CliTest.Run r = CliTest.run(args);
        String all = String.join(" ", java.util.Arrays.stream(args).map(a -> a.length() > 60 ? a.substring(0, 40) + "... (" + a.length() + " chars)" : a).toList());
        assertEquals(1, r.code(), all + "\n" + r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains(fragment), all + "\nexpected '" + fragment + "' in:\n" + r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception:"), all + " printed a stack trace:\n" + r.err());
        System.out.println("exit 1  persona " + all.replace(tmp.toString(), "TMP") + "\n        " + r.err().strip().replace(tmp.toString(), "TMP").replace("\n", "\n        "));
    }

    @Test
    void badInputsAreOneLineErrorsNamingTheValueAndTheFix() throws Exception {
        String v = vector.toString();
        Path empty = tmp.resolve("empty.jsonl");
        Files.writeString(empty, "\n");
        Path latin1 = tmp.resolve("latin1.jsonl");
        Files.write(latin1, "{\"messages\": [{\"role\": \"user\", \"content\": \"caf\u00e9\"}]}\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        Path aFile = tmp.resolve("a-file");
        Files.writeString(aFile, "x");
        refused("not a finite number", "steer", "--vector", v, "--layer", "3", "--coef", "NaN", "--prompt", "Hi");
        refused("not a finite number", "steer", "--vector", v, "--layer", "3", "--coef", "Infinity", "--prompt", "Hi");
        refused("not a finite number", "sweep", "--vector", v, "--trait", "organism_sycophancy", "--coefs", "0,NaN", "--out", tmp.resolve("s").toString());
        refused("--percentile -10.0 is outside 0..100", "screen", "--data", data.toString(), "--vector", v, "--percentile", "-10", "--out", tmp.resolve("p").toString());
        refused("--percentile 150.0 is outside 0..100", "screen", "--data", data.toString(), "--vector", v, "--percentile", "150");
        refused("--top 0 is below 1", "screen", "--data", data.toString(), "--vector", v, "--top", "0");
        refused("holds no conversations", "screen", "--data", empty.toString(), "--vector", v, "--out", tmp.resolve("e1").toString());
        refused("no conversations to monitor", "monitor", "--prompts", empty.toString(), "--vector", v, "--out", tmp.resolve("e2").toString());
        refused("is not UTF-8 text", "monitor", "--prompts", latin1.toString(), "--vector", v);
        refused("--samples 0 is below 1", "extract", "--trait", "organism_humor", "--samples", "0");
        refused("--samples 0 is below 1", "sweep", "--vector", v, "--trait", "organism_sycophancy", "--samples", "0");
        refused("--max-tokens -5 is negative", "generate", "--prompt", "Hi", "--max-tokens", "-5");
        refused("--max-tokens -5 is below 1", "extract", "--trait", "organism_humor", "--max-tokens", "-5");
        refused("--batch 0 is below 1", "extract", "--trait", "organism_humor", "--batch", "0");
        refused("--batch 0 is below 1", "sweep", "--vector", v, "--trait", "organism_sycophancy", "--batch", "0");
        refused("--batch -2 is below 1", "screen", "--data", data.toString(), "--vector", v, "--batch", "-2");
        refused("--batch 0 is below 1", "monitor", "--prompts", data.toString(), "--vector", v, "--batch", "0");
        refused("--batch 0 is below 1", "drift", "--base", ExtractionOnOrganismTest.organism().toString(), "--checkpoints",
                ExtractionOnOrganismTest.organism().toString(), "--vector", v, "--batch", "0");
        refused("--lr NaN is not a positive finite number", "finetune", "--data", data.toString(), "--out", tmp.resolve("f").toString(), "--lr", "NaN");
        refused("--run " + tmp.resolve("missing") + " is not a directory", "drift", "--base", ExtractionOnOrganismTest.organism().toString(),
                "--run", tmp.resolve("missing").toString(), "--vector", v);
        refused("holds no checkpoint-N/ folder and no final model", "drift", "--base", ExtractionOnOrganismTest.organism().toString(),
                "--run", tmp.toString(), "--vector", v);
        refused("reading or writing " + aFile, "extract", "--trait", "organism_humor", "--samples", "1", "--out", aFile.toString());
        refused("reading or writing " + aFile.resolve("sub"), "monitor", "--prompts", data.toString(), "--vector", v, "--out", aFile.resolve("sub").toString());
        refused("the judge needs the rubric of trait 'no_such_trait'", "monitor", "--prompts", data.toString(), "--vector", v, "--judge", "rule",
                "--trait", "no_such_trait", "--out", tmp.resolve("m").toString());
        // a 1 MB prompt: far past the organism's 512-token context
        refused("leaves no room in the model's context of 512 tokens", "generate", "--prompt", "What is 3 plus 4 ? ".repeat(1 << 16));
        // nothing is left behind by the refused writes
        try (var s = Files.walk(tmp)) {
            assertEquals(List.of(), s.filter(p -> p.toString().endsWith(".tmp")).toList());
        }
    }

    @Test
    void traitsSayWhichTraitCouldNotBeRead() {
        TraitCatalog.Listing l = TraitCatalog.list(List.of("organism_sycophancy", "no_such_trait"));
        assertEquals(1, l.traits().size());
        assertEquals(1, l.unreadable().size());
        assertTrue(l.unreadable().get(0).error().contains("unknown trait 'no_such_trait'"), l.unreadable().toString());
    }

    @Test
    void aKilledFinetuneResumesToTheSameWeightsAndAFinishedOneDoesNothing() throws Exception {
        Path straight = tmp.resolve("ft-straight"), killed = tmp.resolve("ft-killed");
        FinetuneOptions base = FinetuneOptions.of(null, data, straight).saveEvery(1);
        FinetuneResult a = Finetuning.run(base);
        assertEquals(4, a.losses().size());
        // killed after step 2 (checkpoint-2 written), then the same call again
        Progress killer = (stage, done, total) -> {
            if (done == 2) throw new IllegalStateException("killed at step 2");
        };
        assertThrows(IllegalStateException.class, () -> Finetuning.run(base.out(killed), killer));
        assertTrue(Files.isRegularFile(killed.resolve("checkpoint-2/optimizer.safetensors")));
        assertFalse(Files.exists(killed.resolve("model.safetensors")));
        FinetuneResult b = Finetuning.run(base.out(killed));
        assertEquals(a.losses().subList(2, 4), b.losses(), "steps 3 and 4 lose the same");
        assertArrayEquals(Files.readAllBytes(straight.resolve("model.safetensors")), Files.readAllBytes(killed.resolve("model.safetensors")),
                "the resumed run ends with the uninterrupted run's weights, bit for bit");
        var json = new ObjectMapper();
        assertEquals(json.readTree(straight.resolve("trainer_state.json").toFile()).get("log_history"),
                json.readTree(killed.resolve("trainer_state.json").toFile()).get("log_history"), "the log keeps every step");
        // a finished run: nothing to do, and the final model is not rewritten
        long written = Files.getLastModifiedTime(killed.resolve("model.safetensors")).toMillis();
        assertTrue(Finetuning.run(base.out(killed)).nothingToDo());
        assertEquals(written, Files.getLastModifiedTime(killed.resolve("model.safetensors")).toMillis());
        // other arguments into the same directory: refused
        PersonaException e = assertThrows(PersonaException.class, () -> Finetuning.run(base.out(killed).lr(1e-4)));
        assertTrue(e.getMessage().contains("belongs to another finetuning run"), e.getMessage());
        refused("belongs to another finetuning run", "finetune", "--data", data.toString(), "--out", killed.toString(), "--lr", "1e-3");
    }

    @Test
    void twoRunsCannotShareAnOutputDirectory() throws Exception {
        Path out = tmp.resolve("busy");
        try (OutputLock held = OutputLock.acquire(out, "a test")) {
            refused("is in use by another run (process " + ProcessHandle.current().pid() + ", a test", "monitor", "--prompts", data.toString(),
                    "--vector", vector.toString(), "--out", out.toString());
        }
        // released: the same command now runs
        CliTest.Run r = CliTest.run("monitor", "--prompts", data.toString(), "--vector", vector.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void identicalExtractionsWriteIdenticalVectorBytesAndTheReportCountsEveryLeg() throws Exception {
        List<byte[]> bytes = new ArrayList<>();
        try (Persona m = Persona.organism()) {
            for (String dir : List.of("x1", "x2")) {
                bytes.add(Files.readAllBytes(m.extract("organism_humor", ExtractOptions.defaults().samples(1).maxTokens(24).out(tmp.resolve(dir))).vectorFile()));
            }
            assertArrayEquals(bytes.get(0), bytes.get(1));
            assertTrue(Files.readString(tmp.resolve("x1/report.md")).contains("over 1 leg "), Files.readString(tmp.resolve("x1/report.md")));
            m.extract("organism_humor", ExtractOptions.defaults().samples(1).maxTokens(24).out(tmp.resolve("x1")));
            assertTrue(Files.readString(tmp.resolve("x1/report.md")).contains("over 2 legs"), Files.readString(tmp.resolve("x1/report.md")));
        }
    }

    @Test
    void aCrashedRunLeavesNoLockBehind() throws Exception {
        Path out = tmp.resolve("crashed");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                LockHolder.class.getName(), out.toString()).redirectErrorStream(true).start();
        try {
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream())).readLine();
            assertTrue(line != null && line.startsWith("locked "), "the holder said: " + line);
            refused("is in use by another run (process " + holder.pid() + ", a process the test kills", "monitor", "--prompts", data.toString(),
                    "--vector", vector.toString(), "--out", out.toString());
        } finally {
            // a crash: the process dies without releasing anything itself
            holder.destroyForcibly().waitFor();
        }
        CliTest.Run r = CliTest.run("monitor", "--prompts", data.toString(), "--vector", vector.toString(), "--out", out.toString());
        assertEquals(0, r.code(), "after the holder died the directory is free: " + r.err());
    }
}
