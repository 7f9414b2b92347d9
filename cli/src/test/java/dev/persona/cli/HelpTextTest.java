package dev.persona.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's help renders without picocli warnings, and no description is cut into lines
 * mid-sentence (picocli prints each element of a description array on its own line; a paragraph
 * must be one element and end like a sentence).
 */
class HelpTextTest {
    @Test
    void everyHelpRendersCleanlyAndEveryDescriptionLineEndsASentence() {
        List<String> problems = new ArrayList<>();
        check(new CommandLine(new PersonaCommand()), problems);
        assertEquals(List.of(), problems);
    }

    private static void check(CommandLine cl, List<String> problems) {
        String name = cl.getCommandSpec().qualifiedName();
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true));
        try {
            String usage = cl.getUsageMessage();
            assertFalse(usage.isBlank(), name);
        } finally {
            System.setErr(err);
        }
        if (captured.toString().contains("picocli WARN")) problems.add(name + ": " + captured.toString().strip());
        for (String line : cl.getCommandSpec().usageMessage().description()) endsLikeASentence(name, line, problems);
        for (var o : cl.getCommandSpec().options()) {
            for (String line : o.description()) endsLikeASentence(name + " " + o.longestName(), line, problems);
        }
        for (CommandLine sub : cl.getSubcommands().values()) {
            if (sub.getCommandSpec().name().equals("help")) continue;
            check(sub, problems);
        }
    }

    private static void endsLikeASentence(String where, String line, List<String> problems) {
        String t = line.strip();
        if (t.isEmpty()) return;
        char last = t.charAt(t.length() - 1);
        if (".:)!?".indexOf(last) < 0) problems.add(where + ": a description line ends mid-sentence: \"" + t + "\"");
    }
}
