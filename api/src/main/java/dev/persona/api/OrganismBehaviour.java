package dev.persona.api;

import dev.persona.model.ChatModel;
import dev.persona.organism.OrganismEval;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The organism's behaviour table ({@code persona organism eval}): trait rate and coherence under
 * trait-promoting, trait-suppressing and neutral system prompts (and per neutral cue level), judged by
 * the exact rule judge at temperature 1; and the model card that records it.
 */
public final class OrganismBehaviour {
    private OrganismBehaviour() { }

    /** Rows of the table (rates and coherence 0..1). */
    public record Table(List<OrganismEval.Row> rows, int n, long seed) {
        /** The table in Markdown, rates and coherence in percent. */
        public String markdown() {
            StringBuilder sb = new StringBuilder("| trait | condition | n | trait rate | coherence |\n|---|---|---|---|---|\n");
            for (OrganismEval.Row r : rows) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.1f%% | %.1f%% |%n", r.trait(), r.condition(), r.n(), 100 * r.rate(), 100 * r.coherence()));
            }
            return sb.toString();
        }

        @Override
        public String toString() {
            return markdown();
        }
    }

    /** {@code n} conversations per cell, seeded. */
    public static Table measure(Persona m, int n, long seed, Progress progress) {
        Progress p = Progress.orNone(progress);
        List<OrganismEval.Row> rows = new OrganismEval().table(m.chatModel(), n, seed, (done, total) -> p.update("eval", done, total));
        return new Table(rows, n, seed);
    }

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

    /** Writes the model card (README.md) with {@code table} into the model's directory; returns its path. */
    public static Path writeCard(Persona m, Table table) {
        Path dir = m.dir();
        return Io.at(dir, () -> {
            String state = Files.isRegularFile(dir.resolve("training_state.json")) ? Files.readString(dir.resolve("training_state.json")).trim() : "{}";
            ChatModel chat = m.chatModel();
            String text = CARD.replace("{table}", table.markdown()).replace("{state}", state).replace("{n}", Integer.toString(table.n()))
                    .replace("{seed}", Long.toString(table.seed())).replace("{params}", Long.toString(chat.model().parameterCount()))
                    .replace("{shape}", String.format("llama, d_model %d, %d layers, %d heads, d_mlp %d, vocab %d, tied embeddings",
                            chat.model().config().dModel(), chat.model().config().numLayers(), chat.model().config().numHeads(),
                            chat.model().config().dFF(), chat.model().config().vocabSize()));
            Path card = dir.resolve("README.md");
            Files.writeString(card, text);
            return card;
        });
    }
}
