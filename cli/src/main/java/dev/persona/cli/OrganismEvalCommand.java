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
        description = {"Measure trait rates and coherence with the rule judge at temperature 1: under trait-promoting (pos),",
            "trait-suppressing (neg) and neutral system prompts, the latter also per cue level 0..3."})
final class OrganismEvalCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--n", defaultValue = "100", description = "Conversations per cell (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--seed", defaultValue = "0", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        try (ChatModel chat = ChatModel.load(model.resolve())) {
            ProgressBar bar = new ProgressBar("eval", n * 21);
            List<OrganismEval.Row> rows = new OrganismEval().table(chat, n, seed, (done, total) -> bar.update(done, ""));
            if (json) {
                System.out.println(Json.write(rows));
            } else {
                System.out.println(table(rows));
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
