package dev.persona.cli;

import dev.persona.api.Compute;
import picocli.CommandLine.Option;

/**
 * Where and in what number format a command runs its model: {@code --dtype f32|bf16} and
 * {@code --device cpu|gpu[N]}, on every command that runs a model without training it.
 */
final class ComputeOption {
    @Option(names = "--dtype", paramLabel = "f32|bf16", defaultValue = "f32",
            description = "Number format of the weights and linear layers (default ${DEFAULT-VALUE}). bf16 holds embeddings, output head and linear weights in bfloat16 (half the memory) and rounds each linear layer's input and output to it; residual stream, norms, attention and every hook stay float32.")
    String dtype;

    @Option(names = "--device", paramLabel = "cpu|gpu[N]", defaultValue = "cpu",
            description = "Device the model runs on (default ${DEFAULT-VALUE}). gpu needs a CUDA build of PyTorch's native library on the classpath (Persona ships pytorch-native-cpu).")
    String device;

    /** The library's compute choice, refused with the fix when the device is unknown or unseen. */
    Compute compute() {
        return Compute.parse(dtype, device);
    }
}
