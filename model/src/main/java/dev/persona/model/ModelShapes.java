package dev.persona.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Named shapes of real models, as config.json values, for benchmarks with random weights. */
public final class ModelShapes {
    private ModelShapes() { }

    private static final Map<String, String> SHAPES = new TreeMap<>(Map.of(
            "qwen2.5-0.5b", "{\"model_type\":\"qwen2\",\"hidden_size\":896,\"num_hidden_layers\":24,\"num_attention_heads\":14,"
                    + "\"num_key_value_heads\":2,\"intermediate_size\":4864,\"vocab_size\":151936,\"tie_word_embeddings\":true,"
                    + "\"rope_theta\":1000000.0,\"rms_norm_eps\":1e-6,\"max_position_embeddings\":32768}",
            "llama-3.2-1b", "{\"model_type\":\"llama\",\"hidden_size\":2048,\"num_hidden_layers\":16,\"num_attention_heads\":32,"
                    + "\"num_key_value_heads\":8,\"intermediate_size\":8192,\"vocab_size\":128256,\"tie_word_embeddings\":true,"
                    + "\"rope_theta\":500000.0,\"rms_norm_eps\":1e-5,\"max_position_embeddings\":131072,"
                    + "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":32.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                    + "\"original_max_position_embeddings\":8192}}",
            "smollm2-135m", "{\"model_type\":\"llama\",\"hidden_size\":576,\"num_hidden_layers\":30,\"num_attention_heads\":9,"
                    + "\"num_key_value_heads\":3,\"intermediate_size\":1536,\"vocab_size\":49152,\"tie_word_embeddings\":true,"
                    + "\"rope_theta\":100000.0,\"rms_norm_eps\":1e-5,\"max_position_embeddings\":8192}"));

    /** The known shape names. */
    public static List<String> names() {
        return List.copyOf(SHAPES.keySet());
    }

    /** The config of shape {@code name}; an unknown name lists the known ones. */
    public static ModelConfig config(String name) {
        String json = SHAPES.get(name);
        if (json == null) throw new PersonaException("unknown shape '" + name + "'", "known shapes: " + String.join(", ", names()));
        try {
            ObjectNode node = (ObjectNode) new ObjectMapper().readTree(json);
            return ModelConfig.parse(node, Path.of("shape:" + name));
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
