package dev.persona.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.model.ActivationCache;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.FloatTensor;
import dev.persona.model.HookedTransformer;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One forward pass with hook captures, for comparison with other implementations: logits
 * [pos][vocab] and each hook's rows [pos][d] (attention patterns [head][q][k]) of batch 0, at every
 * position or only the last.
 */
public final class ForwardPass {
    private ForwardPass() { }

    /**
     * The input is exactly one of {@code ids} (token ids), {@code text} (raw text, no special tokens)
     * or {@code prompt} (a user message under {@code system}, rendered with the chat template and its
     * generation prompt); {@code hooks} are captured; {@code positions} is "all" or "last".
     */
    public record Options(int[] ids, String text, String prompt, String system, List<String> hooks, String positions) {
        public Options {
            int given = (ids != null ? 1 : 0) + (text != null ? 1 : 0) + (prompt != null ? 1 : 0);
            if (given != 1) throw new PersonaException("a forward pass needs exactly one input", "pass --ids, --text or --prompt");
            hooks = hooks == null ? List.of() : List.copyOf(hooks);
            if (positions == null) positions = "all";
            if (!positions.equals("all") && !positions.equals("last")) {
                throw new PersonaException("--positions '" + positions + "' is not all or last", "use --positions all or --positions last");
            }
        }
    }

    /** Token ids, the positions kept (null: all), logits rows, hook rows; and the argmax of the last position's logits. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Result(int[] inputIds, List<Integer> positions, List<Object> logits, Map<String, Object> hooks,
                         @JsonIgnore int nextTokenArgmax, @JsonIgnore float nextTokenLogit, @JsonIgnore String nextTokenText,
                         @JsonIgnore Map<String, long[]> hookShapes, @JsonIgnore Map<String, Double> lastPositionNorms) { }

    public static Result run(Path dir, Compute compute, Options o) {
        Path d = PersonaHome.modelDir(dir);
        Compute c = compute == null ? Compute.cpu() : compute;
        ChatModel chat = null;
        HookedTransformer m;
        int[] ids;
        if (o.ids() != null) {
            m = c.weights(d);
            ids = o.ids();
        } else {
            chat = c.chat(d);
            m = chat.model();
            ids = o.text() != null ? chat.tokenizer().encode(o.text()) : chat.encode(ChatMessage.prompt(o.system(), o.prompt()), true);
        }
        try {
            for (int id : ids) {
                if (id < 0 || id >= m.config().vocabSize()) {
                    throw new PersonaException("token id " + id + " is outside the vocabulary 0.." + (m.config().vocabSize() - 1), "pass ids the model knows");
                }
            }
            FloatTensor logits;
            Map<String, FloatTensor> captured = new LinkedHashMap<>();
            try (ActivationCache cache = m.capture(o.hooks())) {
                logits = m.forward(ids);
                for (String h : o.hooks()) captured.put(h, cache.get(h));
            }
            int from = o.positions().equals("last") ? ids.length - 1 : 0;
            Map<String, Object> hookRows = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            Map<String, Double> norms = new LinkedHashMap<>();
            for (var e : captured.entrySet()) {
                hookRows.put(e.getKey(), rows(e.getValue(), from, ids.length));
                shapes.put(e.getKey(), e.getValue().shape());
                float[] r = e.getValue().shape().length == 3 ? e.getValue().row(0, ids.length - 1) : new float[0];
                double n = 0;
                for (float f : r) n += f * f;
                norms.put(e.getKey(), Math.sqrt(n));
            }
            float[] last = logits.row(0, ids.length - 1);
            int best = 0;
            for (int i = 1; i < last.length; i++) if (last[i] > last[best]) best = i;
            String text = chat == null ? null : chat.tokenizer().decode(new int[] {best}, false);
            return new Result(ids, o.positions().equals("last") ? List.of(ids.length - 1) : null, rows(logits, from, ids.length), hookRows,
                    best, last[best], text, shapes, norms);
        } finally {
            if (chat != null) chat.close();
            else m.close();
        }
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
