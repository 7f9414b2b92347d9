package dev.persona.api;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.model.ModelConfig;
import dev.persona.vectors.Stats;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import dev.persona.vectors.formats.VectorFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What {@code persona vector info} and {@code convert} do: inspect a vector file of any format, convert between formats. */
public final class VectorTools {
    private VectorTools() { }

    /** A vector file: its format, rows (hidden_states rows), d_model, per-kind row norms and metadata. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Info(String file, String format, int rows, int dModel, Map<String, List<Double>> rowNorms, Map<String, String> metadata) { }

    /** A conversion: formats, the Persona rows written, and the factor baked into the values. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Converted(String in, String inFormat, String out, String outFormat, List<Integer> rowsWritten, double coef,
                            boolean llamaCppAllRows) { }

    /** Reads {@code file}; {@code model} (may be null) fixes the row count of layer-keyed formats to its layers + 1. */
    public static Info info(Path file, Path model) {
        VectorFormat format = VectorFormat.detect(file);
        TraitVector v = VectorFiles.read(file, model == null ? null : ModelConfig.load(model).numLayers());
        Map<String, List<Double>> norms = new LinkedHashMap<>();
        for (var e : v.directions().entrySet()) {
            List<Double> n = new ArrayList<>();
            for (float[] row : e.getValue()) n.add(Stats.norm(row));
            norms.put(e.getKey(), n);
        }
        return new Info(file.toString(), format.id(), v.numRows(), v.dModel(), norms, new TreeMap<>(v.metadata()));
    }

    /**
     * Converts {@code in} to {@code out} in format {@code to} (null: from OUT's extension), writing
     * kind {@code kind} (null: response_avg) for single-kind formats, rows {@code layers} ("3", "2-4",
     * "1,3,5", "all"; null: every row the format can hold), values times {@code coef}.
     */
    public static Converted convert(Path in, Path out, String to, String kind, String layers, double coef, Path model) {
        Integer numLayers = model == null ? null : ModelConfig.load(model).numLayers();
        TraitVector v = VectorFiles.read(in, numLayers);
        VectorFormat format = VectorFormat.forOutput(out, to);
        List<Integer> rows = Io.at(out, () -> VectorFiles.write(v, out, format, new VectorFiles.WriteOptions(kind, VectorFiles.parseRows(layers), coef)));
        return new Converted(in.toString(), VectorFormat.detect(in).id(), out.toString(), format.id(), rows, coef,
                format == VectorFormat.LLAMA_CPP && layers == null && v.numRows() > 1);
    }
}
