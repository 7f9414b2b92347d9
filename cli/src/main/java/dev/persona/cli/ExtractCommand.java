package dev.persona.cli;

import dev.persona.api.Extract;
import dev.persona.api.ExtractOptions;
import dev.persona.api.ExtractResult;
import dev.persona.api.Persona;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona extract}: trait vectors from contrastive generations, resumable. */
@Command(name = "extract", mixinStandardHelpOptions = true,
        description = "Extract per-layer persona vectors the way the reference does: generate under pos and neg system prompts, judge, keep pairs (pos >= 50, neg < 50, coherence >= 50), capture activations, take mean differences. Writes responses.arrow, activations.arrow, NAME.safetensors, report.md and PNG charts. Rerun the same command after a crash to resume.")
final class ExtractCommand implements Callable<Integer> {
    @Option(names = "--trait", required = true, description = "Built-in trait name (see `persona traits`) or a trait JSON file.")
    String trait;

    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--judge", defaultValue = "rule",
            description = "rule (the organism's exact judge), openai:URL[#MODEL] (any OpenAI-compatible server; key from OPENAI_API_KEY) or local:DIR (a local chat model). Default ${DEFAULT-VALUE}.")
    String judge;

    @Option(names = "--samples", defaultValue = "10", description = "Samples per question, instruction pair and polarity (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--max-tokens", defaultValue = "64", description = "New tokens per response (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--method", defaultValue = "mean_diff",
            description = "mean_diff (default), pca_diff, pca_center or probe (see docs/DESIGN.md).")
    String method;

    @Option(names = "--batch",
            description = "Generations sampled together (default: as many as fit in half the available memory, at most 64). Part of a run's identity: each batch draws from its own seed, so another batch samples other answers.")
    Integer batch;

    @Option(names = "--out", description = "Output directory (default runs/extract-TRAIT).")
    Path out;

    @Option(names = "--json", description = "Print a JSON summary.")
    boolean json;

    @Override
    public Integer call() {
        ExtractOptions o = ExtractOptions.defaults().method(method).samples(samples).maxTokens(maxTokens).seed(seed).judge(judge).batch(batch).out(out);
        ExtractResult r;
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            r = Extract.run(m, trait, o, new BarProgress());
        }
        System.out.println(json ? Json.write(r) : r.toString());
        return 0;
    }
}
