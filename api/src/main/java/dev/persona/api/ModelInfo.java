package dev.persona.api;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.persona.model.HookPoint;
import dev.persona.model.ModelConfig;
import dev.persona.model.io.Checkpoint;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@code persona inspect} shows of a model directory without loading its weights: family and
 * shape, stored dtype, parameter count, the bytes its weights take in float32 and with
 * {@code --dtype bf16} (2-D tensors in 2 bytes), and every hook with its shape.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ModelInfo(String model, String family, int layers, int dModel, int heads, int kvHeads, int headDim, int dMlp, int vocab,
                        String dtype, long parameters, long weightBytesF32, long weightBytesBf16, boolean tiedEmbeddings, String ropeScaling,
                        Map<String, String> hooks) {

    /** Reads config.json and the safetensors headers of {@code dir} (null: the organism). */
    public static ModelInfo of(Path dir) {
        Path d = PersonaHome.modelDir(dir);
        ModelConfig c = ModelConfig.load(d);
        String dtype;
        long stored, bf16Bytes = 0;
        try (Checkpoint ckpt = Checkpoint.open(d)) {
            dtype = ckpt.storedDType().name();
            stored = ckpt.parameterCount();
            // --dtype bf16 holds 2-D tensors (embeddings, head, linear weights) in 2 bytes, the rest in 4
            for (String n : ckpt.names()) {
                long[] shape = ckpt.shape(n);
                long numel = 1;
                for (long s : shape) numel *= s;
                bf16Bytes += numel * (shape.length == 2 ? 2 : 4);
            }
        }
        Map<String, String> hooks = new LinkedHashMap<>();
        for (HookPoint h : HookPoint.all(c)) hooks.put(h.name(), h.shape());
        return new ModelInfo(d.toString(), c.family().modelType(), c.numLayers(), c.dModel(), c.numHeads(), c.numKvHeads(), c.headDim(), c.dFF(),
                c.vocabSize(), dtype, stored, stored * 4, bf16Bytes, c.tiedEmbeddings(), c.ropeScaling().type(), hooks);
    }
}
