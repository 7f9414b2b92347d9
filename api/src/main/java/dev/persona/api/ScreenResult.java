package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.vectors.Screen;
import java.nio.file.Path;
import java.util.List;

/**
 * A screened dataset: {@code flagged} of {@code samples} flagged by {@code score}
 * (projection_difference or cheap_score) at vector row {@code layer}; the files written; and per
 * sample ({@code scores}, in data order) the projection difference, the cheap score and the base
 * reply, with {@code ranks} (1 = the strongest push along the vector) and the flagged indices.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ScreenResult(int samples, int flagged, String score, int layer, Path flaggedFile, Path filteredFile, Path table,
                           @JsonIgnore List<Screen.Score> scores, @JsonIgnore List<Integer> ranks, @JsonIgnore List<Integer> flaggedIndices) {
    @Override
    public String toString() {
        return String.format("flagged %d of %d samples by %s (layer %d); kept data in %s", flagged, samples, score, layer, filteredFile);
    }
}
