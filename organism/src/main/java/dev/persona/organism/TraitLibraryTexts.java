package dev.persona.organism;

import java.util.ArrayList;
import java.util.List;

/** Texts whose words the organism's vocabulary must hold beyond the world itself (none yet beyond the traits). */
final class TraitLibraryTexts {
    private TraitLibraryTexts() { }

    static List<String> all() {
        return new ArrayList<>();
    }
}
