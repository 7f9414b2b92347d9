package dev.persona.cli;

import ai.djl.Device;
import dev.persona.model.ChatModel;
import dev.persona.model.HookedTransformer;
import dev.persona.model.Precision;
import dev.persona.model.io.LoraAdapter;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --dtype f32|bf16} option of the commands that run a model without training it. */
final class DTypeOption {
    @Option(names = "--dtype", paramLabel = "f32|bf16", defaultValue = "f32",
            description = {"Number format of the weights and linear layers (default ${DEFAULT-VALUE}).",
                "bf16 holds embeddings, output head and linear weights in bfloat16 (half the memory) and rounds each linear",
                "layer's input and output to it; residual stream, norms, attention and every hook stay float32."})
    String dtype;

    Precision precision() {
        return Precision.parse(dtype);
    }

    /** A chat model from {@code dir} (an adapter is merged onto its base) in this precision. */
    ChatModel chat(Path dir) {
        return ChatModel.load(dir, Device.cpu(), precision());
    }

    /** The adapter {@code adapter} merged onto {@code base}, in this precision. */
    ChatModel chatAdapted(Path base, Path adapter) {
        return ChatModel.loadAdapted(base, adapter, Device.cpu(), precision());
    }

    /** Weights only, in this precision. */
    HookedTransformer weights(Path dir) {
        return HookedTransformer.load(dir, Device.cpu(), false, precision());
    }

    /** Suffix for run identities (journals): empty in f32 so that earlier runs still resume. */
    String runSuffix() {
        return precision() == Precision.F32 ? "" : "|dtype=" + precision();
    }

    static boolean isAdapter(Path dir) {
        return LoraAdapter.isAdapter(dir);
    }
}
