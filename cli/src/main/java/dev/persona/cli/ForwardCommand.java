package dev.persona.cli;

import dev.persona.model.ActivationCache;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.FloatTensor;
import dev.persona.model.HookedTransformer;
import dev.persona.model.PersonaException;
import dev.persona.model.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
        if (!positions.equals("all") && !positions.equals("last")) {
            throw new PersonaException("--positions '" + positions + "' is not all or last", "use --positions all or --positions last");
        }
        Path dir = model.resolve();
        int[] ids;
        HookedTransformer m;
        ChatModel chat = null;
        if (input.ids != null) {
            m = compute.weights(dir);
            ids = input.ids;
        } else {
            chat = compute.chat(dir);
            m = chat.model();
            if (input.text != null) {
                ids = chat.tokenizer().encode(input.text);
            } else {
                ids = chat.encode(ChatMessage.prompt(system, input.prompt), true);
            }
        }
        try {
            for (int id : ids) {
                if (id < 0 || id >= m.config().vocabSize()) {
                    throw new PersonaException("token id " + id + " is outside the vocabulary 0.." + (m.config().vocabSize() - 1), "pass ids the model knows");
                }
            }
            FloatTensor logits;
            Map<String, FloatTensor> captured = new LinkedHashMap<>();
            try (ActivationCache cache = m.capture(hooks)) {
                logits = m.forward(ids);
                for (String h : hooks) captured.put(h, cache.get(h));
            }
            int from = positions.equals("last") ? ids.length - 1 : 0;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("input_ids", ids);
            out.put("positions", positions.equals("last") ? List.of(ids.length - 1) : null);
            out.put("logits", rows(logits, from, ids.length));
            Map<String, Object> hookOut = new LinkedHashMap<>();
            for (var e : captured.entrySet()) hookOut.put(e.getKey(), rows(e.getValue(), from, ids.length));
            out.put("hooks", hookOut);
            if (json) {
                System.out.println(Json.write(out));
            } else {
                System.out.println("input_ids " + Arrays.toString(ids));
                float[] last = logits.row(0, ids.length - 1);
                int best = 0;
                for (int i = 1; i < last.length; i++) if (last[i] > last[best]) best = i;
                System.out.printf("next-token argmax %d (logit %.4f)%s%n", best, last[best],
                        chat != null ? " = " + quoted(chat.tokenizer(), best) : "");
                for (var e : captured.entrySet()) {
                    float[] r = e.getValue().shape().length == 3 ? e.getValue().row(0, ids.length - 1) : new float[0];
                    double n = 0;
                    for (float f : r) n += f * f;
                    System.out.printf("%-34s shape %s, last-position norm %.4f%n", e.getKey(), Arrays.toString(e.getValue().shape()), Math.sqrt(n));
                }
            }
            return 0;
        } finally {
            if (chat != null) chat.close();
            else m.close();
        }
    }

    private static String quoted(Tokenizer t, int id) {
        return "'" + t.decode(new int[] {id}, false).replace("\n", "\\n") + "'";
    }

    /** Rows [pos][...] of batch 0 from position {@code from}; attention patterns keep [head][q][k]. */
    private static List<Object> rows(FloatTensor t, int from, int len) {
        List<Object> out = new ArrayList<>();
        if (t.shape().length == 3) {
            for (int p = from; p < len; p++) out.add(t.row(0, p));
        } else {
            int heads = t.dim(1);
            for (int h = 0; h < heads; h++) {
                List<float[]> q = new ArrayList<>();
                for (int p = from; p < len; p++) q.add(t.row(0, h, p));
                out.add(q);
            }
        }
        return out;
    }
}
