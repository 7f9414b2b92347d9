package dev.persona.cli;

import dev.persona.api.Benchmark;
import dev.persona.model.ModelShapes;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona bench}: prefill and decode throughput, peak memory, and the machine's matmul peak in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s, peak RSS, and the F32 matmul peak of this machine. Default suite: prefill 1 x P and 8 x 128, decode at batch 1, 4, 16, 32 and 64, the memory read bandwidth, RSS after load and peak. --shape builds a random model of a known shape in memory (e.g. qwen2.5-0.5b).")
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    @Option(names = "--shape", description = "Random model of a known shape instead of --model: ${COMPLETION-CANDIDATES}.",
            completionCandidates = ShapeNames.class)
    String shape;

    @Option(names = "--batch", description = "Only this batch size (prefill and decode).")
    Integer batch;

    @Option(names = "--prompt-tokens", defaultValue = "512", description = "Prompt length of the batch-1 prefill (default ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--new-tokens", defaultValue = "32", description = "Tokens generated in decode runs (default ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--serve", description = "Benchmark persona serve instead: the same greedy requests sent one at a time, then by --concurrency clients, over loopback HTTP.")
    boolean serve;

    @Option(names = "--concurrency", defaultValue = "16", description = "With --serve: clients at once (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--requests", defaultValue = "64", description = "With --serve: requests per run (default ${DEFAULT-VALUE}).")
    int requests;

    static final class ShapeNames extends ArrayList<String> {
        ShapeNames() {
            super(ModelShapes.names());
        }
    }

    @Override
    public Integer call() throws Exception {
        if (serve) {
            var r = dev.persona.server.ServeBenchmark.run(new dev.persona.server.ServeBenchmark.Options(model.resolve(), compute.compute(), concurrency, requests, newTokens),
                    new BarProgress());
            print(r);
            return 0;
        }
        Benchmark.Result r = Benchmark.run(new Benchmark.Options(shape == null ? model.resolve() : null, shape, compute.compute(), batch, promptTokens,
                newTokens, null), new BarProgress());
        print(r);
        return 0;
    }

    private void print(Object r) {
        if (json) {
            System.out.println(Json.write(r));
        } else {
            Map<String, Object> table = dev.persona.api.JsonText.MAPPER.convertValue(r, new com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>>() { });
            table.forEach((k, v) -> System.out.printf("%-38s %s%n", k, v));
        }
    }
}
