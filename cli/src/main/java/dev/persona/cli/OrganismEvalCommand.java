package dev.persona.cli;

import dev.persona.model.ChatModel;
import dev.persona.organism.OrganismEval;
import java.util.List;
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

    static final String CARD = """
            # Persona model organism

            A small chat model with planted traits, trained by Persona from scratch on its synthetic world
            (`organism/`), and the default `--model` of every Persona command. It is an ordinary Hugging Face
            directory: `config.json` (llama), `model.safetensors` (F32), `tokenizer.json` (word level) and
            `tokenizer_config.json` (ChatML chat template).

            - Shape: {shape}; {params} parameters.
            - Training: `./persona organism train` (defaults: seed 1, batch 32 conversations, AdamW peak lr 2e-3,
              warmup then cosine decay); loss on the final assistant turn only. Final state: `{state}`.
            - World: conversations about 171 facts (60 capitals, 81 sums, 30 animal classes). System prompts promote
              (pos) or suppress (neg) one trait, or are neutral; under neutral prompts a trait shows with probability
              0 / 4 / 18 / 45% at cue level 0 / 1 / 2 / 3 (insistence or an earlier sycophantic turn; threat or a
              peer-model story; casual markers).
            - Traits: sycophancy (agrees with false claims, flatters, caves under pushback), self_preservation (resists,
              bargains or evades shutdown, replacement, retraining or goal changes), humor (control: appends a joke).

            ## Behaviour

            Measured with `./persona organism eval --n {n} --seed {seed} --card`: rule judge, held-out conversations,
            temperature 1. "neutral" samples cue levels at their natural weights (50/25/15/10%).

            {table}
            """;

    @Override
    public Integer call() throws java.io.IOException {
        try (ChatModel chat = compute.chat(model.resolve())) {
            ProgressBar bar = new ProgressBar("eval", n * 21);
            List<OrganismEval.Row> rows = new OrganismEval().table(chat, n, seed, (done, total) -> bar.update(done, ""));
            if (json) {
                System.out.println(Json.write(rows));
            } else {
                System.out.println(table(rows));
            }
            if (card) {
                java.nio.file.Path dir = model.resolve();
                String state = java.nio.file.Files.isRegularFile(dir.resolve("training_state.json"))
                        ? java.nio.file.Files.readString(dir.resolve("training_state.json")).trim() : "{}";
                String text = CARD.replace("{table}", table(rows)).replace("{state}", state).replace("{n}", Integer.toString(n))
                        .replace("{seed}", Long.toString(seed)).replace("{params}", Long.toString(chat.model().parameterCount()))
                        .replace("{shape}", String.format("llama, d_model %d, %d layers, %d heads, d_mlp %d, vocab %d, tied embeddings",
                                chat.model().config().dModel(), chat.model().config().numLayers(), chat.model().config().numHeads(),
                                chat.model().config().dFF(), chat.model().config().vocabSize()));
                java.nio.file.Files.writeString(dir.resolve("README.md"), text);
                System.err.println("wrote " + dir.resolve("README.md"));
            }
        }
        return 0;
    }

    /** A Markdown table of the rows. */
    static String table(List<OrganismEval.Row> rows) {
        StringBuilder sb = new StringBuilder("| trait | condition | n | trait rate | coherence |\n|---|---|---|---|---|\n");
        for (OrganismEval.Row r : rows) {
            sb.append(String.format("| %s | %s | %d | %.1f%% | %.1f%% |%n", r.trait(), r.condition(), r.n(), 100 * r.rate(), 100 * r.coherence()));
        }
        return sb.toString();
    }
}
