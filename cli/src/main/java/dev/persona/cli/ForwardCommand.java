package dev.persona.cli;

import dev.persona.api.ForwardPass;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona forward}: logits and hook activations for one input, for comparison with other implementations. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Run one forward pass and print logits and (optionally) hook activations. JSON: {input_ids, logits: [pos][vocab], hooks: {name: [pos][d]}}.")
final class ForwardCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Mixin
    ComputeOption compute;

    static final class Input {
        @Option(names = "--ids", split = ",", description = "Token ids, e.g. 1,5,9.")
        int[] ids;

        @Option(names = "--text", description = "Raw text, tokenized without special tokens.")
        String text;

        @Option(names = "--prompt", description = "A user message, rendered with the chat template (with the generation prompt).")
        String prompt;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--system", description = "System message (with --prompt).")
    String system;

    @Option(names = "--hooks", split = ",", description = "Hook names to capture, e.g. blocks.0.hook_resid_post.")
    List<String> hooks = new ArrayList<>();

    @Option(names = "--positions", defaultValue = "all", description = "all (every position) or last.")
    String positions;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        ForwardPass.Result r = ForwardPass.run(model.resolve(), compute.compute(),
                new ForwardPass.Options(input.ids, input.text, input.prompt, system, hooks, positions));
        if (json) {
            System.out.println(Json.write(r));
            return 0;
        }
        System.out.println("input_ids " + Arrays.toString(r.inputIds()));
        System.out.printf("next-token argmax %d (logit %.4f)%s%n", r.nextTokenArgmax(), r.nextTokenLogit(),
                r.nextTokenText() == null ? "" : " = '" + r.nextTokenText().replace("\n", "\\n") + "'");
        for (var e : r.hookShapes().entrySet()) {
            System.out.printf("%-34s shape %s, last-position norm %.4f%n", e.getKey(), Arrays.toString(e.getValue()), r.lastPositionNorms().get(e.getKey()));
        }
        return 0;
    }
}
