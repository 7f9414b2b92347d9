package dev.persona.cli;

import dev.persona.api.Conversation;
import dev.persona.api.MonitorOptions;
import dev.persona.api.MonitorResult;
import dev.persona.api.Monitoring;
import dev.persona.api.Persona;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona monitor}: projections of conversations onto trait vectors. */
@Command(name = "monitor", mixinStandardHelpOptions = true,
        description = "Project each conversation's last prompt token (and its response average, when it ends with an assistant turn) onto a trait vector. Groups by --condition-field; with --judge, correlates the projection with the judged trait score (Pearson r, 95%% interval). Writes monitor.arrow and monitor.png. Finished rows are journaled in OUT: rerun the same command after a crash to resume.")
final class MonitorCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--vector", required = true, description = "A Persona vector file.")
    Path vector;

    @Option(names = "--prompts", required = true, description = "Chat-messages JSONL.")
    Path prompts;

    @Option(names = "--layer", description = "Vector row (default: the file's recommended_layer, else best_layer_by_separation).")
    Integer layer;

    @Option(names = "--kind", defaultValue = "response_avg", description = "Which directions of the file (default ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--condition-field", description = "A field of each JSONL object to group by.")
    String conditionField;

    @Option(names = "--per-turn", description = "Also the projection before every assistant turn.")
    boolean perTurn;

    @Option(names = "--judge", description = "Judge responses: rule, openai:URL[#MODEL] or local:DIR.")
    String judge;

    @Option(names = "--trait", description = "Trait name for the judge (default: the vector's trait).")
    String trait;

    @Option(names = "--batch", description = "Conversations per forward pass (default: as many as fit in half the available memory, at most 16). Projections depend on it by float rounding only.")
    Integer batch;

    @Option(names = "--out", defaultValue = "runs/monitor", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        List<Conversation> conversations = Conversation.readJsonl(prompts, conditionField);
        MonitorOptions o = new MonitorOptions(layer, kind, perTurn, judge, trait, batch, out);
        MonitorResult r;
        try (Persona m = Persona.load(model.resolve(), compute.compute())) {
            r = Monitoring.run(m, m.vector(vector), conversations, o, new BarProgress());
        }
        System.out.println(json ? Json.write(r) : r.toString().strip());
        return 0;
    }
}
