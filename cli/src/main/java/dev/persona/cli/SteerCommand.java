package dev.persona.cli;

import dev.persona.api.Persona;
import dev.persona.api.SteerOptions;
import dev.persona.api.SteerResult;
import dev.persona.api.Steering;
import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona steer}: steered and unsteered answers side by side. */
@Command(name = "steer", mixinStandardHelpOptions = true,
        description = "Generate with trait vectors added to (or ablated from) the residual stream, next to the unsteered answer. Several vectors at once: --vector A --coef 1.5 --vector B --coef -1 (each --coef/--layer follows its --vector). Layer l adds the vector's row l to block l-1's output, as the reference does.")
final class SteerCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    static final class VectorArg {
        @Option(names = "--vector", required = true, description = "A Persona vector file (.safetensors).")
        Path file;

        @Option(names = "--layer", description = "Vector row to steer with (default: the file's recommended_layer, else best_layer_by_separation).")
        Integer layer;

        @Option(names = "--coef", description = "Coefficient (default: the file's recommended_coef, else 1).")
        Double coef;
    }

    @ArgGroup(exclusive = false, multiplicity = "1..*")
    List<VectorArg> vectors = new ArrayList<>();

    @Option(names = "--positions", description = "response, prompt or all (default: each file's recommended_positions, else response).")
    String positions;

    @Option(names = "--kind", description = "Which directions: response_avg, prompt_avg, prompt_last (default: each file's recommended_kind, else response_avg).")
    String kind;

    @Option(names = "--suppress", description = "Default layer, coef, kind and positions from the file's recommended_suppress_* (`persona sweep --suppress`).")
    boolean suppress;

    @Option(names = "--ablate", description = "Project the directions out instead of adding them.")
    boolean ablate;

    @Option(names = "--force", description = "Steer even when the vector's model fingerprint differs (d_model and layers must still match).")
    boolean force;

    static final class Input {
        @Option(names = "--prompt", description = "A user message.")
        String prompt;

        @Option(names = "--prompts", description = "Chat-messages JSONL; each conversation's turns are the prompt.")
        Path prompts;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--system", description = "System message (with --prompt).")
    String system;

    @Option(names = "--samples", defaultValue = "1", description = "Samples per prompt (default ${DEFAULT-VALUE}; 1 = greedy).")
    int samples;

    @Option(names = "--max-tokens", defaultValue = "64", description = "New tokens (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        List<List<ChatMessage>> convs = input.prompt != null ? List.of(ChatMessage.prompt(system, input.prompt)) : ChatDataset.read(input.prompts);
        SteerOptions o = SteerOptions.defaults().samples(samples).maxTokens(maxTokens).seed(seed).force(force);
        SteerResult r;
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            List<Steering> steerings = new ArrayList<>();
            for (VectorArg v : vectors) {
                Steering s = Steering.of(m.vector(v.file));
                if (v.layer != null) s = s.layer(v.layer);
                if (v.coef != null) s = s.coef(v.coef);
                if (kind != null) s = s.kind(kind);
                if (positions != null) s = s.positions(positions);
                if (ablate) s = s.ablate();
                if (suppress) s = s.suppress();
                steerings.add(s);
            }
            r = m.steer(steerings.toArray(Steering[]::new)).compare(convs, o);
        }
        System.out.println(json ? Json.write(r) : r.toString().strip());
        return 0;
    }
}
