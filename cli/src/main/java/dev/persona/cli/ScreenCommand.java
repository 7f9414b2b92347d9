package dev.persona.cli;

import dev.persona.api.Persona;
import dev.persona.api.ScreenOptions;
import dev.persona.api.ScreenResult;
import dev.persona.api.Screening;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona screen}: rank training samples by their push along a trait vector. */
@Command(name = "screen", mixinStandardHelpOptions = true,
        description = "Score each training sample by the projection difference (its response vs the base model's greedy response to the same prompt, along the trait vector) and the cheap approximation (response minus last-prompt projection). Writes screen.arrow, flagged.jsonl and filtered.jsonl (the data without the flagged samples). Base replies are journaled in OUT/base_replies.jsonl as they are made: rerun the same command after a crash to resume.")
final class ScreenCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--data", required = true, description = "Chat-messages JSONL; each conversation ends with the assistant turn to score.")
    Path data;

    @Option(names = "--vector", required = true, description = "A Persona vector file.")
    Path vector;

    @Option(names = "--layer", description = "Vector row (default: the file's recommended or best layer).")
    Integer layer;

    @Option(names = "--base-responses", defaultValue = "greedy", description = "greedy (generate, default) or none (cheap approximation only).")
    String baseResponses;

    @Option(names = "--top", description = "Flag the K highest-scoring samples.")
    Integer top;

    @Option(names = "--percentile", defaultValue = "90", description = "Flag samples above this percentile of the score (default ${DEFAULT-VALUE}).")
    double percentile;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens for base responses (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--batch", description = "Base replies generated together and samples per forward pass (default: from memory, at most 32 and 16). Replies and scores depend on it by float rounding only.")
    Integer batch;

    @Option(names = "--out", defaultValue = "runs/screen", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        if (!baseResponses.equals("greedy") && !baseResponses.equals("none")) {
            throw new PersonaException("--base-responses " + baseResponses + " is not greedy or none", "use --base-responses greedy or none");
        }
        // every option is checked before the model loads: a bad --percentile must not cost the whole run
        ScreenOptions o = new ScreenOptions(layer, baseResponses.equals("greedy"), top, percentile, maxTokens, batch, out);
        ScreenResult r;
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            r = Screening.run(m, m.vector(vector), data, o, new BarProgress());
        }
        System.out.println(json ? Json.write(r) : r.toString());
        return 0;
    }
}
