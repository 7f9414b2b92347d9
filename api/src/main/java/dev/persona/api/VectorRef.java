package dev.persona.api;

import dev.persona.model.PersonaException;
import dev.persona.vectors.TraitVector;
import java.nio.file.Path;

/**
 * A trait vector and the file it came from ({@code file}, null for a vector made in memory), so that
 * errors and tables can name it and a sweep can store its recommendation there. Rows are Hugging
 * Face {@code hidden_states} rows 0..L, each of length d_model.
 */
public record VectorRef(Path file, TraitVector vector) {
    public VectorRef {
        if (vector == null) throw new IllegalArgumentException("vector is null");
    }

    /** A vector made in memory (named after its trait in messages). */
    public static VectorRef of(TraitVector v) {
        return new VectorRef(null, v);
    }

    /** A vector read from {@code file}. */
    public static VectorRef of(Path file, TraitVector v) {
        return new VectorRef(file, v);
    }

    /** The file, or {@code vector 'TRAIT'} for a vector in memory: how messages name it. */
    public String source() {
        return file != null ? file.toString() : "vector '" + vector.metadata().getOrDefault("trait", "?") + "'";
    }

    /** The same file with other metadata (e.g. a recommendation added). */
    public VectorRef withMetadata(java.util.Map<String, String> metadata) {
        return new VectorRef(file, new TraitVector(vector.directions(), metadata));
    }

    /** The trait in the vector's metadata, or "" when it records none. */
    public String trait() {
        return vector.metadata().getOrDefault("trait", "");
    }

    /** A metadata value, or null. */
    public String meta(String key) {
        return vector.metadata().get(key);
    }

    /**
     * The row to use when the caller names none: the sweep's {@code recommended_layer}, else
     * extraction's {@code best_layer_by_separation}.
     */
    public int defaultLayer() {
        String l = vector.metadata().getOrDefault("recommended_layer", vector.metadata().get("best_layer_by_separation"));
        if (l == null) throw new PersonaException(source() + " has no recommended_layer", "pass --layer L");
        return Integer.parseInt(l);
    }

    @Override
    public String toString() {
        return source() + " (" + trait() + ", " + vector.numRows() + " rows x d_model " + vector.dModel() + ")";
    }
}
