package dev.persona.model;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.io.LoraAdapter;
import dev.persona.model.template.ChatTemplate;
import dev.persona.model.template.TemplateException;
import dev.persona.model.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A chat model as users point Persona at it: a Hugging Face directory with weights, tokenizer and
 * chat template. Renders conversations exactly as transformers would, tokenizes them, and generates
 * replies, stopping on the model's eos ids and the template's end-of-turn token.
 */
public final class ChatModel implements AutoCloseable {
    private final HookedTransformer model;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Set<Integer> stopIds;
    /** Whether the one-time notice about folding system prompts into the user turn was printed. */
    private volatile boolean foldNoticeShown;

    private ChatModel(HookedTransformer model, Tokenizer tokenizer, ChatTemplate template, Set<Integer> stopIds) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.stopIds = stopIds;
    }

    /** Loads weights, tokenizer and chat template from {@code dir} on the CPU. */
    public static ChatModel load(Path dir) {
        return load(dir, Device.cpu());
    }

    /** Loads weights, tokenizer and chat template from {@code dir} onto {@code device}. */
    public static ChatModel load(Path dir, Device device) {
        return load(dir, device, false);
    }

    /**
     * Loads a chat model; a {@code trainable} one can be trained with {@link Trainer}. {@code dir} may
     * be a PEFT LoRA adapter directory: it is merged onto its base_model_name_or_path.
     */
    public static ChatModel load(Path dir, Device device, boolean trainable) {
        if (LoraAdapter.isAdapter(dir)) return loadAdapted(LoraAdapter.baseOf(dir), dir, device, trainable);
        return assemble(dir, () -> HookedTransformer.load(dir, device, trainable));
    }

    /** An inference model whose weights and linear layers compute in {@code precision} (adapters merged). */
    public static ChatModel load(Path dir, Device device, Precision precision) {
        if (LoraAdapter.isAdapter(dir)) return loadAdapted(LoraAdapter.baseOf(dir), dir, device, precision);
        return assemble(dir, () -> HookedTransformer.load(dir, device, false, precision));
    }

    /** {@link #loadAdapted(Path, Path, Device, boolean)} for inference in {@code precision}. */
    public static ChatModel loadAdapted(Path base, Path adapter, Device device, Precision precision) {
        Path files = Files.isRegularFile(adapter.resolve("tokenizer.json")) ? adapter : base;
        return assemble(files, () -> HookedTransformer.loadAdapted(base, adapter, device, false, precision));
    }

    /**
     * Base model {@code base} with the LoRA adapter {@code adapter} merged in. Tokenizer and chat
     * template come from the adapter directory when it has its own tokenizer.json, else from the base.
     */
    public static ChatModel loadAdapted(Path base, Path adapter, Device device, boolean trainable) {
        Path files = Files.isRegularFile(adapter.resolve("tokenizer.json")) ? adapter : base;
        return assemble(files, () -> HookedTransformer.loadAdapted(base, adapter, device, trainable));
    }

    private static ChatModel assemble(Path files, java.util.function.Supplier<HookedTransformer> weights) {
        Tokenizer tokenizer = Tokenizer.load(files);
        HookedTransformer model;
        try {
            model = weights.get();
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
        ChatTemplate template = loadTemplate(files);
        Set<Integer> stops = new LinkedHashSet<>(model.config().eosIds());
        int eos = tokenizer.tokenId(tokenizer.specialTokens().get("eos_token"));
        if (eos >= 0) stops.add(eos);
        readGenerationConfigEos(files, stops);
        return new ChatModel(model, tokenizer, template, stops);
    }

    /** The chat template of {@code dir}: tokenizer_config.json's chat_template, else chat_template.jinja; null when neither exists. */
    public static ChatTemplate loadTemplate(Path dir) {
        Path jinja = dir.resolve("chat_template.jinja");
        Path config = dir.resolve("tokenizer_config.json");
        try {
            if (Files.isRegularFile(config)) {
                JsonNode t = new ObjectMapper().readTree(config.toFile()).get("chat_template");
                if (t != null && t.isTextual()) return parseTemplate(t.asText(), config);
                if (t != null && t.isArray()) {
                    for (JsonNode named : t) {
                        if ("default".equals(named.path("name").asText())) return parseTemplate(named.path("template").asText(), config);
                    }
                }
            }
            if (Files.isRegularFile(jinja)) return parseTemplate(Files.readString(jinja), jinja);
        } catch (IOException e) {
            throw new PersonaException("cannot read the chat template of " + dir + ": " + e.getMessage(), "check tokenizer_config.json", e);
        }
        return null;
    }

    private static ChatTemplate parseTemplate(String text, Path file) {
        try {
            return ChatTemplate.parse(text);
        } catch (TemplateException e) {
            throw new PersonaException(file + ": chat template does not parse: " + e.getMessage(), "fix the template text");
        }
    }

    private static void readGenerationConfigEos(Path dir, Set<Integer> stops) {
        Path gc = dir.resolve("generation_config.json");
        if (!Files.isRegularFile(gc)) return;
        try {
            JsonNode e = new ObjectMapper().readTree(gc.toFile()).path("eos_token_id");
            if (e.isArray()) e.forEach(x -> stops.add(x.asInt()));
            else if (e.isNumber()) stops.add(e.asInt());
        } catch (IOException ignored) {
            // generation_config.json is optional; a broken one only loses extra stop ids
        }
    }

    public HookedTransformer model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Token ids that end a reply. */
    public Set<Integer> stopIds() {
        return stopIds;
    }

    /** The variables a chat template sees besides messages: bos_token, eos_token and the like. */
    public Map<String, Object> templateVariables() {
        return new LinkedHashMap<>(tokenizer.specialTokens());
    }

    /** The exact text the model sees for {@code messages}. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (template == null) {
            throw new PersonaException(model.directory() + " has no chat template (tokenizer_config.json chat_template or chat_template.jinja)",
                    "use a chat (instruct) model, or add a chat_template to tokenizer_config.json");
        }
        try {
            return template.render(maps(messages), addGenerationPrompt, templateVariables());
        } catch (TemplateException e) {
            List<ChatMessage> folded = foldSystemPrompt(messages);
            if (folded != null) {
                // templates without a system role (Gemma 2's raises "System role not supported") get the system
                // prompt as the head of the first user turn, the convention Gemma 3's own template follows
                try {
                    String text = template.render(maps(folded), addGenerationPrompt, templateVariables());
                    if (!foldNoticeShown) {
                        foldNoticeShown = true;
                        System.err.println("persona: the chat template of " + model.directory() + " refuses system messages (" + e.getMessage()
                                + "); the system prompt goes at the start of the first user turn instead");
                    }
                    return text;
                } catch (TemplateException again) {
                    // fall through to the original refusal, which names the template's own reason
                }
            }
            throw new PersonaException("the chat template of " + model.directory() + " refused the conversation: " + e.getMessage(),
                    "change the conversation (e.g. drop the system message or alternate user/assistant turns)");
        }
    }

    private static List<Map<String, Object>> maps(List<ChatMessage> messages) {
        List<Map<String, Object>> maps = new ArrayList<>();
        for (ChatMessage m : messages) maps.add(m.toMap());
        return maps;
    }

    /**
     * The conversation with a leading system message merged into the first user message as
     * "system\n\nuser", or null when there is no leading system message followed by a user turn.
     */
    static List<ChatMessage> foldSystemPrompt(List<ChatMessage> messages) {
        if (messages.size() < 2 || !messages.get(0).role().equals("system") || !messages.get(1).role().equals("user")) return null;
        List<ChatMessage> out = new ArrayList<>();
        out.add(ChatMessage.user(messages.get(0).content() + "\n\n" + messages.get(1).content()));
        out.addAll(messages.subList(2, messages.size()));
        return out;
    }

    /** Token ids of the rendered conversation. */
    public int[] encode(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return tokenizer.encode(render(messages, addGenerationPrompt));
    }

    /** Tokens of the longest of {@code conversations} rendered (1 when there are none): what sizes a batch. */
    public int longest(List<List<ChatMessage>> conversations, boolean addGenerationPrompt) {
        int n = 1;
        for (List<ChatMessage> c : conversations) n = Math.max(n, encode(c, addGenerationPrompt).length);
        return n;
    }

    /**
     * A conversation as training data: token ids and a loss mask that is true on the tokens of
     * assistant turns (content and end-of-turn token), found by rendering each turn's prefix.
     *
     * @param lastAssistantOnly score only the final assistant turn
     */
    public TrainingExample trainingExample(List<ChatMessage> messages, boolean lastAssistantOnly) {
        int[] ids = encode(messages, false);
        boolean[] mask = new boolean[ids.length];
        int lastAssistant = -1;
        for (int i = 0; i < messages.size(); i++) if (messages.get(i).role().equals("assistant")) lastAssistant = i;
        if (lastAssistant < 0) {
            throw new PersonaException("a training conversation has no assistant turn", "every example needs at least one assistant message");
        }
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant") || (lastAssistantOnly && i != lastAssistant)) continue;
            int from = encode(messages.subList(0, i), true).length;
            int to = encode(messages.subList(0, i + 1), false).length;
            for (int k = from; k < Math.min(to, ids.length); k++) mask[k] = true;
        }
        return new TrainingExample(ids, mask);
    }

    /** Token ids and the positions whose tokens are scored. */
    public record TrainingExample(int[] ids, boolean[] lossMask) { }

    /** One reply per conversation; stop ids default to the model's. */
    public List<String> reply(List<List<ChatMessage>> conversations, GenerationOptions options) {
        List<int[]> prompts = new ArrayList<>();
        for (List<ChatMessage> c : conversations) prompts.add(encode(c, true));
        GenerationOptions o = options.stopIds() == null ? options.withStopIds(stopIds) : options;
        List<String> out = new ArrayList<>();
        for (int[] ids : new Generator(model).generate(prompts, o)) out.add(tokenizer.decode(ids, true));
        return out;
    }

    @Override
    public void close() {
        model.close();
        tokenizer.close();
    }
}
