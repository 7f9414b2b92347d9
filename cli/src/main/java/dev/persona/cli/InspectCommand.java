package dev.persona.cli;

import dev.persona.api.ModelInfo;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona inspect}: what a model is and which hook points it has. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's family, shape, dtype, parameter count and hook names.")
final class InspectCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        ModelInfo i = ModelInfo.of(model.model);
        if (json) {
            System.out.println(Json.write(i));
            return 0;
        }
        Map<String, Object> table = dev.persona.api.JsonText.MAPPER.convertValue(i, new com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>>() { });
        for (var e : table.entrySet()) if (!e.getKey().equals("hooks")) System.out.printf("%-18s %s%n", e.getKey(), e.getValue());
        System.out.println("hooks (" + i.hooks().size() + "):");
        for (var h : i.hooks().entrySet()) {
            if (h.getKey().startsWith("blocks.") && !h.getKey().startsWith("blocks.0.")) continue;
            System.out.printf("  %-34s %s%n", h.getKey(), h.getValue());
        }
        if (i.layers() > 1) System.out.println("  ... and the same for blocks.1 .. blocks." + (i.layers() - 1));
        return 0;
    }
}
