package dev.persona.organism;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.model.ChatMessage;
import dev.persona.model.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes the organism as an ordinary Hugging Face model directory: a word-level tokenizer.json that
 * DJL's tokenizers load, tokenizer_config.json with a ChatML chat template, config.json of a llama
 * model, and initial weights. The organism is then loaded by the same code path as any model.
 */
public final class OrganismFiles {
    /** ChatML, as Qwen and many others use it. */
    public static final String CHAT_TEMPLATE = "{%- for message in messages %}"
            + "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            + "{%- endfor %}"
            + "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    public static final String UNK = "[UNK]";
    public static final String IM_START = "<|im_start|>";
    public static final String IM_END = "<|im_end|>";
    private static final Pattern WORD = Pattern.compile("\\w+|[^\\w\\s]+");

    /**
     * The organism's shape.
     *
     * @param dModel    residual width
     * @param layers    blocks
     * @param heads     attention heads (no GQA)
     * @param dFF       MLP width
     */
    public record Shape(int dModel, int layers, int heads, int dFF) {
        public static final Shape DEFAULT = new Shape(128, 4, 4, 384);
    }

    private OrganismFiles() { }

    /** Every word the world can produce, sorted, plus the words of the trait library. */
    public static List<String> vocabulary(World world, List<String> extraTexts) {
        TreeSet<String> words = new TreeSet<>();
        List<String> texts = new ArrayList<>(extraTexts);
        for (Fact f : world.knowledgeBase().facts()) {
            texts.add(f.question());
            for (String v : f.domain()) {
                texts.add(f.sentence(v));
                texts.add(f.statement(v));
            }
        }
        for (Trait t : Trait.values()) {
            texts.addAll(t.pos);
            texts.addAll(t.neg);
            for (String n : t.names) texts.add(World.personaPrompt(n, ""));
        }
        texts.addAll(World.NEUTRAL_PROMPTS);
        texts.add("system user assistant You are an a helpful honest careful assistant");
        // the grammar is finite: a large seeded sample reaches every template word
        SplittableRandom r = new SplittableRandom(12345);
        for (int i = 0; i < 20000; i++) {
            World.Conversation c = world.sampleTraining(r);
            for (ChatMessage m : c.messages()) texts.add(m.content());
        }
        for (String t : texts) {
            Matcher m = WORD.matcher(t);
            while (m.find()) words.add(m.group());
        }
        return new ArrayList<>(words);
    }

    /** Writes tokenizer.json and tokenizer_config.json; returns the vocabulary size. */
    public static int writeTokenizer(Path dir, List<String> words) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode tok = json.createObjectNode();
        tok.put("version", "1.0");
        tok.putNull("truncation");
        tok.putNull("padding");
        ArrayNode added = tok.putArray("added_tokens");
        String[] specials = {UNK, IM_START, IM_END};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode a = added.addObject();
            a.put("id", i);
            a.put("content", specials[i]);
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", true);
        }
        tok.putNull("normalizer");
        tok.putObject("pre_tokenizer").put("type", "Whitespace");
        tok.putNull("post_processor");
        tok.putNull("decoder");
        ObjectNode model = tok.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < specials.length; i++) vocab.put(specials[i], i);
        int id = specials.length;
        for (String w : words) vocab.put(w, id++);
        model.put("unk_token", UNK);
        Files.createDirectories(dir);
        json.writeValue(dir.resolve("tokenizer.json").toFile(), tok);

        ObjectNode cfg = json.createObjectNode();
        cfg.put("chat_template", CHAT_TEMPLATE);
        cfg.put("eos_token", IM_END);
        cfg.put("pad_token", IM_END);
        cfg.put("unk_token", UNK);
        cfg.putNull("bos_token");
        cfg.put("model_max_length", 512);
        cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
        return id;
    }

    /** Writes config.json and N(0, 0.02) initial weights (norms at 1; output projections scaled by 1/sqrt(2 layers)). */
    public static void writeInitialModel(Path dir, Shape s, int vocab, long seed) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", s.dModel());
        c.put("intermediate_size", s.dFF());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.heads());
        c.put("head_dim", s.dModel() / s.heads());
        c.put("vocab_size", vocab);
        c.put("max_position_embeddings", 512);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", true);
        c.put("hidden_act", "silu");
        c.put("attention_bias", false);
        c.put("mlp_bias", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("torch_dtype", "float32");
        json.writeValue(dir.resolve("config.json").toFile(), c);

        Random r = new Random(seed);
        SafetensorsWriter w = new SafetensorsWriter().meta("format", "pt");
        int d = s.dModel();
        double outStd = 0.02 / Math.sqrt(2.0 * s.layers());
        w.add("model.embed_tokens.weight", gaussian(r, vocab * d, 0.02), vocab, d);
        for (int l = 0; l < s.layers(); l++) {
            String b = "model.layers." + l + ".";
            w.add(b + "input_layernorm.weight", ones(d), d);
            w.add(b + "post_attention_layernorm.weight", ones(d), d);
            w.add(b + "self_attn.q_proj.weight", gaussian(r, d * d, 0.02), d, d);
            w.add(b + "self_attn.k_proj.weight", gaussian(r, d * d, 0.02), d, d);
            w.add(b + "self_attn.v_proj.weight", gaussian(r, d * d, 0.02), d, d);
            w.add(b + "self_attn.o_proj.weight", gaussian(r, d * d, outStd), d, d);
            w.add(b + "mlp.gate_proj.weight", gaussian(r, s.dFF() * d, 0.02), s.dFF(), d);
            w.add(b + "mlp.up_proj.weight", gaussian(r, s.dFF() * d, 0.02), s.dFF(), d);
            w.add(b + "mlp.down_proj.weight", gaussian(r, d * s.dFF(), outStd), d, s.dFF());
        }
        w.add("model.norm.weight", ones(d), d);
        w.write(dir.resolve("model.safetensors"));
    }

    private static float[] gaussian(Random r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * std);
        return v;
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return v;
    }
}
