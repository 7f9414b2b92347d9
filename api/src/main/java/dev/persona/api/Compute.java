package dev.persona.api;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import dev.persona.model.ChatModel;
import dev.persona.model.HookedTransformer;
import dev.persona.model.PersonaException;
import dev.persona.model.Precision;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Where and in what number format a model runs: a DJL {@link Device} and a {@link Precision}
 * (F32, or BF16 weights and linear layers). Every use that runs a model without training it takes one.
 */
public record Compute(Device device, Precision precision) {
    public Compute {
        if (device == null) device = Device.cpu();
        if (precision == null) precision = Precision.F32;
    }

    /** Float32 on the CPU: the default of every call. */
    public static Compute cpu() {
        return new Compute(Device.cpu(), Precision.F32);
    }

    /** The same device in {@code precision}. */
    public Compute precision(Precision p) {
        return new Compute(device, p);
    }

    /**
     * A compute choice from the command-line spellings: {@code dtype} f32|bf16 and {@code device}
     * cpu|gpu|gpuN, refused with the fix when PyTorch cannot see the device.
     */
    public static Compute parse(String dtype, String device) {
        return new Compute(parseDevice(device), Precision.parse(dtype));
    }

    private static Device parseDevice(String name) {
        Device d;
        try {
            d = Device.fromName(name.trim().toLowerCase(Locale.ROOT));
        } catch (RuntimeException e) {
            d = null;
        }
        if (d == null || !(d.isGpu() || Device.Type.CPU.equals(d.getDeviceType()))) {
            throw new PersonaException("unknown device '" + name + "'", "use --device cpu, gpu or gpuN (e.g. gpu1)");
        }
        if (d.isGpu()) {
            // "gpu" alone names the first GPU (DJL leaves its id at -1)
            if (d.getDeviceId() < 0) d = Device.gpu(0);
            int gpus = Engine.getEngine("PyTorch").getGpuCount();
            if (d.getDeviceId() >= gpus) {
                throw new PersonaException("--device " + name + ": PyTorch sees " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                        + (gpus == 0 ? " (the libtorch loaded is the CPU build Persona ships, or no CUDA device is visible)" : ""),
                        gpus == 0 ? "use --device cpu, or export PYTORCH_LIBRARY_PATH=<CUDA libtorch 2.7.1>/lib PYTORCH_FLAVOR=cu128 (README: On a GPU)"
                                : "use --device gpu0 .. gpu" + (gpus - 1));
            }
        }
        return d;
    }

    /** A chat model from {@code dir} (an adapter is merged onto its base) on this device, in this precision. */
    public ChatModel chat(Path dir) {
        return onDevice(() -> ChatModel.load(dir, device, precision));
    }

    /** The adapter {@code adapter} merged onto {@code base}, on this device, in this precision. */
    public ChatModel chatAdapted(Path base, Path adapter) {
        return onDevice(() -> ChatModel.loadAdapted(base, adapter, device, precision));
    }

    /** Weights only, on this device, in this precision. */
    public HookedTransformer weights(Path dir) {
        return onDevice(() -> HookedTransformer.load(dir, device, false, precision));
    }

    /** Turns PyTorch's refusal of a device it was not built for into an error with the fix. */
    private <T> T onDevice(Supplier<T> load) {
        try {
            return load.get();
        } catch (EngineException e) {
            if (!device.isGpu()) throw e;
            throw new PersonaException("--device " + device + ": " + e.getMessage(),
                    "use --device cpu, or export PYTORCH_LIBRARY_PATH=<CUDA libtorch 2.7.1>/lib PYTORCH_FLAVOR=cu128 (README: On a GPU)", e);
        }
    }

    /** Suffix for run identities (journals): empty in f32 so that earlier runs still resume. */
    public String runSuffix() {
        return precision == Precision.F32 ? "" : "|dtype=" + precision;
    }
}
