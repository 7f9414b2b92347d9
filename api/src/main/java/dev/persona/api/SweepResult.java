package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import dev.persona.steer.Sweep;
import java.nio.file.Path;
import java.util.List;

/**
 * A sweep's table (one cell per (layer, coef): mean trait score and coherence, 0..100, over n judged
 * answers), the recommended cell (null when none reaches the coherence floor), the files written,
 * the vector file the recommendation went to (null when there was none, or the vector has no file),
 * and the vector with the recommendation in its metadata.
 */
public record SweepResult(List<Sweep.Cell> cells, Sweep.Cell recommended, Path table, Path chart, Path vectorFile,
                          @JsonIgnore VectorRef vector) {

    /** The cell at (layer, coef), or null. */
    public Sweep.Cell cell(int layer, double coef) {
        return cells.stream().filter(c -> c.layer() == layer && c.coef() == coef).findFirst().orElse(null);
    }
}
