package dev.persona.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A model's shape and family, read from a Hugging Face config.json in one place with explicit defaults.
 *
 * @param family      the family switches
 * @param dModel      residual width ({@code hidden_size})
 * @param numLayers   number of transformer blocks
 * @param numHeads    query heads
 * @param numKvHeads  key/value heads (GQA when fewer than numHeads)
 * @param headDim     per-head width
 * @param dFF         MLP hidden width
 * @param vocabSize   rows of the embedding
 * @param normEps     epsilon of every norm
 * @param ropeTheta   rotary base
 * @param ropeScaling rotary rescaling (NONE when absent)
 * @param maxPositions learned-position table size or advertised context length
 * @param tiedEmbeddings the output head reuses the token embedding
 * @param bosId       beginning-of-sequence id or -1
 * @param eosIds      end-of-sequence ids (may be empty)
 * @param torchDtype  config.json's torch_dtype (informational)
 * @param attention   score scaling, soft-capping and sliding windows (Gemma's; plain for the others)
 */
public record ModelConfig(
        FamilySpec family, int dModel, int numLayers, int numHeads, int numKvHeads, int headDim, int dFF,
        int vocabSize, double normEps, double ropeTheta, RopeScaling ropeScaling, int maxPositions,
        boolean tiedEmbeddings, int bosId, List<Integer> eosIds, String torchDtype, Attention attention) {

    /**
     * How attention scores and logits are shaped beyond the plain transformer.
     *
     * @param scale         multiplier of q . k (1/sqrt(head_dim) unless query_pre_attn_scalar says otherwise)
     * @param scoreSoftcap  scores become cap * tanh(scores / cap) before the mask; 0 = none
     * @param logitSoftcap  output logits become cap * tanh(logits / cap); 0 = none
     * @param slidingWindow keys further back than this many slots are hidden on sliding layers; 0 = none
     * @param slidingLayers which layers use the sliding window (empty = none)
     * @param slidingRopeTheta rotary base of the sliding layers, unscaled (Gemma 3's local base); 0 = the global rotary
     */
    public record Attention(double scale, double scoreSoftcap, double logitSoftcap, int slidingWindow, List<Boolean> slidingLayers,
                            double slidingRopeTheta) {
        /** Whether layer {@code l} attends through the sliding window. */
        public boolean sliding(int l) {
            return slidingWindow > 0 && l < slidingLayers.size() && slidingLayers.get(l);
        }
    }

    /** A family's reader: turns config.json into the family's switches. */
    private interface FamilyReader {
        FamilySpec read(JsonNode c);
    }

    private static final Map<String, FamilyReader> FAMILIES = new TreeMap<>(Map.of(
            "llama", c -> llamaLike("llama", c, c.path("attention_bias").asBoolean(false), false),
            "mistral", c -> llamaLike("mistral", c, false, false),
            "qwen2", c -> llamaLike("qwen2", c, true, false),
            "qwen3", c -> llamaLike("qwen3", c, c.path("attention_bias").asBoolean(false), true),
            "gemma", c -> new FamilySpec("gemma", FamilySpec.NormKind.RMS, FamilySpec.PositionKind.ROTARY, true,
                    activation(c.path("hidden_activation").asText(c.path("hidden_act").asText("gelu_pytorch_tanh"))), false, false, false, false,
                    1.0, true, false, WeightLayout.llamaStyle("model.")),
            "gemma3_text", c -> new FamilySpec("gemma3_text", FamilySpec.NormKind.RMS, FamilySpec.PositionKind.ROTARY, true,
                    activation(c.path("hidden_activation").asText("gelu_pytorch_tanh")), c.path("attention_bias").asBoolean(false),
                    c.path("attention_bias").asBoolean(false), false, true, 1.0, true, true, WeightLayout.gemma2Style("model.")),
            "gemma2", c -> new FamilySpec("gemma2", FamilySpec.NormKind.RMS, FamilySpec.PositionKind.ROTARY, true,
                    activation(c.path("hidden_activation").asText("gelu_pytorch_tanh")), c.path("attention_bias").asBoolean(false),
                    c.path("attention_bias").asBoolean(false), false, false, 1.0, true, true, WeightLayout.gemma2Style("model.")),
            "gpt2", c -> new FamilySpec("gpt2", FamilySpec.NormKind.LAYER, FamilySpec.PositionKind.LEARNED, false,
                    activation(c.path("activation_function").asText("gelu_new")), true, true, true, false, 0.0, false, false,
                    WeightLayout.gpt2Style("transformer."))));

    private static FamilySpec llamaLike(String type, JsonNode c, boolean qkvBias, boolean qkNorm) {
        boolean mlpBias = c.path("mlp_bias").asBoolean(false);
        boolean outBias = type.equals("llama") && c.path("attention_bias").asBoolean(false);
        return new FamilySpec(type, FamilySpec.NormKind.RMS, FamilySpec.PositionKind.ROTARY, true,
                activation(c.path("hidden_act").asText("silu")), qkvBias, outBias, mlpBias, qkNorm, 0.0, false, false,
                WeightLayout.llamaStyle("model."));
    }

    private static FamilySpec.Activation activation(String name) {
        return switch (name) {
            case "silu", "swish" -> FamilySpec.Activation.SILU;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> FamilySpec.Activation.GELU_TANH;
            case "gelu" -> FamilySpec.Activation.GELU;
            default -> throw new PersonaException("activation '" + name + "' is not supported",
                    "Persona supports silu, gelu, gelu_new and gelu_pytorch_tanh");
        };
    }

    /** The model_type values Persona can run. */
    public static List<String> supportedTypes() {
        List<String> types = new ArrayList<>(FAMILIES.keySet());
        types.add("gemma3");
        java.util.Collections.sort(types);
        return types;
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new PersonaException("no config.json in " + dir, "point --model at a Hugging Face model directory (config.json, *.safetensors, tokenizer.json)");
        }
        try {
            return parse(new ObjectMapper().readTree(file.toFile()), file);
        } catch (IOException e) {
            throw new PersonaException(file + " is not valid JSON: " + e.getMessage(), "fix or regenerate config.json", e);
        }
    }

    /** Parses a config.json tree; {@code file} names it in errors. */
    public static ModelConfig parse(JsonNode c, Path file) {
        String type = c.path("model_type").asText("");
        if (type.equals("gemma3")) return gemma3Wrapper(c, file);
        FamilyReader reader = FAMILIES.get(type);
        if (reader == null) {
            throw new PersonaException(file + ": model_type '" + type + "' is not supported",
                    "supported model types: " + String.join(", ", supportedTypes()));
        }
        FamilySpec family = reader.read(c);
        boolean gpt2 = family.positions() == FamilySpec.PositionKind.LEARNED;
        int d = require(c, gpt2 ? "n_embd" : "hidden_size", file);
        int layers = require(c, gpt2 ? "n_layer" : "num_hidden_layers", file);
        int heads = require(c, gpt2 ? "n_head" : "num_attention_heads", file);
        int kv = c.path("num_key_value_heads").isNumber() ? c.get("num_key_value_heads").asInt() : heads;
        int headDim = c.path("head_dim").isNumber() ? c.get("head_dim").asInt() : d / heads;
        int ff = gpt2 ? (c.path("n_inner").isNumber() ? c.get("n_inner").asInt() : 4 * d) : require(c, "intermediate_size", file);
        int vocab = require(c, "vocab_size", file);
        double eps = gpt2 ? c.path("layer_norm_epsilon").asDouble(1e-5) : c.path("rms_norm_eps").asDouble(1e-6);
        // rope_theta may live at the top level or (transformers 5) inside rope_parameters
        JsonNode ropeParams = c.path("rope_parameters");
        // Gemma 3 keeps one set per layer type; the full-attention set is the model's global rotary
        if (ropeParams.has("full_attention")) ropeParams = ropeParams.get("full_attention");
        double theta = c.path("rope_theta").asDouble(ropeParams.path("rope_theta").asDouble(10000.0));
        RopeScaling scaling = ropeScaling(c.path("rope_scaling").isObject() ? c.get("rope_scaling") : ropeParams, file);
        int maxPos = c.path(gpt2 ? "n_positions" : "max_position_embeddings").asInt(2048);
        boolean tied = c.path("tie_word_embeddings").asBoolean(gpt2 || type.startsWith("gemma"));
        if (heads % kv != 0) {
            throw new PersonaException(file + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kv,
                    "fix config.json");
        }
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.path("eos_token_id");
        if (e.isArray()) e.forEach(x -> eos.add(x.asInt()));
        else if (e.isNumber()) eos.add(e.asInt());
        return new ModelConfig(family, d, layers, heads, kv, headDim, ff, vocab, eps, theta, scaling, maxPos, tied,
                c.path("bos_token_id").asInt(-1), List.copyOf(eos), c.path("torch_dtype").asText(c.path("dtype").asText("float32")),
                attention(c, layers, headDim));
    }

    /** Gemma 2's query_pre_attn_scalar, soft-caps and sliding window; the plain transformer for every other config. */
    private static Attention attention(JsonNode c, int layers, int headDim) {
        double scale = 1.0 / Math.sqrt(c.path("query_pre_attn_scalar").isNumber() ? c.get("query_pre_attn_scalar").asDouble() : headDim);
        String type = c.path("model_type").asText();
        boolean gemma = type.equals("gemma2") || type.equals("gemma3_text");
        if (c.path("use_bidirectional_attention").asBoolean(false)) {
            throw new PersonaException("config.json: use_bidirectional_attention is true (an embedding model, not a causal LM)",
                    "point --model at a causal language model");
        }
        int window = c.path("sliding_window").isNumber() && gemma ? c.get("sliding_window").asInt() : 0;
        List<Boolean> sliding = new ArrayList<>();
        JsonNode types = c.path("layer_types");
        for (int l = 0; l < layers; l++) {
            // transformers' defaults: Gemma 2 slides on even layers; Gemma 3 on five of every six (pattern 6)
            int pattern = type.equals("gemma3_text") ? c.path("sliding_window_pattern").asInt(6) : 2;
            sliding.add(window > 0 && (types.isArray() ? "sliding_attention".equals(types.path(l).asText()) : (l + 1) % pattern != 0));
        }
        double local = c.path("rope_parameters").path("sliding_attention").path("rope_theta").asDouble(c.path("rope_local_base_freq").asDouble(0));
        return new Attention(scale, c.path("attn_logit_softcapping").asDouble(0), c.path("final_logit_softcapping").asDouble(0),
                window, List.copyOf(sliding), type.equals("gemma3_text") ? local : 0);
    }

    /**
     * Gemma 3 4B and up: the multimodal wrapper. Its text_config is a gemma3_text config (top-level
     * token ids and tying fill what it leaves out) and its language model's weights sit under
     * {@code language_model.model.}; the vision tower is never read.
     */
    private static ModelConfig gemma3Wrapper(JsonNode c, Path file) {
        if (!c.path("text_config").isObject()) {
            throw new PersonaException(file + ": model_type gemma3 without a text_config object", "use the model's own config.json");
        }
        com.fasterxml.jackson.databind.node.ObjectNode text = ((com.fasterxml.jackson.databind.node.ObjectNode) c.get("text_config")).deepCopy();
        text.put("model_type", "gemma3_text");
        for (String k : new String[] {"tie_word_embeddings", "eos_token_id", "bos_token_id", "torch_dtype", "dtype"}) {
            if (!text.has(k) && c.has(k)) text.set(k, c.get(k));
        }
        ModelConfig t = parse(text, file);
        FamilySpec f = t.family();
        FamilySpec wrapped = new FamilySpec("gemma3", f.norm(), f.positions(), f.gatedMlp(), f.activation(), f.qkvBias(), f.outBias(),
                f.mlpBias(), f.qkNorm(), f.normOffset(), f.embedScale(), f.sandwichNorms(), WeightLayout.gemma2Style("language_model.model."));
        return new ModelConfig(wrapped, t.dModel(), t.numLayers(), t.numHeads(), t.numKvHeads(), t.headDim(), t.dFF(), t.vocabSize(),
                t.normEps(), t.ropeTheta(), t.ropeScaling(), t.maxPositions(), t.tiedEmbeddings(), t.bosId(), t.eosIds(), t.torchDtype(),
                t.attention());
    }

    private static RopeScaling ropeScaling(JsonNode r, Path file) {
        if (r == null || !r.isObject()) return RopeScaling.NONE;
        String type = r.path("rope_type").asText(r.path("type").asText("default"));
        if (type.equals("default")) return RopeScaling.NONE;
        if (!r.path("factor").isNumber()) {
            throw new PersonaException(file + ": rope_scaling of type " + type + " has no factor", "add rope_scaling.factor");
        }
        return new RopeScaling(type, r.get("factor").asDouble(), r.path("low_freq_factor").asDouble(1),
                r.path("high_freq_factor").asDouble(4), r.path("original_max_position_embeddings").asInt(8192));
    }

    private static int require(JsonNode c, String key, Path file) {
        if (!c.path(key).isNumber()) {
            throw new PersonaException(file + ": missing numeric '" + key + "'", "add " + key + " to config.json");
        }
        return c.get(key).asInt();
    }

    /** Total query width: numHeads * headDim. */
    public int qWidth() {
        return numHeads * headDim;
    }

    /** Total key/value width: numKvHeads * headDim. */
    public int kvWidth() {
        return numKvHeads * headDim;
    }
}
