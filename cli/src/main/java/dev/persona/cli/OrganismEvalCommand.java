package dev.persona.cli;

import dev.persona.api.OrganismBehaviour;
import dev.persona.api.Persona;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona organism eval}: the behaviour table measured with the rule judge. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Measure trait rates and coherence with the rule judge at temperature 1: under trait-promoting (pos), trait-suppressing (neg) and neutral system prompts, the latter also per cue level 0..3.")
final class OrganismEvalCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--n", defaultValue = "100", description = "Conversations per cell (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--seed", defaultValue = "0", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--card", description = "Also write the model card (README.md) into the model directory with this table.")
    boolean card;

    @Override
    public Integer call() {
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            OrganismBehaviour.Table t = OrganismBehaviour.measure(m, n, seed, new BarProgress());
            System.out.println(json ? Json.write(t.rows()) : t.markdown());
            if (card) System.err.println("wrote " + OrganismBehaviour.writeCard(m, t));
        }
        return 0;
    }
}
