package dev.persona.cli;

import dev.persona.model.ModelConfig;
import dev.persona.vectors.Stats;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import dev.persona.vectors.formats.VectorFormat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code persona vector}: inspect vector files and convert between formats. */
@Command(name = "vector", mixinStandardHelpOptions = true,
        description = "Vector files: show what one holds, or convert between Persona's format and the formats other tools use. Formats: persona (.safetensors), pt (the Persona Vectors reference's torch.save [L+1, d] tensor), llama.cpp (control-vector GGUF; direction.N acts on block N's output = Persona row N+1), repeng (GGUF, same mapping, layer 0 allowed), svec (IBM activation-steering JSON, key i = row i+1). Rows are Persona's: row l is hidden_states[l], the output of block l-1.",
        subcommands = {VectorCommand.Info.class, VectorCommand.Convert.class})
final class VectorCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Format, kinds, rows, d_model, per-row norms and metadata of a vector file.")
    static final class Info implements Callable<Integer> {
        @Parameters(index = "0", description = "A vector file in any supported format.")
        Path file;

        @Option(names = "--model", description = "Model directory: GGUF/.svec files then get its layers + 1 rows (else the highest stored row + 1).")
        Path model;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            VectorFormat format = VectorFormat.detect(file);
            TraitVector v = VectorFiles.read(file, model == null ? null : ModelConfig.load(model).numLayers());
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("file", file.toString());
            out.put("format", format.id());
            out.put("rows", v.numRows());
            out.put("d_model", v.dModel());
            Map<String, List<Double>> norms = new LinkedHashMap<>();
            for (var e : v.directions().entrySet()) {
                List<Double> n = new ArrayList<>();
                for (float[] row : e.getValue()) n.add(Stats.norm(row));
                norms.put(e.getKey(), n);
            }
            out.put("row_norms", norms);
            out.put("metadata", new TreeMap<>(v.metadata()));
            if (json) {
                System.out.println(Json.write(out));
                return 0;
            }
            System.out.printf("%s: %s, %d rows (row l = hidden_states[l]), d_model %d%n", file, format.id(), v.numRows(), v.dModel());
            for (var e : norms.entrySet()) {
                StringBuilder sb = new StringBuilder();
                for (int l = 0; l < e.getValue().size(); l++) sb.append(String.format(" %d:%.3g", l, e.getValue().get(l)));
                System.out.println("  " + e.getKey() + " row norms" + sb);
            }
            new TreeMap<>(v.metadata()).forEach((k, val) -> System.out.println("  " + k + " = " + val));
            return 0;
        }
    }

    @Command(name = "convert", mixinStandardHelpOptions = true,
            description = "Convert IN to OUT. The output format follows OUT's extension (.gguf = llama.cpp) or --to. Layer-keyed formats store the rows that hold a direction; --layers picks rows and --coef bakes a strength into the values (llama.cpp then applies --control-vector-scaled on top).")
    static final class Convert implements Callable<Integer> {
        @Parameters(index = "0", description = "Input vector file (any supported format).")
        Path in;

        @Parameters(index = "1", description = "Output file.")
        Path out;

        @Option(names = "--to", description = "Output format: persona, pt, llama.cpp, repeng, svec (default: from OUT's extension).")
        String to;

        @Option(names = "--kind", description = "Position kind to write for single-kind formats (default response_avg).")
        String kind;

        @Option(names = "--layers", description = "Persona rows to write: 3, 2-4, 1,3,5 or all (default all that the format can hold).")
        String layers;

        @Option(names = "--coef", defaultValue = "1", description = "Factor baked into the written values (default ${DEFAULT-VALUE}).")
        double coef;

        @Option(names = "--model", description = "Model directory: fixes the row count of GGUF/.svec inputs to its layers + 1 and is checked against them.")
        Path model;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            Integer numLayers = model == null ? null : ModelConfig.load(model).numLayers();
            TraitVector v = VectorFiles.read(in, numLayers);
            VectorFormat format = VectorFormat.forOutput(out, to);
            List<Integer> rows = VectorFiles.write(v, out, format, new VectorFiles.WriteOptions(kind, VectorFiles.parseRows(layers), coef));
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("in", in.toString());
            summary.put("in_format", VectorFormat.detect(in).id());
            summary.put("out", out.toString());
            summary.put("out_format", format.id());
            summary.put("rows_written", rows);
            summary.put("coef", coef);
            if (json) {
                System.out.println(Json.write(summary));
            } else {
                System.out.printf("%s (%s) -> %s (%s): rows %s%s%n", in, summary.get("in_format"), out, format.id(), rows,
                        coef == 1 ? "" : ", values x " + coef);
                if (format == VectorFormat.LLAMA_CPP && layers == null && v.numRows() > 1) {
                    System.out.println("note: llama.cpp adds every direction in the file at once; to steer one layer as Persona does, pass --layers L --coef C");
                }
            }
            return 0;
        }
    }
}
