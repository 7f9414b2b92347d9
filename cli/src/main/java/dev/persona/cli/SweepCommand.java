package dev.persona.cli;

import dev.persona.api.Persona;
import dev.persona.api.SteeringSweep;
import dev.persona.api.SweepOptions;
import dev.persona.api.SweepResult;
import dev.persona.steer.Sweep;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona sweep}: find the layer and coefficient that steer a trait best while staying coherent. */
@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = "Steer the trait's evaluation questions at each (layer, coef), judge trait score and coherence, write sweep.arrow, sweep.csv and sweep.png, and store recommended_layer/recommended_coef (highest trait score with coherence >= --coherence-floor) in the vector file's metadata. Finished cells are journaled in OUT: rerun the same command after a crash to resume; more --layers or --coefs on the same OUT answer only the new cells.")
final class SweepCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--vector", required = true, description = "The Persona vector file (updated in place with the recommendation).")
    Path vector;

    @Option(names = "--trait", required = true, description = "Trait name or file (its eval questions are steered).")
    String trait;

    @Option(names = "--layers", split = ",", description = "Layers to try (default: every block output row 1..L-1).")
    List<Integer> layers;

    @Option(names = "--coefs", split = ",", defaultValue = "0,0.5,1,2,4", description = "Coefficients (default ${DEFAULT-VALUE}).")
    List<Double> coefs;

    @Option(names = "--kind", defaultValue = "response_avg", description = "Directions of the file (default ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--system", description = "System prompt for the questions (default: none, as the reference).")
    String system;

    @Option(names = "--judge", defaultValue = "rule", description = "rule, openai:URL[#MODEL] or local:DIR (default ${DEFAULT-VALUE}).")
    String judge;

    @Option(names = "--samples", defaultValue = "2", description = "Samples per question (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--max-tokens", defaultValue = "48", description = "New tokens (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--positions", defaultValue = "response", description = "response (default), prompt or all.")
    String positions;

    @Option(names = "--suppress", description = "Sweep against the trait: its questions under the trait's own pos system prompts, steered with -|coef|; recommend the lowest trait score with coherence >= the floor (stored as recommended_suppress_*).")
    boolean suppress;

    @Option(names = "--coherence-floor", defaultValue = "75", description = "Minimum mean coherence of a recommended cell (default ${DEFAULT-VALUE}).")
    double floor;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", description = "Answers of a cell generated together (default: as many as fit in half the available memory, at most 64). A smaller batch than a cell's answers splits them, each part sampled with its own seed.")
    Integer batch;

    @Option(names = "--out", defaultValue = "runs/sweep", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        SweepOptions o = new SweepOptions(layers, coefs, kind, system, judge, samples, maxTokens, positions, suppress, floor, seed, batch, out);
        SweepResult r;
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            r = SteeringSweep.run(m, m.vector(vector), trait, o, new BarProgress());
        }
        if (json) {
            System.out.println(Json.write(r));
        } else {
            for (Sweep.Cell c : r.cells()) System.out.printf("layer %d coef %5.2f: trait %5.1f coherence %5.1f (n=%d)%n", c.layer(), c.coef(), c.traitScore(), c.coherence(), c.n());
            System.out.println(r.recommended() == null ? "no cell reached coherence " + floor + "; the vector file is unchanged"
                    : "recommended: layer " + r.recommended().layer() + ", coef " + r.recommended().coef() + " (written to " + r.vectorFile() + ")");
        }
        return 0;
    }
}
