package dev.persona.cli;

import dev.persona.model.HookPoint;
import dev.persona.model.ModelConfig;
import dev.persona.model.io.Checkpoint;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona inspect}: what a model is and which hook points it has. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's family, shape, dtype, parameter count and hook names.")
final class InspectCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        ModelConfig c = ModelConfig.load(dir);
        String dtype;
        long stored;
        long bf16Bytes = 0;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            dtype = ckpt.storedDType().name();
            stored = ckpt.parameterCount();
            // --dtype bf16 holds 2-D tensors (embeddings, head, linear weights) in 2 bytes, the rest in 4
            for (String n : ckpt.names()) {
                long[] shape = ckpt.shape(n);
                long numel = 1;
                for (long d : shape) numel *= d;
                bf16Bytes += numel * (shape.length == 2 ? 2 : 4);
            }
        }
        List<HookPoint> hooks = HookPoint.all(c);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", dir.toString());
        out.put("family", c.family().modelType());
        out.put("layers", c.numLayers());
        out.put("d_model", c.dModel());
        out.put("heads", c.numHeads());
        out.put("kv_heads", c.numKvHeads());
        out.put("head_dim", c.headDim());
        out.put("d_mlp", c.dFF());
        out.put("vocab", c.vocabSize());
        out.put("dtype", dtype);
        out.put("parameters", stored);
        out.put("weight_bytes_f32", stored * 4);
        out.put("weight_bytes_bf16", bf16Bytes);
        out.put("tied_embeddings", c.tiedEmbeddings());
        out.put("rope_scaling", c.ropeScaling().type());
        Map<String, String> hookShapes = new LinkedHashMap<>();
        for (HookPoint h : hooks) hookShapes.put(h.name(), h.shape());
        out.put("hooks", hookShapes);
        if (json) {
            System.out.println(Json.write(out));
            return 0;
        }
        for (var e : out.entrySet()) {
            if (e.getKey().equals("hooks")) continue;
            System.out.printf("%-18s %s%n", e.getKey(), e.getValue());
        }
        System.out.println("hooks (" + hooks.size() + "):");
        for (HookPoint h : hooks) {
            if (h.name().startsWith("blocks.") && !h.name().startsWith("blocks.0.")) continue;
            System.out.printf("  %-34s %s%n", h.name(), h.shape());
        }
        if (c.numLayers() > 1) System.out.println("  ... and the same for blocks.1 .. blocks." + (c.numLayers() - 1));
        return 0;
    }

}
