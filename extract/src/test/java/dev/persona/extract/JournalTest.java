package dev.persona.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.model.PersonaException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The append-only journal that makes long runs resumable: crashes mid-write, repeated crashes, other runs. */
class JournalTest {
    @TempDir
    Path tmp;

    @Test
    void aTornLineIsDroppedAndTheNextAppendsStayReadableThroughRepeatedCrashes() throws Exception {
        Path file = tmp.resolve("j.jsonl");
        Journal j = new Journal(file, "run-1");
        j.append(List.of(j.newRecord("a").put("v", 1), j.newRecord("b").put("v", 2)));
        // crash 1: half a record, no newline
        Files.writeString(file, "{\"key\":\"c\",\"v\":", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        Journal again = new Journal(file, "run-1");
        assertEquals(2, again.size());
        assertFalse(again.has("c"));
        again.append(List.of(again.newRecord("c").put("v", 3)));
        // crash 2, then a third opening must still read every record
        Files.writeString(file, "{\"ke", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        Journal third = new Journal(file, "run-1");
        assertEquals(3, third.size());
        assertEquals(3, third.get("c").get("v").asInt());
        third.append(List.of(third.newRecord("d").put("v", 4)));
        List<String> lines = Files.readAllLines(file);
        assertEquals(5, lines.size(), "header and four records, each on its own line: " + lines);
        assertEquals(4, new Journal(file, "run-1").size());
    }

    @Test
    void anotherRunsJournalIsRefusedWithTheFix() throws Exception {
        Path file = tmp.resolve("j.jsonl");
        Journal j = new Journal(file, "run-1");
        j.append(List.of(j.newRecord("a").put("v", 1)));
        PersonaException e = assertThrows(PersonaException.class, () -> new Journal(file, "run-2"));
        assertTrue(e.getMessage().contains("belongs to another run") && e.getMessage().contains("fix:"), e.getMessage());
        assertEquals(1, new Journal(file, "run-1").size(), "the refused opening changed nothing");
    }

    @Test
    void aCorruptLineInTheMiddleIsAnErrorNamingFileAndLine() throws Exception {
        Path file = tmp.resolve("j.jsonl");
        Files.writeString(file, "{\"run\":\"r\"}\n{\"key\":\"a\"}\nnot json\n{\"key\":\"b\"}\n");
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> new Journal(file, "r"));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("line 3"), e.getMessage());
    }
}
