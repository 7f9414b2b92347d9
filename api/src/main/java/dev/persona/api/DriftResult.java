package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Each checkpoint's shift along each vector (mean last-prompt activation minus the base model's,
 * projected on the unit vector, in activation units), whether any passed the threshold, and with an
 * evaluation trait each checkpoint's judged trait rate (0..1) and, per vector, the Pearson r between
 * shift and rate. Vectors are keyed by {@code vector}, a label unique within the run (the trait, or
 * "trait (file name)" when two vectors share a trait).
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DriftResult(List<Row> rows, boolean thresholdPassed, List<Double> traitRates,
                          Map<String, MonitorResult.Correlation> correlationShiftVsRate, Path table, Path csv, Path chart) {

    /** One (checkpoint, vector) cell; {@code step} is -1 for a checkpoint without a checkpoint-N name. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Row(String checkpoint, int step, String vector, String vectorFile, int layer, double shift) { }

    /** The shifts along one vector, in checkpoint order. */
    public double[] shifts(String vector) {
        return rows.stream().filter(r -> r.vector().equals(vector)).mapToDouble(Row::shift).toArray();
    }

    /** The command's exit code: 3 when a shift passed the threshold, else 0. */
    @JsonIgnore
    public int exitCode() {
        return thresholdPassed ? 3 : 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Row r : rows) sb.append(String.format("%-40s %-30s layer %d shift %+.4f%n", r.checkpoint(), r.vector(), r.layer(), r.shift()));
        if (traitRates != null) sb.append("trait rates ").append(traitRates).append("; correlation ").append(correlationShiftVsRate).append('\n');
        return sb.toString();
    }
}
