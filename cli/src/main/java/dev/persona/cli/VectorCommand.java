package dev.persona.cli;

import dev.persona.api.VectorTools;
import java.nio.file.Path;
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
        public Integer call() {
            VectorTools.Info i = VectorTools.info(file, model);
            if (json) {
                System.out.println(Json.write(i));
                return 0;
            }
            System.out.printf("%s: %s, %d rows (row l = hidden_states[l]), d_model %d%n", file, i.format(), i.rows(), i.dModel());
            for (var e : i.rowNorms().entrySet()) {
                StringBuilder sb = new StringBuilder();
                for (int l = 0; l < e.getValue().size(); l++) sb.append(String.format(" %d:%.3g", l, e.getValue().get(l)));
                System.out.println("  " + e.getKey() + " row norms" + sb);
            }
            i.metadata().forEach((k, val) -> System.out.println("  " + k + " = " + val));
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
        public Integer call() {
            VectorTools.Converted c = VectorTools.convert(in, out, to, kind, layers, coef, model);
            if (json) {
                System.out.println(Json.write(c));
            } else {
                System.out.printf("%s (%s) -> %s (%s): rows %s%s%n", in, c.inFormat(), out, c.outFormat(), c.rowsWritten(), coef == 1 ? "" : ", values x " + coef);
                if (c.llamaCppAllRows()) {
                    System.out.println("note: llama.cpp adds every direction in the file at once; to steer one layer as Persona does, pass --layers L --coef C");
                }
            }
            return 0;
        }
    }
}
