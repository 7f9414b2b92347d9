package dev.persona.vectors;

import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import java.util.ArrayList;
import java.util.List;

/**
 * Scores training samples by how far their responses sit along a trait vector compared with what
 * the model itself would say: the projection difference (response-average projection of the
 * sample's response minus that of the base model's own greedy response to the same prompt), and the
 * cheap approximation without generation (response projection minus last-prompt projection).
 */
public final class Screen {
    private Screen() { }

    /**
     * @param index       sample index in the dataset
     * @param difference  projection difference (NaN without base responses)
     * @param cheap       response projection minus last-prompt projection
     * @param baseReply   the base model's greedy reply (null without base responses)
     */
    public record Score(int index, double difference, double cheap, String baseReply) { }

    /** Scores every conversation (each must end with an assistant turn). */
    public static List<Score> run(ChatModel model, List<List<ChatMessage>> data, float[] direction, int layer, boolean baseResponses,
                                  int maxTokens, java.util.function.BiConsumer<Integer, Integer> progress) {
        List<Monitor.Item> items = new ArrayList<>();
        for (List<ChatMessage> c : data) items.add(new Monitor.Item(c, null));
        List<Monitor.Row> rows = Monitor.run(model, items, direction, layer, false, null, "", null);
        List<String> replies = null;
        List<Monitor.Row> baseRows = null;
        if (baseResponses) {
            List<List<ChatMessage>> prompts = new ArrayList<>();
            for (List<ChatMessage> c : data) prompts.add(c.subList(0, c.size() - 1));
            replies = new ArrayList<>();
            for (int from = 0; from < prompts.size(); from += 32) {
                replies.addAll(model.reply(prompts.subList(from, Math.min(prompts.size(), from + 32)), GenerationOptions.greedy(maxTokens)));
                if (progress != null) progress.accept(Math.min(prompts.size(), from + 32), prompts.size());
            }
            List<Monitor.Item> baseItems = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                List<ChatMessage> c = new ArrayList<>(prompts.get(i));
                c.add(ChatMessage.assistant(replies.get(i)));
                baseItems.add(new Monitor.Item(c, null));
            }
            baseRows = Monitor.run(model, baseItems, direction, layer, false, null, "", null);
        }
        List<Score> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Monitor.Row r = rows.get(i);
            double diff = baseRows == null ? Double.NaN : r.response() - baseRows.get(i).response();
            out.add(new Score(i, diff, r.response() - r.promptLast(), replies == null ? null : replies.get(i)));
        }
        return out;
    }
}
