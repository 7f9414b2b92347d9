package dev.persona.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.persona.model.ChatModel;
import dev.persona.model.HookedTransformer;
import dev.persona.model.PersonaException;
import dev.persona.model.Precision;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where and in what number format a command runs its model: {@code --dtype f32|bf16} and
 * {@code --device cpu|gpu[N]}, on every command that runs a model without training it.
 */
final class ComputeOption {
    @Option(names = "--dtype", paramLabel = "f32|bf16", defaultValue = "f32",
            description = {"Number format of the weights and linear layers (default ${DEFAULT-VALUE}).",
                "bf16 holds embeddings, output head and linear weights in bfloat16 (half the memory) and rounds each linear",
                "layer's input and output to it; residual stream, norms, attention and every hook stay float32."})
    String dtype;

    @Option(names = "--device", paramLabel = "cpu|gpu[N]", defaultValue = "cpu",
            description = {"Device the model runs on (default ${DEFAULT-VALUE}). gpu needs a CUDA build of PyTorch's native",
                "library on the classpath (Persona ships pytorch-native-cpu)."})
    String device;

    Precision precision() {
        return Precision.parse(dtype);
    }

    /** The DJL device named by --device, refused with the fix when PyTorch cannot see it. */
    Device device() {
        Device d;
        try {
            d = Device.fromName(device.trim().toLowerCase(java.util.Locale.ROOT));
        } catch (RuntimeException e) {
            d = null;
        }
        if (d == null || !(d.isGpu() || Device.Type.CPU.equals(d.getDeviceType()))) {
            throw new PersonaException("unknown device '" + device + "'", "use --device cpu, gpu or gpuN (e.g. gpu1)");
        }
        if (d.isGpu()) {
            // "gpu" alone names the first GPU (DJL leaves its id at -1)
            if (d.getDeviceId() < 0) d = Device.gpu(0);
            int gpus = Engine.getEngine("PyTorch").getGpuCount();
            if (d.getDeviceId() >= gpus) {
                throw new PersonaException("--device " + device + ": PyTorch sees " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                        + (gpus == 0 ? " (this build's native library is pytorch-native-cpu, or no CUDA device is visible)" : ""),
                        gpus == 0 ? "use --device cpu, or run with a CUDA build of pytorch-native on the classpath and a visible GPU"
                                : "use --device gpu0 .. gpu" + (gpus - 1));
            }
        }
        return d;
    }

    /** A chat model from {@code dir} (an adapter is merged onto its base) on this device, in this precision. */
    ChatModel chat(Path dir) {
        Device d = device();
        return onDevice(d, () -> ChatModel.load(dir, d, precision()));
    }

    /** The adapter {@code adapter} merged onto {@code base}, on this device, in this precision. */
    ChatModel chatAdapted(Path base, Path adapter) {
        Device d = device();
        return onDevice(d, () -> ChatModel.loadAdapted(base, adapter, d, precision()));
    }

    /** Weights only, on this device, in this precision. */
    HookedTransformer weights(Path dir) {
        Device d = device();
        return onDevice(d, () -> HookedTransformer.load(dir, d, false, precision()));
    }

    /** Turns PyTorch's refusal of a device it was not built for into an error with the fix. */
    private <T> T onDevice(Device d, java.util.function.Supplier<T> load) {
        try {
            return load.get();
        } catch (ai.djl.engine.EngineException e) {
            if (!d.isGpu()) throw e;
            throw new PersonaException("--device " + device + ": " + e.getMessage(),
                    "use --device cpu, or run with a CUDA build of pytorch-native on the classpath", e);
        }
    }

    /** Suffix for run identities (journals): empty in f32 so that earlier runs still resume. */
    String runSuffix() {
        return precision() == Precision.F32 ? "" : "|dtype=" + precision();
    }
}
