package dev.persona.cli;

import dev.persona.model.ChatDataset;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.ModelConfig;
import dev.persona.model.GenerationOptions;
import dev.persona.model.ModelFingerprint;
import dev.persona.model.PersonaException;
import dev.persona.model.PositionMask;
import dev.persona.steer.SteeringPlan;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona steer}: steered and unsteered answers side by side. */
@Command(name = "steer", mixinStandardHelpOptions = true,
        description = {"Generate with trait vectors added to (or ablated from) the residual stream, next to the unsteered answer.",
            "Several vectors at once: --vector A --coef 1.5 --vector B --coef -1 (each --coef/--layer follows its --vector).",
            "Layer l adds the vector's row l to block l-1's output, as the reference does."})
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
        Path dir = model.resolve();
        List<List<ChatMessage>> convs = new ArrayList<>();
        if (input.prompt != null) {
            convs.add(ChatMessage.prompt(system, input.prompt));
        } else {
            for (List<ChatMessage> c : ChatDataset.read(input.prompts)) {
                List<ChatMessage> prompt = new ArrayList<>(c);
                while (!prompt.isEmpty() && prompt.get(prompt.size() - 1).role().equals("assistant")) prompt.remove(prompt.size() - 1);
                convs.add(prompt);
            }
        }
        SteeringPlan plan = new SteeringPlan();
        int numLayers = ModelConfig.load(dir).numLayers();
        List<String> positionNames = new ArrayList<>();
        for (VectorArg v : vectors) {
            TraitVector tv = VectorFiles.read(v.file, numLayers);
            String rec = suppress ? "recommended_suppress_" : "recommended_";
            if (suppress && v.layer == null && !tv.metadata().containsKey(rec + "layer")) {
                throw new PersonaException(v.file + " has no recommended_suppress_layer", "run `persona sweep --suppress` on it, or pass --layer and --coef");
            }
            int layer = v.layer != null ? v.layer : suppress ? Integer.parseInt(tv.metadata().get(rec + "layer")) : defaultLayer(tv, v.file);
            double coef = v.coef != null ? v.coef : Double.parseDouble(tv.metadata().getOrDefault(rec + "coef", "1"));
            // a sweep stores the kind and positions it recommends next to the layer and coef
            String k = kind != null ? kind : tv.metadata().getOrDefault(rec + "kind", "response_avg");
            String p = positions != null ? positions : tv.metadata().getOrDefault(rec + "positions", "response");
            positionNames.add(p);
            plan.add(new SteeringPlan.Steer(tv, k, layer, coef, ablate, PositionMask.parse(p)));
        }
        List<List<ChatMessage>> expanded = new ArrayList<>();
        for (List<ChatMessage> c : convs) for (int s = 0; s < samples; s++) expanded.add(c);
        GenerationOptions o = samples == 1 ? GenerationOptions.greedy(maxTokens) : GenerationOptions.sample(maxTokens, 1.0, seed);
        List<String> base, steered;
        try (ChatModel chat = compute.chat(dir)) {
            plan.check(chat.model(), ModelFingerprint.of(dir), force);
            base = chat.reply(expanded, o);
            try (AutoCloseable h = plan.apply(chat.model())) {
                steered = chat.reply(expanded, o);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < expanded.size(); i++) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("prompt", expanded.get(i).get(expanded.get(i).size() - 1).content());
            r.put("unsteered", base.get(i));
            r.put("steered", steered.get(i));
            rows.add(r);
        }
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            List<Map<String, Object>> steers = new ArrayList<>();
            for (int i = 0; i < plan.steers().size(); i++) {
                SteeringPlan.Steer s = plan.steers().get(i);
                steers.add(Map.of("trait", s.vector().metadata().getOrDefault("trait", "?"), "kind", s.kind(), "layer", s.layer(), "coef", s.coef(),
                        "ablate", s.ablate(), "positions", positionNames.get(i)));
            }
            out.put("steers", steers);
            out.put("results", rows);
            System.out.println(Json.write(out));
        } else {
            for (SteeringPlan.Steer s : plan.steers()) {
                System.out.printf("steer: %s %s layer %d %s at %s positions%n", s.vector().metadata().getOrDefault("trait", "?"), s.kind(), s.layer(),
                        s.ablate() ? "ablated" : "coef " + s.coef(), positionNames.get(plan.steers().indexOf(s)));
            }
            for (Map<String, Object> r : rows) {
                System.out.println("\nprompt:     " + r.get("prompt"));
                System.out.println("unsteered:  " + r.get("unsteered"));
                System.out.println("steered:    " + r.get("steered"));
            }
        }
        return 0;
    }

    static int defaultLayer(TraitVector v, Path file) {
        String l = v.metadata().getOrDefault("recommended_layer", v.metadata().get("best_layer_by_separation"));
        if (l == null) throw new PersonaException(file + " has no recommended_layer", "pass --layer L");
        return Integer.parseInt(l);
    }
}
