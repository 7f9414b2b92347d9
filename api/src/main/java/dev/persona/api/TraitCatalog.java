package dev.persona.api;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.PersonaException;
import java.util.ArrayList;
import java.util.List;

/** The built-in trait library, as {@code persona traits} lists it; a trait that cannot be read is reported, not skipped silently. */
public final class TraitCatalog {
    private TraitCatalog() { }

    /** One trait: its instruction pairs, its extraction and evaluation question counts, an example pos instruction. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Entry(String name, String assistantName, int instructionPairs, int extractQuestions, int evalQuestions, String examplePos) { }

    /** A trait that could not be read, and why. */
    public record Problem(String name, String error) { }

    /** The readable traits and the unreadable ones. */
    public record Listing(List<Entry> traits, List<Problem> unreadable) { }

    /** The built-in traits. */
    public static Listing list() {
        return list(TraitLibrary.BUILT_IN);
    }

    /** The named traits (built-in names or trait files). */
    public static Listing list(List<String> names) {
        List<Entry> out = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        for (String name : names) {
            try {
                TraitSpec x = TraitLibrary.load(name, "extract");
                TraitSpec e = TraitLibrary.load(name, "eval");
                out.add(new Entry(name, x.assistantName(), x.instructions().size(), x.questions().size(), e.questions().size(), x.instructions().get(0).pos()));
            } catch (PersonaException ex) {
                problems.add(new Problem(name, ex.getMessage()));
            }
        }
        return new Listing(out, problems);
    }
}
