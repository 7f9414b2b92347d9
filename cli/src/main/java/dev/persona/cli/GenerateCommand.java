package dev.persona.cli;

import dev.persona.model.ChatMessage;
import dev.persona.api.Persona;
import dev.persona.model.GenerationOptions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona generate}: one chat reply. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a chat reply to a prompt.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--system", description = "System message.")
    String system;

    @Option(names = "--prompt", required = true, description = "User message.")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "128", description = "Maximum new tokens (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default), else sampling temperature.")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens; 0 disables.")
    int topK;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            GenerationOptions o = new GenerationOptions(maxTokens, temperature, topP, topK, seed, null);
            long t0 = System.nanoTime();
            String reply = m.generate(ChatMessage.prompt(system, prompt), o);
            double secs = (System.nanoTime() - t0) / 1e9;
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("system", system);
                out.put("prompt", prompt);
                out.put("reply", reply);
                out.put("seconds", secs);
                System.out.println(Json.write(out));
            } else {
                System.out.println(reply);
            }
        }
        return 0;
    }
}
