package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.vectors.Monitor;
import java.nio.file.Path;
import java.util.List;

/**
 * Projections of conversations onto a unit trait vector at one layer: per conversation ({@code rows}:
 * last prompt token, response average, judged trait score, per-turn projections), per condition
 * (count, mean and spread of the last-prompt projection, mean trait score), and, with a judge, the
 * Pearson r between projection and trait score with its Fisher 95% interval.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MonitorResult(String vector, int layer, int conversations, List<Monitor.ConditionStats> conditions, Correlation pearsonR,
                            Path arrow, Path chart, @JsonIgnore List<Monitor.Row> rows) {

    /** Pearson r with its Fisher 95% interval over n pairs. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Correlation(double r, double ci95Low, double ci95High, int n) { }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Monitor.ConditionStats g : conditions) {
            sb.append(String.format("%-20s n=%-4d projection %.3f +- %.3f   trait score %.1f%n", g.condition(), g.n(), g.meanProjection(),
                    g.stdProjection(), g.meanTraitScore()));
        }
        if (pearsonR != null) {
            sb.append(String.format("Pearson r (projection, trait score) = %.3f [%.3f, %.3f], n = %d%n", pearsonR.r(), pearsonR.ci95Low(),
                    pearsonR.ci95High(), pearsonR.n()));
        }
        return sb.toString();
    }
}
