package dev.persona.organism;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The organism trait files shipped in extract's library are exactly what OrganismTraitFiles writes. */
class TraitFilesTest {
    @Test
    void shippedTraitFilesAreCurrent() throws IOException {
        Path dir = Organism.root().resolve("extract/src/main/resources/traits");
        for (var e : OrganismTraitFiles.render().entrySet()) {
            assertEquals(e.getValue(), Files.readString(dir.resolve(e.getKey() + ".json")),
                    e.getKey() + " is stale: rerun OrganismTraitFiles (see its javadoc)");
        }
    }
}
