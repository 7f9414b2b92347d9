package dev.persona.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import dev.persona.model.WeightLayout.Name;
import dev.persona.model.io.Checkpoint;
import dev.persona.model.io.LoraAdapter;
import dev.persona.model.io.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A decoder-only transformer over DJL NDArrays (PyTorch engine) with TransformerLens-style hook
 * points. One forward pass serves every family; the {@link FamilySpec} switches decide norms,
 * positions, biases and MLP shape. Weights live in one long-lived manager; each pass runs in a
 * sub-manager closed at its end, and results leave as {@link FloatTensor}s.
 *
 * <p>Interventions and captures are registered on the instance and undone when their handle is
 * closed ({@code try (var h = model.intervene(...)) { ... }}). A model is not safe for concurrent
 * forward passes.
 */
public final class HookedTransformer implements AutoCloseable {
    /** Additive attention mask value for hidden keys: finite, so fully masked padding rows never yield NaN. */
    private static final float MASKED = -1e9f;
    /**
     * Up to this many rows (batch x positions) a linear layer of a model at least {@link #SKINNY_MIN_WIDTH}
     * wide runs as W . x^T: CPU BLAS is 1.4-1.6x faster that way for skinny inputs against large
     * weights (decode steps, the LM head of a decode step), while x . W^T wins for prefill-sized inputs
     * (measured in docs/BENCHMARKS.md).
     */
    private static final long FEW_ROWS = 64;

    /**
     * Narrower models get no views and keep x . W^T for every product: against small weights (the
     * organism's 128 x 384) it is 2-5x faster than W . x^T at 8-64 rows (docs/BENCHMARKS.md).
     */
    static final int SKINNY_MIN_WIDTH = 512;

    private final ModelConfig config;
    private final Path dir;
    private final NDManager manager;
    /** Weights by canonical name; see {@link #key}. Linear weights are [out, in]. */
    private final Map<String, NDArray> weights;
    /**
     * Views of the linear weights (sharing their storage) owned by an uncapped manager, so that a
     * product with the weight as first operand (whose result DJL places in the first operand's
     * manager) does not attach to the capped weights' manager; each result moves to the caller's
     * manager at once. Null for trainable models, where gradients must flow into the weights.
     */
    private final NDManager viewManager;
    private final Map<String, NDArray> views;
    /**
     * The linear weights' decoding path ({@link Gemv}: passes of at most {@link #gemvRows} rows
     * streamed on every core); empty for trainable and narrow models, or without the vector API.
     */
    private final Map<String, Gemv> gemvs;
    /**
     * Linear weights held as column panels ({@link Gemv#panel}; their {@link #weights} entry is the
     * [panels, out, width] array), by weight key: on the kernel, weights wider than the panel width.
     */
    private final Map<String, Panels> panels;
    /**
     * Each layer's q|k|v and gate|up products stacked into one kernel pass ({@link Gemv#stack}),
     * under {@link #QKV} or {@link #GATE_UP} plus the layer; empty when the model does not decode
     * on the kernel.
     */
    private final Map<String, Gemv> stacked;
    /** The biases of stacked products as Java floats (added on the Java side), by weight key. */
    private final Map<String, float[]> stackedBiases;
    /** RMSNorm weights as Java floats, by weight key, for norms computed on the Java side ({@link #floats(Normed)}). */
    private final Map<String, float[]> normWeights = new java.util.concurrent.ConcurrentHashMap<>();
    private final int gemvRows;
    /** BF16 arithmetic when the 2-D weights are held in BF16 ({@link Precision#BF16}); null in F32. */
    private final Bf16Kernels bf16;
    private final float[] invFreq;
    /** Rotary frequencies of sliding-window layers with their own base (Gemma 3); null when they share invFreq. */
    private final float[] slidingInvFreq;
    private final List<HookIntervention> interventions = new CopyOnWriteArrayList<>();
    private final List<ActivationCache> captures = new CopyOnWriteArrayList<>();
    private final Set<String> hookNames;

    HookedTransformer(ModelConfig config, Path dir, NDManager manager, Map<String, NDArray> weights, NDManager viewManager,
                      Map<String, NDArray> views, Bf16Kernels bf16, Kernel kernel) {
        this.bf16 = bf16;
        this.config = config;
        this.dir = dir;
        this.manager = manager;
        this.weights = weights;
        this.viewManager = viewManager;
        this.views = views;
        this.gemvs = kernel.products();
        this.panels = kernel.panels();
        this.gemvRows = Gemv.maxRows(bf16 != null ? Precision.BF16 : Precision.F32, bf16 != null && bf16.nativeProducts());
        this.stacked = new java.util.HashMap<>();
        this.stackedBiases = new java.util.HashMap<>();
        if (!gemvs.isEmpty()) {
            boolean swiGlu = config.family().gatedMlp() && config.family().activation() == FamilySpec.Activation.SILU;
            for (int l = 0; l < config.numLayers(); l++) {
                stack(QKV + l, l, Name.Q_W, Name.Q_B, Name.K_W, Name.K_B, Name.V_W, Name.V_B);
                if (swiGlu) stack(GATE_UP + l, l, Name.GATE_W, Name.GATE_B, Name.UP_W, Name.UP_B);
            }
        }
        this.javaBlocks = KernelPass.takes(config.family()) && stacked.containsKey(GATE_UP + 0)
                && Boolean.parseBoolean(System.getProperty("persona.kernel-pass", "true"));
        this.invFreq = config.ropeScaling().inverseFrequencies(config.headDim(), config.ropeTheta());
        double local = config.attention().slidingRopeTheta();
        this.slidingInvFreq = local > 0 ? RopeScaling.NONE.inverseFrequencies(config.headDim(), local) : null;
        this.hookNames = new LinkedHashSet<>();
        for (HookPoint h : HookPoint.all(config)) hookNames.add(h.name());
    }

    /**
     * One linear weight held as column panels: {@code weights.get(p)} = W[:, p * width .. (p + 1) *
     * width) as [out, width] views of the weight's memory, and (float32 inference) the same panels
     * owned by the view manager, for products with the weight as first operand; null in BF16.
     */
    private record Panels(int width, List<NDArray> weights, List<NDArray> views) { }

    /** A model's decoding kernel: its products by weight key, and which weights are held as panels. Empty off the kernel. */
    record Kernel(Map<String, Gemv> products, Map<String, Panels> panels) {
        static final Kernel NONE = new Kernel(Map.of(), Map.of());
    }

    /**
     * Prepares the decoding kernel of an inference model's weights {@code w} while their manager
     * can still take arrays: linear weights wider than {@link Gemv#panelWidth} are rearranged into
     * column panels in place (their entry in {@code w} becomes the [panels, out, width] array), and
     * every 2-D weight gets its product. Embedding tables keep their rows: lookups read them.
     * {@code viewManager} (float32) receives each panel's view; null in BF16. Without {@code
     * panelled} every weight keeps its rows: BF16 weights that libtorch multiplies in BF16, whose
     * kernel takes a whole matrix and rounds its product once (a panel's product would be rounded).
     */
    private static Kernel kernel(Map<String, NDArray> w, NDManager viewManager, boolean panelled) {
        Map<String, Panels> panels = new java.util.HashMap<>();
        Map<String, Gemv> products = new java.util.HashMap<>();
        Set<String> tables = Set.of(key(Name.EMBED, -1), key(Name.POS_EMBED, -1));
        for (var e : w.entrySet()) {
            NDArray weight = e.getValue();
            Shape s = weight.getShape();
            if (s.dimension() != 2) continue;
            int in = Math.toIntExact(s.get(1)), width = panelled ? Gemv.panelWidth(in) : in;
            // panelling goes through a direct buffer, indexed by int: larger matrices (an 8B model's F32 output head) keep their rows
            long bytes = s.size() * (weight.getDataType() == DataType.FLOAT32 ? 4 : 2);
            if (width == in || tables.contains(e.getKey()) || bytes > Integer.MAX_VALUE) {
                products.put(e.getKey(), Gemv.of(weight));
                continue;
            }
            NDArray stacked = Gemv.panel(weight, width);
            List<NDArray> parts = new ArrayList<>(), views = viewManager == null ? null : new ArrayList<>();
            for (long p = 0; p < stacked.getShape().get(0); p++) {
                NDArray part = stacked.get(p);
                parts.add(part);
                if (views != null) {
                    NDArray view = part.reshape(part.getShape());
                    view.attach(viewManager);
                    views.add(view);
                }
            }
            e.setValue(stacked);
            panels.put(e.getKey(), new Panels(width, parts, views));
            products.put(e.getKey(), Gemv.panelled(parts, Gemv.CHUNK_BYTES));
        }
        return new Kernel(products, panels);
    }

    private static final String QKV = "qkv.";
    private static final String GATE_UP = "gate_up.";

    /** Stacks the kernel products of {@code weightsAndBiases} (weight, bias, weight, bias, ...) under {@code key}, if every weight has one. */
    private void stack(String key, int l, Name... weightsAndBiases) {
        List<Gemv> parts = new ArrayList<>();
        for (int i = 0; i < weightsAndBiases.length; i += 2) {
            Gemv g = gemvs.get(key(weightsAndBiases[i], l));
            if (g == null) return;
            parts.add(g);
            NDArray bias = weight(weightsAndBiases[i + 1], l);
            if (bias != null) stackedBiases.put(key(weightsAndBiases[i + 1], l), bias.toFloatArray());
        }
        stacked.put(key, Gemv.stack(parts));
    }

    /**
     * Whether this model's products of few rows (decode steps: up to 64 rows in F32, 4 or 16 in BF16) run on
     * Persona's vector-API kernel rather than libtorch (docs/DESIGN.md, "Decoding kernel").
     */
    public boolean decodesThroughKernel() {
        return !gemvs.isEmpty();
    }

    /**
     * How many prompts of {@code tokens} tokens generation runs in one prompt pass on the kernel's
     * models: as many as keep the pass within {@link #PROMPT_PASS_ROWS} rows, at least one (a pass
     * holds a layer's temporaries for all its rows). Unbounded where decode steps do not run on the
     * kernel (narrow models keep their one pass, and their outputs bit for bit).
     */
    int promptsPerPass(int tokens) {
        if (gemvs.isEmpty()) return Integer.MAX_VALUE;
        return Math.max(1, PROMPT_PASS_ROWS / tokens);
    }

    /**
     * Rows (prompts x tokens) of a prompt pass, as llama.cpp's default micro-batch of 512 tokens:
     * 0.5B F32, a batch of 64 x 32 prompt tokens in one pass peaked at 1.51-1.65x the weights, in
     * passes of 512 rows 1.44x; passes of 64 rows (on the kernel) held 1.33x but prefilled 16 x 32
     * at 159 tok/s against 185-195 in one 512-row pass through libtorch.
     */
    static final int PROMPT_PASS_ROWS = 512;

    /**
     * Memory read bandwidth in GB/s of a plain read of this model's kernel weights, in passes over
     * all of them split across the kernel's threads, for at least {@code seconds}; NaN when decode
     * steps do not run on the kernel. {@code persona bench} takes it between its batch-1 decode runs.
     */
    public double weightReadGbps(double seconds) {
        return gemvs.isEmpty() ? Double.NaN : Gemv.weightReadGbps(gemvs.values(), seconds);
    }

    /** The one rule for the kernel: inference models on the CPU, wide enough, with the vector API present. */
    private static boolean decodesOnKernel(ModelConfig c, Device device, boolean inference) {
        return inference && Device.Type.CPU.equals(device.getDeviceType()) && Gemv.usedFor(c.dModel());
    }

    /** Loads a Hugging Face model directory on the CPU. */
    public static HookedTransformer load(Path dir) {
        return load(dir, Device.cpu());
    }

    /** Loads a Hugging Face model directory onto {@code device}; weights are converted to float32. */
    public static HookedTransformer load(Path dir, Device device) {
        return load(dir, device, false);
    }

    /**
     * Loads a model; a {@code trainable} one records gradients for its weights under a
     * GradientCollector (see {@link Trainer}) and its manager is left uncapped for optimizer state.
     */
    public static HookedTransformer load(Path dir, Device device, boolean trainable) {
        return load(dir, device, trainable, Precision.F32);
    }

    /**
     * Loads a model whose weights compute in {@code precision}; {@link Precision#BF16} is for
     * inference only (a trainable BF16 model is refused).
     */
    public static HookedTransformer load(Path dir, Device device, boolean trainable, Precision precision) {
        if (LoraAdapter.isAdapter(dir)) return loadAdapted(LoraAdapter.baseOf(dir), dir, device, trainable, precision);
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            checkLayerCount(config, dir, ckpt.names());
            return fromCheckpoint(config, dir, ckpt, device, trainable, precision);
        }
    }

    private static final java.util.regex.Pattern LAYER_INDEX = java.util.regex.Pattern.compile("\\.(?:layers|h)\\.(\\d+)\\.");

    /**
     * A config.json with fewer layers than the weights would load the first blocks and silently drop
     * the rest (and talk nonsense): refused, with both counts.
     */
    static void checkLayerCount(ModelConfig config, Path dir, java.util.Collection<String> names) {
        int stored = 0;
        for (String n : names) {
            java.util.regex.Matcher m = LAYER_INDEX.matcher(n);
            if (m.find()) stored = Math.max(stored, Integer.parseInt(m.group(1)) + 1);
        }
        if (stored > config.numLayers()) {
            throw new PersonaException(dir.resolve("config.json") + " says num_hidden_layers = " + config.numLayers() + " but the weights hold "
                    + stored + " layers", "use the config.json that came with these weights");
        }
    }

    /**
     * Loads base model {@code base} with the PEFT LoRA adapter in {@code adapter} merged into its
     * weights (W + B A * alpha / r; see {@link LoraAdapter}). The result behaves as a full model
     * loaded from {@code base}: its {@link #directory()} is the base directory (tokenizer files, fingerprint).
     */
    public static HookedTransformer loadAdapted(Path base, Path adapter, Device device, boolean trainable) {
        return loadAdapted(base, adapter, device, trainable, Precision.F32);
    }

    /** {@link #loadAdapted(Path, Path, Device, boolean)} computing in {@code precision} (merged in float32, then rounded). */
    public static HookedTransformer loadAdapted(Path base, Path adapter, Device device, boolean trainable, Precision precision) {
        ModelConfig config = ModelConfig.load(base);
        try (Checkpoint ckpt = Checkpoint.open(base); LoraAdapter lora = LoraAdapter.open(adapter, ckpt)) {
            HookedTransformer model = fromCheckpoint(config, base, lora, device, trainable, precision);
            try {
                lora.checkAllApplied();
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
            return model;
        }
    }

    /** A model of {@code config}'s shape with random weights, built in native memory (for benchmarks). */
    public static HookedTransformer random(ModelConfig config, Device device, long seed) {
        return random(config, device, seed, Precision.F32);
    }

    /** A random model of {@code config}'s shape computing in {@code precision}. */
    public static HookedTransformer random(ModelConfig config, Device device, long seed, Precision precision) {
        return fromCheckpoint(config, Path.of("random:" + config.family().modelType()), TensorSource.random(seed), device, false, precision);
    }

    static HookedTransformer fromCheckpoint(ModelConfig c, Path dir, TensorSource ckpt, Device device, boolean trainable) {
        return fromCheckpoint(c, dir, ckpt, device, trainable, Precision.F32);
    }

    static HookedTransformer fromCheckpoint(ModelConfig c, Path dir, TensorSource ckpt, Device device, boolean trainable,
                                            Precision precision) {
        if (trainable && precision != Precision.F32) {
            throw new PersonaException("training in " + precision + " is not supported (" + dir + ")",
                    "train and finetune in f32 (leave out --dtype); BF16 compute is for inference");
        }
        WeightLayout layout = resolveLayout(c, ckpt);
        // compiles the decoding kernel while the weights load
        if (decodesOnKernel(c, device, !trainable)) Gemv.warmUp();
        NDManager manager = ai.djl.engine.Engine.getEngine("PyTorch").newBaseManager(device);
        Bf16Kernels bf16 = null;
        try {
            if (precision == Precision.BF16) {
                bf16 = Bf16Kernels.load(device);
                ckpt = narrowing(ckpt, bf16);
            }
            Map<String, NDArray> w = new LinkedHashMap<>();
            int d = c.dModel();
            put(w, manager, key(Name.EMBED, -1), ckpt, layout.tensor(Name.EMBED, -1), c.vocabSize(), d);
            if (c.family().positions() == FamilySpec.PositionKind.LEARNED) {
                String n = layout.tensor(Name.POS_EMBED, -1);
                long[] stored = ckpt.shape(n);
                long rows = stored != null ? stored[0] : c.maxPositions();
                put(w, manager, key(Name.POS_EMBED, -1), ckpt, n, rows, d);
            }
            loadNorm(w, manager, ckpt, layout, Name.FINAL_NORM_W, Name.FINAL_NORM_B, -1, c);
            if (!c.tiedEmbeddings()) {
                String head = layout.tensor(Name.LM_HEAD, -1);
                put(w, manager, key(Name.LM_HEAD, -1), ckpt, head, c.vocabSize(), d);
            }
            // rounded to BF16 as they arrive, so that loading never holds more than one block in float32
            if (bf16 != null) narrowNew(w, bf16, manager);
            for (int l = 0; l < c.numLayers(); l++) {
                loadBlock(w, manager, ckpt, layout, l, c);
                if (bf16 != null) narrowNew(w, bf16, manager);
            }
            if (trainable) {
                for (NDArray a : w.values()) a.setRequiresGradient(true);
                return new HookedTransformer(c, dir, manager, w, null, null, null, Kernel.NONE);
            }
            boolean onKernel = decodesOnKernel(c, device, true);
            if (bf16 != null) {
                Kernel kernel = onKernel ? kernel(w, null, !bf16.nativeProducts()) : Kernel.NONE;
                manager.cap();
                // the rounding steps' freed temporaries would otherwise stay resident in the allocator's arenas
                NativeMemory.trim();
                return new HookedTransformer(c, dir, manager, w, null, null, bf16, kernel);
            }
            NDManager viewManager = ai.djl.engine.Engine.getEngine("PyTorch").newBaseManager(device);
            // panels first: the views below are of the matrices that stay whole
            Kernel kernel = onKernel ? kernel(w, c.dModel() < SKINNY_MIN_WIDTH ? null : viewManager, true) : Kernel.NONE;
            Map<String, NDArray> views = new LinkedHashMap<>();
            for (var e : w.entrySet()) {
                // narrow models multiply as x . W^T at every row count: they need no views
                if (e.getValue().getShape().dimension() != 2 || c.dModel() < SKINNY_MIN_WIDTH) continue;
                NDArray view = e.getValue().reshape(e.getValue().getShape());
                view.attach(viewManager);
                views.put(e.getKey(), view);
            }
            // nothing may attach to the weights' manager after loading: a stray attachment fails loudly
            manager.cap();
            NativeMemory.trim();
            return new HookedTransformer(c, dir, manager, w, viewManager, views, null, kernel);
        } catch (RuntimeException e) {
            if (bf16 != null) bf16.close();
            manager.close();
            throw e;
        }
    }

    /**
     * {@code source} with its matrices created in BF16: each is rounded a few rows at a time into a
     * BF16 array ({@link TensorSource#readRows}), so loading never holds a whole matrix in float32 (a
     * 0.5B model's 545 MB output head would be). Rounding is element by element, so the bits equal
     * rounding the whole matrix; vectors stay float32.
     */
    private static TensorSource narrowing(TensorSource source, Bf16Kernels bf16) {
        return new TensorSource() {
            @Override
            public boolean has(String name) {
                return source.has(name);
            }

            @Override
            public long[] shape(String name) {
                return source.shape(name);
            }

            @Override
            public float[] floats(String name, long... shape) {
                return source.floats(name, shape);
            }

            @Override
            public NDArray create(NDManager manager, String name, long... shape) {
                if (shape.length != 2) return source.create(manager, name, shape);
                NDArray out;
                // a BF16 array of the shape (DJL cannot allocate one directly): the rounding of a broadcast
                // zero, cloned so that it is writable outside inference mode
                try (NDArray zero = manager.zeros(new Shape(1, 1)); NDArray view = zero.broadcast(new Shape(shape));
                     NDArray rounded = bf16.narrow(view, manager)) {
                    out = rounded.duplicate();
                }
                try {
                    source.readRows(manager, name, shape, (from, part) -> {
                        try (NDArray narrow = bf16.narrow(part, manager)) {
                            out.set(new NDIndex(from + ":" + (from + part.getShape().get(0))), narrow);
                        }
                    });
                    return out;
                } catch (RuntimeException e) {
                    out.close();
                    throw e;
                }
            }
        };
    }

    /** Replaces every 2-D float32 weight by its BF16 rounding and frees the float32 copy. */
    private static void narrowNew(Map<String, NDArray> w, Bf16Kernels bf16, NDManager manager) {
        for (Map.Entry<String, NDArray> e : w.entrySet()) {
            if (e.getValue().getShape().dimension() != 2 || e.getValue().getDataType() != DataType.FLOAT32) continue;
            NDArray narrow = bf16.narrow(e.getValue(), manager);
            narrow.setName(e.getKey());
            e.getValue().close();
            e.setValue(narrow);
        }
    }

    private static WeightLayout resolveLayout(ModelConfig c, TensorSource ckpt) {
        WeightLayout layout = c.family().layout();
        if (ckpt.has(layout.tensor(Name.EMBED, -1))) return layout;
        // Some GPT-2 checkpoints (the original release) omit the "transformer." prefix.
        if (c.family().layout().conv1d() && ckpt.has("wte.weight")) return WeightLayout.gpt2Style("");
        return layout;
    }

    private static void loadNorm(Map<String, NDArray> w, NDManager m, TensorSource ckpt, WeightLayout layout, Name weight, Name bias, int l, ModelConfig c) {
        int d = c.dModel();
        putNorm(w, m, ckpt, layout, weight, l, c, d);
        if (c.family().norm() == FamilySpec.NormKind.LAYER) put(w, m, key(bias, l), ckpt, layout.tensor(bias, l), d);
    }

    /**
     * An RMSNorm weight, stored as (normOffset + w) so that the forward pass multiplies by it directly
     * (Gemma keeps zero-centred weights and multiplies by 1 + w); {@link #save} takes the offset back off.
     */
    private static void putNorm(Map<String, NDArray> w, NDManager m, TensorSource ckpt, WeightLayout layout, Name weight, int l, ModelConfig c, long size) {
        put(w, m, key(weight, l), ckpt, layout.tensor(weight, l), size);
        double offset = c.family().normOffset();
        if (offset != 0 && c.family().norm() == FamilySpec.NormKind.RMS) w.get(key(weight, l)).addi((float) offset);
    }

    private static void loadBlock(Map<String, NDArray> w, NDManager m, TensorSource ckpt, WeightLayout layout, int l, ModelConfig c) {
        FamilySpec f = c.family();
        int d = c.dModel();
        loadNorm(w, m, ckpt, layout, Name.ATTN_NORM_W, Name.ATTN_NORM_B, l, c);
        loadNorm(w, m, ckpt, layout, Name.MLP_NORM_W, Name.MLP_NORM_B, l, c);
        String[] fused = layout.fusedQkv(l);
        if (fused != null) {
            int qw = c.qWidth(), kvw = c.kvWidth();
            float[] all = linearWeight(ckpt, fused[0], qw + 2 * kvw, d, layout.conv1d());
            float[] bias = ckpt.floats(fused[1], qw + 2 * kvw);
            put(w, m, key(Name.Q_W, l), Arrays.copyOfRange(all, 0, qw * d), qw, d);
            put(w, m, key(Name.K_W, l), Arrays.copyOfRange(all, qw * d, (qw + kvw) * d), kvw, d);
            put(w, m, key(Name.V_W, l), Arrays.copyOfRange(all, (qw + kvw) * d, (qw + 2 * kvw) * d), kvw, d);
            put(w, m, key(Name.Q_B, l), Arrays.copyOfRange(bias, 0, qw), qw);
            put(w, m, key(Name.K_B, l), Arrays.copyOfRange(bias, qw, qw + kvw), kvw);
            put(w, m, key(Name.V_B, l), Arrays.copyOfRange(bias, qw + kvw, qw + 2 * kvw), kvw);
        } else {
            linear(w, m, ckpt, layout, Name.Q_W, f.qkvBias() ? Name.Q_B : null, l, c.qWidth(), d);
            linear(w, m, ckpt, layout, Name.K_W, f.qkvBias() ? Name.K_B : null, l, c.kvWidth(), d);
            linear(w, m, ckpt, layout, Name.V_W, f.qkvBias() ? Name.V_B : null, l, c.kvWidth(), d);
        }
        linear(w, m, ckpt, layout, Name.O_W, f.outBias() ? Name.O_B : null, l, d, c.qWidth());
        if (f.qkNorm()) {
            putNorm(w, m, ckpt, layout, Name.Q_NORM_W, l, c, c.headDim());
            putNorm(w, m, ckpt, layout, Name.K_NORM_W, l, c, c.headDim());
        }
        if (f.sandwichNorms()) {
            putNorm(w, m, ckpt, layout, Name.POST_ATTN_NORM_W, l, c, d);
            putNorm(w, m, ckpt, layout, Name.POST_MLP_NORM_W, l, c, d);
        }
        if (f.gatedMlp()) linear(w, m, ckpt, layout, Name.GATE_W, f.mlpBias() ? Name.GATE_B : null, l, c.dFF(), d);
        linear(w, m, ckpt, layout, Name.UP_W, f.mlpBias() ? Name.UP_B : null, l, c.dFF(), d);
        linear(w, m, ckpt, layout, Name.DOWN_W, f.mlpBias() ? Name.DOWN_B : null, l, d, c.dFF());
    }

    private static void linear(Map<String, NDArray> w, NDManager m, TensorSource ckpt, WeightLayout layout, Name weight, Name bias, int l, int out, int in) {
        if (layout.conv1d()) put(w, m, key(weight, l), linearWeight(ckpt, layout.tensor(weight, l), out, in, true), out, in);
        else put(w, m, key(weight, l), ckpt, layout.tensor(weight, l), out, in);
        if (bias != null) put(w, m, key(bias, l), ckpt, layout.tensor(bias, l), out);
    }

    /** Reads a linear weight as [out, in], transposing a Conv1D [in, out] tensor. */
    private static float[] linearWeight(TensorSource ckpt, String name, int out, int in, boolean conv1d) {
        if (!conv1d) return ckpt.floats(name, out, in);
        float[] t = ckpt.floats(name, in, out);
        float[] r = new float[t.length];
        for (int i = 0; i < in; i++) for (int o = 0; o < out; o++) r[o * in + i] = t[i * out + o];
        return r;
    }

    private static void put(Map<String, NDArray> w, NDManager m, String key, float[] data, long... shape) {
        NDArray a = m.create(data, new Shape(shape));
        a.setName(key);
        w.put(key, a);
    }

    private static void put(Map<String, NDArray> w, NDManager m, String key, TensorSource src, String name, long... shape) {
        NDArray a = src.create(m, name, shape);
        a.setName(key);
        w.put(key, a);
    }

    /** Canonical weight key: {@code Q_W@3} for layer 3, {@code EMBED} for globals. */
    static String key(Name name, int layer) {
        return layer < 0 ? name.name() : name.name() + "@" + layer;
    }

    /**
     * Writes this model as a Hugging Face directory: config.json and the tokenizer files copied from
     * where it was loaded, and the current weights as model.safetensors (float32).
     */
    public void save(Path out) throws java.io.IOException {
        WeightLayout layout = config.family().layout();
        if (layout.fusedQkv(0) != null) {
            throw new PersonaException("saving " + config.family().modelType() + " models is not supported (fused q/k/v weights)",
                    "save llama, mistral, qwen2, qwen3, gemma or gemma2 models");
        }
        java.nio.file.Files.createDirectories(out);
        dev.persona.model.io.SafetensorsWriter writer = new dev.persona.model.io.SafetensorsWriter().meta("format", "pt");
        for (Map.Entry<String, NDArray> e : weights.entrySet()) {
            String[] parts = e.getKey().split("@");
            Name name = Name.valueOf(parts[0]);
            int layer = parts.length > 1 ? Integer.parseInt(parts[1]) : -1;
            Panels p = panels.get(e.getKey());
            float[] values = p == null ? floats(e.getValue()) : matrix(p);
            long[] shape = p == null ? e.getValue().getShape().getShape()
                    : new long[] {e.getValue().getShape().get(1), (long) p.weights().size() * p.width()};
            double offset = config.family().norm() == FamilySpec.NormKind.RMS && name.isNormWeight() ? config.family().normOffset() : 0;
            for (int i = 0; offset != 0 && i < values.length; i++) values[i] -= (float) offset;
            writer.add(layout.tensor(name, layer), values, shape);
        }
        writer.write(out.resolve("model.safetensors"));
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                "special_tokens_map.json", "chat_template.jinja"}) {
            Path src = dir.resolve(f);
            if (java.nio.file.Files.isRegularFile(src) && !src.toAbsolutePath().equals(out.resolve(f).toAbsolutePath())) {
                java.nio.file.Files.copy(src, out.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** A weight held as column panels as the matrix [out, in] it stands for, float32 row-major. */
    private float[] matrix(Panels p) {
        int count = p.weights().size(), width = p.width();
        int out = Math.toIntExact(p.weights().get(0).getShape().get(0)), in = count * width;
        float[] m = new float[Math.multiplyExact(out, in)];
        for (int k = 0; k < count; k++) {
            float[] panel = floats(p.weights().get(k));
            for (int o = 0; o < out; o++) System.arraycopy(panel, o * width, m, o * in + k * width, width);
        }
        return m;
    }

    /** A weight's values as float32 (BF16 weights widened exactly). */
    private float[] floats(NDArray a) {
        if (bf16 == null || a.getShape().dimension() != 2) return a.toFloatArray();
        try (NDManager tmp = NDManager.newBaseManager(a.getDevice())) {
            return bf16.widen(a, tmp).toFloatArray();
        }
    }

    /** The number format the weights and linear layers compute in. */
    public Precision precision() {
        return bf16 == null ? Precision.F32 : Precision.BF16;
    }

    NDArray weight(Name name, int layer) {
        return weights.get(key(name, layer));
    }

    Map<String, NDArray> weights() {
        return weights;
    }

    NDManager manager() {
        return manager;
    }

    /**
     * Native arrays this model holds right now: weights, open KV caches and any temporaries of a pass
     * in flight. Constant between passes unless something leaks; tests and servers watch it.
     */
    public int liveNativeArrays() {
        return manager.getManagedArrays().size();
    }

    /** The model's shape and family. */
    public ModelConfig config() {
        return config;
    }

    /** The directory it was loaded from. */
    public Path directory() {
        return dir;
    }

    /** Every hook point of this model. */
    public List<HookPoint> hookPoints() {
        return HookPoint.all(config);
    }

    /** Number of parameters held (tied heads counted once). */
    public long parameterCount() {
        long n = 0;
        for (NDArray a : weights.values()) n += a.size();
        return n;
    }

    /** Bytes the weights occupy as held: 4 per element, 2 for the BF16-held 2-D weights. */
    public long heldWeightBytes() {
        long n = 0;
        // 2-D weights, and [panels, out, width] ones held as column panels
        for (NDArray a : weights.values()) n += a.size() * (bf16 != null && a.getShape().dimension() >= 2 ? 2 : 4);
        return n;
    }

    // ---------------------------------------------------------------- hooks

    /** Registers an intervention at {@code hook} for every pass until the handle is closed. */
    public AutoCloseable intervene(String hook, Intervention intervention, PositionMask mask) {
        checkHook(hook);
        if (hook.endsWith("hook_pattern")) {
            throw new PersonaException("hook '" + hook + "' is capture-only", "intervene on a residual-stream hook such as blocks.3.hook_resid_post");
        }
        HookIntervention r = new HookIntervention(hook, intervention, mask);
        interventions.add(r);
        return () -> interventions.remove(r);
    }

    /** Whether a capture records this thread's passes: then every pass must run every row it was given. */
    boolean capturing() {
        for (ActivationCache c : captures) {
            if (c.recordsThisThread()) return true;
        }
        return false;
    }

    /** Starts capturing the named hooks in passes on the calling thread; stops when the returned cache is closed. */
    public ActivationCache capture(String... hooks) {
        return capture(List.of(hooks));
    }

    /** Starts capturing the named hooks in passes on the calling thread; stops when the returned cache is closed. */
    public ActivationCache capture(List<String> hooks) {
        for (String h : hooks) checkHook(h);
        ActivationCache[] holder = new ActivationCache[1];
        holder[0] = new ActivationCache(new LinkedHashSet<>(hooks), () -> captures.remove(holder[0]));
        captures.add(holder[0]);
        return holder[0];
    }

    private void checkHook(String hook) {
        if (!hookNames.contains(hook)) {
            throw new PersonaException("no hook point named '" + hook + "' in this " + config.family().modelType() + " model ("
                    + config.numLayers() + " layers)", "run `persona inspect --model " + dir + "` to list the hook names");
        }
    }

    /**
     * Per-pass facts the position masks need: which tokens are real, their position ids, prefill or
     * decode; and the hooks bound to single rows of this pass (continuous batching, where each row is
     * a request with its own steering and monitoring).
     */
    record PassInfo(boolean prefill, int[][] positions, boolean[][] valid, List<RowHook> rowHooks) {
        PassInfo(boolean prefill, int[][] positions, boolean[][] valid) {
            this(prefill, positions, valid, List.of());
        }
    }

    /**
     * A hook bound to one row of a pass: an intervention (masked to that row, so the other rows stay
     * bit for bit as they were) or a probe that reads the row's projections onto a unit direction.
     */
    record RowHook(int row, String hook, Intervention intervention, PositionMask mask, float[] unit, java.util.function.Consumer<float[]> probe) { }

    private NDArray hook(String name, NDArray x, PassInfo info, NDManager step) {
        if (interventions.isEmpty() && captures.isEmpty() && info.rowHooks.isEmpty()) return x;
        for (HookIntervention r : interventions) {
            if (r.hook().equals(name)) x = r.intervention().apply(x, maskFor(r.mask(), info, step, -1));
        }
        for (RowHook h : info.rowHooks) {
            if (h.intervention != null && h.hook.equals(name)) x = h.intervention.apply(x, maskFor(h.mask, info, step, h.row));
        }
        for (RowHook h : info.rowHooks) {
            if (h.probe != null && h.hook.equals(name)) {
                // [pos, d] . [d] in libtorch; only pos floats cross into Java
                NDArray row = x.get(h.row);
                h.probe.accept(row.matMul(NativeData.floats(step, h.unit, new Shape(h.unit.length))).toFloatArray());
            }
        }
        for (ActivationCache c : captures) {
            if (c.wants(name)) c.record(name, new FloatTensor(x.getShape().getShape(), x.toFloatArray()));
        }
        return x;
    }

    /** 1 where {@code mask} touches a real token, 0 elsewhere; with {@code onlyRow} >= 0, 0 on every other row. */
    private static NDArray maskFor(PositionMask mask, PassInfo info, NDManager step, int onlyRow) {
        int b = info.valid.length, t = info.valid[0].length;
        float[] m = new float[b * t];
        for (int i = 0; i < b; i++) {
            if (onlyRow >= 0 && i != onlyRow) continue;
            for (int j = 0; j < t; j++) {
                m[i * t + j] = info.valid[i][j] && mask.touches(info.prefill, info.positions[i][j], j == t - 1) ? 1f : 0f;
            }
        }
        return NativeData.floats(step, m, new Shape(b, t, 1));
    }

    // ---------------------------------------------------------------- forward

    /** Logits [1, pos, vocab] for one unpadded sequence. */
    public FloatTensor forward(int[] ids) {
        return forward(List.of(ids));
    }

    /**
     * Logits [batch, max_len, vocab] for several sequences, left-padded to the longest; rows of
     * padding positions are meaningless. Each sequence's positions start at 0 at its first token.
     */
    public FloatTensor forward(List<int[]> sequences) {
        return forward(sequences, false);
    }

    /**
     * The logits at each sequence's last token, [batch][vocab], from one pass over the sequences
     * left-padded to the longest. Hooks and captures see every position as in {@link #forward(List)};
     * only the output head is skipped for the other positions, so a capture pass that needs no
     * logits costs no [batch, pos, vocab] product and no copy of it.
     */
    public float[][] forwardLast(List<int[]> sequences) {
        FloatTensor t = forward(sequences, true);
        float[][] out = new float[sequences.size()][];
        for (int i = 0; i < out.length; i++) out[i] = t.row(i, 0);
        return out;
    }

    private FloatTensor forward(List<int[]> sequences, boolean lastOnly) {
        int b = sequences.size();
        int t = sequences.stream().mapToInt(s -> s.length).max().orElse(0);
        if (t == 0) throw new PersonaException("no tokens to run: every sequence is empty", "pass at least one token (a chat template adds its own)");
        long[] ids = new long[b * t];
        int[][] pos = new int[b][t];
        boolean[][] valid = new boolean[b][t];
        for (int i = 0; i < b; i++) {
            int[] s = sequences.get(i);
            int pad = t - s.length;
            for (int j = 0; j < t; j++) {
                valid[i][j] = j >= pad;
                pos[i][j] = Math.max(0, j - pad);
                ids[i * t + j] = j >= pad ? s[j - pad] : 0;
            }
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray logits = run(step, NativeData.longs(step, ids, new Shape(b, t)), new PassInfo(true, pos, valid), valid, null, 0, lastOnly);
            return new FloatTensor(logits.getShape().getShape(), logits.toFloatArray());
        }
    }

    /**
     * One pass. {@code keyValid[b][s]} says which cache slots (or, without a cache, which positions)
     * hold real tokens; the tokens of this pass occupy slots {@code slot .. slot + pos - 1}.
     *
     * @param lastOnly compute the output head for the last column only (generation: saves a
     *                 [batch, pos, vocab] product that is never read)
     * @return logits [batch, pos, vocab] (or [batch, 1, vocab] with lastOnly), attached to {@code step}
     */
    NDArray run(NDManager step, NDArray ids, PassInfo info, boolean[][] keyValid, KVCache cache, int slot, boolean lastOnly) {
        return onKernelThreads(info, () -> head(pass(step, ids, info, keyValid, cache, slot, lastOnly)));
    }

    /**
     * {@link #run} with the head on the last position only, its logits as Java floats [batch x vocab]
     * written into {@code into} when it has that length (else into a new array), which is returned.
     * Where the head is on the kernel its products go straight into that array: a decode step of 64
     * rows then makes no 39 MB native logits array and no copy of it in either direction.
     */
    float[] lastLogits(NDManager step, NDArray ids, PassInfo info, boolean[][] keyValid, KVCache cache, int slot, float[] into) {
        return onKernelThreads(info, () -> {
            int b = info.valid.length;
            Gemv head = config.attention().logitSoftcap() > 0 || gemvs.isEmpty() || b > gemvRows ? null : gemvs.get(headKey());
            int n = Math.multiplyExact(b, config.vocabSize());
            float[] logits = into != null && into.length == n ? into : new float[n];
            if (head == null) {
                NDArray l = head(pass(step, ids, info, keyValid, cache, slot, true));
                if (l.getDataType() != DataType.FLOAT32) l = l.toType(DataType.FLOAT32, false);
                l.toByteBuffer(true).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().get(logits);
            } else {
                NDArray x = kernelPass(step, ids, info, keyValid, cache, slot);
                if (x == null) x = pass(step, ids, info, keyValid, cache, slot, true);
                // what Gemv.apply computes, without its detour through a native array
                head.products(x.toFloatArray(), rows(x), logits);
            }
            return logits;
        });
    }

    /** Made at the first pass that can take it; null until then, and for models whose blocks it does not compute. */
    private KernelPass kernelPass;
    /**
     * Whether passes may take {@link KernelPass}: a family it computes, on the kernel with gate|up
     * stacked; {@code -Dpersona.kernel-pass=false} when the model is built keeps every pass layer by
     * layer (to compare the two routes, which give the same bits).
     */
    private final boolean javaBlocks;
    /** Passes that went through {@link KernelPass} (tests check that a route was taken). */
    int kernelPasses;

    /**
     * {@link #pass} (last position only) through {@link KernelPass}: the blocks with the residual
     * stream as Java floats, then the final norm as {@link #pass} applies it. Null where that pass
     * does not apply: a family it does not compute, a pass of more rows than the kernel takes, no
     * cache or no direct view of it, or something hooking an attention pattern (which needs the
     * probabilities as an array).
     */
    private NDArray kernelPass(NDManager step, NDArray ids, PassInfo info, boolean[][] keyValid, KVCache cache, int slot) {
        int b = info.valid.length, t = info.valid[0].length;
        if (!javaBlocks || cache == null || (long) b * t > gemvRows) return null;
        KernelPass.Hooks hooks = kernelHooks(info, step, b, t);
        for (int l = 0; l < config.numLayers(); l++) {
            if (hooks.hooked(HookPoint.pattern(l)) || cache.keyView(l) == null || cache.valueView(l) == null) return null;
        }
        if (kernelPass == null) {
            kernelPass = new KernelPass(config, gemvs::get, l -> stacked.get(QKV + l), l -> stacked.get(GATE_UP + l),
                    (name, l) -> weight(name, l) == null ? null : javaWeight(name, l),
                    l -> config.attention().sliding(l) && slidingInvFreq != null ? slidingInvFreq : invFreq);
        }
        kernelPasses++;
        float[] x = kernelPass.blocks(ids.toLongArray(), b, t, positionIds(info), keyValid, cache, slot, hooks);
        return finalNorm(x, new Shape(b, t, config.dModel()), info, step, true);
    }

    /** The pass's hooks for {@link KernelPass}: each hooked value becomes an array [batch, pos, d_model] in {@code step} for {@link #hook}. */
    private KernelPass.Hooks kernelHooks(PassInfo info, NDManager step, int b, int t) {
        if (interventions.isEmpty() && captures.isEmpty() && info.rowHooks.isEmpty()) return KernelPass.Hooks.NONE;
        return new KernelPass.Hooks() {
            @Override
            public boolean hooked(String name) {
                return HookedTransformer.this.hooked(name, info);
            }

            @Override
            public float[] apply(String name, float[] x) {
                if (!hooked(name)) return x;
                return hook(name, Gemv.array(step, x, 0, x.length, new Shape(b, t, config.dModel())), info, step).toFloatArray();
            }
        };
    }

    /** {@code pass} on Persona's threads when its rows take the kernel (libtorch's own pool would only spin on the same cores). */
    private <T> T onKernelThreads(PassInfo info, java.util.function.Supplier<T> pass) {
        if (gemvs.isEmpty() || (long) info.valid.length * info.valid[0].length > gemvRows) return pass.get();
        try (LibtorchThreads solo = LibtorchThreads.one()) {
            return pass.get();
        }
    }

    private String headKey() {
        return config.tiedEmbeddings() ? key(Name.EMBED, -1) : key(Name.LM_HEAD, -1);
    }

    /** Logits from the final hidden states x [batch, pos, d_model]: the output head, soft-capped where the model caps. */
    private NDArray head(NDArray x) {
        NDArray logits = linear(x, headKey(), null);
        return config.attention().logitSoftcap() > 0 ? softcap(logits, config.attention().logitSoftcap()) : logits;
    }

    /** The hidden states after the final norm [batch, pos, d_model] (the last position only with lastOnly): the head's input. */
    private NDArray pass(NDManager step, NDArray ids, PassInfo info, boolean[][] keyValid, KVCache cache, int slot, boolean lastOnly) {
        ModelConfig c = config;
        FamilySpec f = c.family();
        int b = info.valid.length, t = info.valid[0].length;
        long[] posIds = positionIds(info);
        NDArray positions = NativeData.longs(step, posIds, new Shape(b, t));

        // token embeddings (+ learned positions)
        NDArray x = embed(ids, Name.EMBED, step);
        // Gemma scales embeddings by sqrt(d_model) (as a float32 constant) before anything reads them
        if (f.embedScale()) x = NativeData.mul(x, (float) Math.sqrt(c.dModel()));
        x = hook(HookPoint.EMBED, x, info, step);
        if (f.positions() == FamilySpec.PositionKind.LEARNED) {
            NDArray p = embed(positions, Name.POS_EMBED, step);
            p = hook(HookPoint.POS_EMBED, p, info, step);
            x = x.add(p);
        }

        // made when a layer first takes libtorch's attention: the Java-side attention over the cache reads neither
        Once<NDArray[]> rope = f.positions() == FamilySpec.PositionKind.ROTARY ? new Once<>(() -> rotaryTables(step, positions, invFreq)) : null;
        Once<NDArray[]> slidingRope = slidingInvFreq != null ? new Once<>(() -> rotaryTables(step, positions, slidingInvFreq)) : rope;
        Once<NDArray> mask = new Once<>(() -> attentionMask(step, info, keyValid, slot, t, 0));
        ModelConfig.Attention shape = c.attention();
        Once<NDArray> slidingMask = shape.slidingWindow() > 0
                ? new Once<>(() -> attentionMask(step, info, keyValid, slot, t, shape.slidingWindow())) : null;
        for (int l = 0; l < c.numLayers(); l++) {
            // each block's temporaries live in a manager of their own, freed when the block ends, so a
            // pass holds one block's intermediates at a time rather than all of them (results attach to
            // the first operand's manager, and x is the first operand throughout the block)
            try (NDManager block = step.newSubManager()) {
                x.attach(block);
                x = hook(HookPoint.residPre(l), x, info, block);
                NDArray attn = attention(block, new Normed(x, Name.ATTN_NORM_W, Name.ATTN_NORM_B, l), l, shape.sliding(l) ? slidingRope : rope,
                        rope == null ? null : shape.sliding(l) && slidingInvFreq != null ? slidingInvFreq : invFreq, posIds,
                        shape.sliding(l) ? slidingMask : mask, keyValid, shape.sliding(l) ? shape.slidingWindow() : 0, cache, slot, info);
                // Gemma 2 normalises each sublayer's output before the residual add; the hook sees what is added
                if (f.sandwichNorms()) attn = norm(attn, Name.POST_ATTN_NORM_W, null, l);
                attn = hook(HookPoint.attnOut(l), attn, info, block);
                x = hook(HookPoint.residMid(l), x.add(attn), info, block);
                NDArray mlp = mlp(new Normed(x, Name.MLP_NORM_W, Name.MLP_NORM_B, l), l);
                if (f.sandwichNorms()) mlp = norm(mlp, Name.POST_MLP_NORM_W, null, l);
                mlp = hook(HookPoint.mlpOut(l), mlp, info, block);
                x = hook(HookPoint.residPost(l), x.add(mlp), info, block);
                x.attach(step);
            }
        }
        return finalNorm(x, info, step, lastOnly);
    }

    /**
     * The final norm of the residual stream x [batch, pos, d_model], through its hook; the last
     * position only with lastOnly. Where the pass's rows take the kernel, an RMSNorm is computed on
     * the Java side as the blocks' norms are ({@link #rmsNormRows}): both kernel routes then round it
     * alike, and a batch-1 decode step saves the libtorch calls (0.34 ms a token of a 0.5B model).
     */
    private NDArray finalNorm(NDArray x, PassInfo info, NDManager step, boolean lastOnly) {
        if (config.family().norm() == FamilySpec.NormKind.RMS && kernelRows(x) && x.getDataType() == DataType.FLOAT32) {
            return finalNorm(x.toFloatArray(), x.getShape(), info, step, lastOnly);
        }
        return lastOf(hook(HookPoint.FINAL_NORM, norm(x, Name.FINAL_NORM_W, Name.FINAL_NORM_B, -1), info, step), lastOnly);
    }

    /** {@link #finalNorm(NDArray, PassInfo, NDManager, boolean)} of an RMSNorm family's residual stream as Java floats of {@code shape}, normed in place. */
    private NDArray finalNorm(float[] x, Shape shape, PassInfo info, NDManager step, boolean lastOnly) {
        rmsNormRows(x, javaWeight(Name.FINAL_NORM_W, -1), (float) config.normEps());
        return lastOf(hook(HookPoint.FINAL_NORM, Gemv.array(step, x, 0, x.length, shape), info, step), lastOnly);
    }

    /** x [batch, pos, d_model], or its last position only [batch, 1, d_model] with lastOnly. */
    private static NDArray lastOf(NDArray x, boolean lastOnly) {
        return lastOnly && x.getShape().get(1) > 1 ? x.get(new NDIndex(":, -1:, :")) : x;
    }

    /**
     * Each token's position id, rows batch x pos; refuses a pass whose sequences run past the
     * model's context (there learned positions do not exist and rotary ones were never trained).
     */
    private long[] positionIds(PassInfo info) {
        int b = info.valid.length, t = info.valid[0].length;
        long[] posIds = new long[b * t];
        int longest = 0;
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                posIds[i * t + j] = info.positions[i][j];
                if (info.valid[i][j]) longest = Math.max(longest, info.positions[i][j] + 1);
            }
        }
        if (longest > config.maxPositions()) {
            throw new PersonaException("a sequence of " + longest + " tokens is longer than the model's context of " + config.maxPositions()
                    + " tokens (max_position_embeddings in " + dir.resolve("config.json") + ")", "shorten the prompt or conversation");
        }
        return posIds;
    }

    /** Rows {@code ids} [batch, pos] of {@code table} [n, d] as float32 [batch, pos, d] in {@code step}. */
    private NDArray embed(NDArray ids, Name table, NDManager step) {
        // in a pass the kernel takes, the table's rows are read (and BF16 ones widened) on the Java side: a BF16
        // lookup through the TorchScript module cost about 0.27 ms a decode step, a tenth of the step's serial
        // work; larger passes keep libtorch's lookup, rather than build [rows, d_model] on the Java heap
        Gemv rows = gemvs.get(key(table, -1));
        Shape s = ids.getShape();
        if (rows != null && s.size() <= gemvRows) {
            return Gemv.array(step, rows.rows(ids.toLongArray()), 0, Math.toIntExact(s.size() * config.dModel()), s.add(config.dModel()));
        }
        if (bf16 != null) return bf16.embedding(ids, weight(table, -1), step);
        return Embedding.embedding(ids, weight(table, -1), SparseFormat.DENSE).singletonOrThrow();
    }

    /** cap * tanh(x / cap): Gemma 2's soft bound on attention scores and output logits. */
    private static NDArray softcap(NDArray x, double cap) {
        return NativeData.mul(NativeData.div(x, (float) cap).tanh(), (float) cap);
    }

    private NDArray norm(NDArray x, Name w, Name bias, int l) {
        if (config.family().norm() == FamilySpec.NormKind.LAYER) {
            return LayerNorm.layerNorm(x, new Shape(config.dModel()), weight(w, l), weight(bias, l), (float) config.normEps()).singletonOrThrow();
        }
        return rmsNorm(x, weight(w, l));
    }

    private NDArray rmsNorm(NDArray x, NDArray w) {
        NDArray variance = x.mul(x).mean(new int[] {-1}, true);
        return x.div(NativeData.add(variance, (float) config.normEps()).sqrt()).mul(w);
    }

    /** A value of a pass made the first time it is asked for, then kept. */
    private static final class Once<T> {
        private java.util.function.Supplier<T> make;
        private T value;

        Once(java.util.function.Supplier<T> make) {
            this.make = make;
        }

        T get() {
            if (make != null) {
                value = make.get();
                make = null;
            }
            return value;
        }
    }

    /** cos and sin tables [batch, 1, pos, head_dim] for the rotate-half convention. */
    private NDArray[] rotaryTables(NDManager step, NDArray positions, float[] frequencies) {
        NDArray freqs = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(NativeData.floats(step, frequencies, new Shape(frequencies.length)));
        NDArray emb = NDArrays.concat(new NDList(freqs, freqs), -1).expandDims(1);
        return new NDArray[] {emb.cos(), emb.sin()};
    }

    private static NDArray applyRotary(NDArray x, NDArray[] rope) {
        long half = x.getShape().get(3) / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = NDArrays.concat(new NDList(x2.neg(), x1), -1);
        return x.mul(rope[0]).add(rotated.mul(rope[1]));
    }

    /**
     * Additive mask [batch, 1, pos, keys]: causal over slots, padding hidden, and with a sliding
     * {@code window} > 0 every key more than window - 1 slots behind the query hidden too (as
     * transformers counts it, in cache slots).
     */
    private static NDArray attentionMask(NDManager step, PassInfo info, boolean[][] keyValid, int slot, int t, int window) {
        int b = info.valid.length;
        int s = slot + t;
        float[] m = new float[b * t * s];
        for (int i = 0; i < b; i++) {
            for (int q = 0; q < t; q++) {
                int base = (i * t + q) * s;
                for (int k = 0; k < s; k++) {
                    boolean visible = k <= slot + q && keyValid[i][k] && (window <= 0 || k > slot + q - window);
                    m[base + k] = visible ? 0f : MASKED;
                }
            }
        }
        return NativeData.floats(step, m, new Shape(b, 1, t, s));
    }

    /**
     * @param rope        cos and sin tables of this layer's rotary embedding, made when first asked for; null for learned positions
     * @param frequencies the inverse frequencies those tables were made from (for the Java side), or null
     * @param positions   each row's position, rows batch x pos (for the Java side)
     */
    private NDArray attention(NDManager step, Normed input, int l, Once<NDArray[]> rope, float[] frequencies, long[] positions, Once<NDArray> mask,
                              boolean[][] keyValid,
                              int window, KVCache cache, int slot, PassInfo info) {
        ModelConfig c = config;
        long b = input.x().getShape().get(0), t = input.x().getShape().get(1);
        NDArray q, k, v;
        float[][] qkv = stackedFloats(input, QKV + l, l, Name.Q_B, Name.K_B, Name.V_B);
        if (qkv != null) {
            // on the kernel the projections are Java floats already: q/k norms and the rotary embedding
            // run there too, and the heads become libtorch arrays once, already rotated
            boolean qkNorm = c.family().qkNorm();
            normAndRotate(qkv, qkNorm ? javaWeight(Name.Q_NORM_W, l) : null, qkNorm ? javaWeight(Name.K_NORM_W, l) : null, (float) c.normEps(),
                    frequencies == null ? null : RotaryTable.of(positions, frequencies));
            NDManager m = input.x().getManager();
            NDArray cached = cachedAttention(qkv, l, (int) b, (int) t, keyValid, window, cache, slot, info, m);
            if (cached != null) return cached;
            q = Gemv.array(m, qkv[0], 0, qkv[0].length, new Shape(b, t, c.numHeads(), c.headDim())).transpose(0, 2, 1, 3);
            k = Gemv.array(m, qkv[1], 0, qkv[1].length, new Shape(b, t, c.numKvHeads(), c.headDim())).transpose(0, 2, 1, 3);
            v = Gemv.array(m, qkv[2], 0, qkv[2].length, new Shape(b, t, c.numKvHeads(), c.headDim())).transpose(0, 2, 1, 3);
        } else {
            NDArray x = norm(input);
            q = linear(x, Name.Q_W, Name.Q_B, l).reshape(b, t, c.numHeads(), c.headDim());
            k = linear(x, Name.K_W, Name.K_B, l).reshape(b, t, c.numKvHeads(), c.headDim());
            v = linear(x, Name.V_W, Name.V_B, l).reshape(b, t, c.numKvHeads(), c.headDim());
            if (c.family().qkNorm()) {
                q = rmsNorm(q, weight(Name.Q_NORM_W, l));
                k = rmsNorm(k, weight(Name.K_NORM_W, l));
            }
            q = q.transpose(0, 2, 1, 3);
            k = k.transpose(0, 2, 1, 3);
            v = v.transpose(0, 2, 1, 3);
            if (rope != null) {
                q = applyRotary(q, rope.get());
                k = applyRotary(k, rope.get());
            }
        }
        if (cache != null) {
            // a continuous batch runs its first rows() rows only; a plain generation all of them
            NDIndex slots = new NDIndex(":{}, :, {}:{}", cache.rows, slot, slot + t);
            cache.keys[l].set(slots, k);
            cache.values[l].set(slots, v);
            NDIndex upTo = new NDIndex(":{}, :, :{}", cache.rows, slot + t);
            k = cache.keys[l].get(upTo);
            v = cache.values[l].get(upTo);
            k.attach(step);
            v.attach(step);
        }
        int group = c.numHeads() / c.numKvHeads();
        if (group > 1) {
            k = k.repeat(1, group);
            v = v.repeat(1, group);
        }
        NDArray scores = NativeData.mul(q.matMul(k.transpose(0, 1, 3, 2)), (float) c.attention().scale());
        if (c.attention().scoreSoftcap() > 0) scores = softcap(scores, c.attention().scoreSoftcap());
        scores = scores.add(mask.get());
        NDArray probs = scores.softmax(-1);
        probs = hook(HookPoint.pattern(l), probs, info, step);
        NDArray out = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) c.qWidth());
        return linear(out, Name.O_W, Name.O_B, l);
    }

    /**
     * Attention of a kernel pass over the cache on the Java side ({@link AttentionKernel}), through
     * the output projection: [b, t, d_model] in {@code m}. Null (the libtorch route) without a cache,
     * when something hooks the attention pattern (it needs the probabilities as an array), or when
     * the cache has no direct view.
     */
    private NDArray cachedAttention(float[][] qkv, int l, int b, int t, boolean[][] keyValid, int window, KVCache cache, int slot, PassInfo info,
                                    NDManager m) {
        if (cache == null || hooked(HookPoint.pattern(l), info)) return null;
        if (cache.keyView(l) == null || cache.valueView(l) == null) return null;
        float[] out = AttentionKernel.overCache(config, qkv[0], qkv[1], qkv[2], b, t, cache, l, slot, keyValid, window);
        return kernelLinear(out, Name.O_W, Name.O_B, l, m, new Shape(b, t));
    }

    /** Whether anything (an intervention, a row hook or a capture) reads or changes hook {@code name} in this pass. */
    private boolean hooked(String name, PassInfo info) {
        for (HookIntervention r : interventions) {
            if (r.hook().equals(name)) return true;
        }
        for (RowHook h : info.rowHooks) {
            if (h.hook.equals(name)) return true;
        }
        for (ActivationCache c : captures) {
            if (c.wants(name)) return true;
        }
        return false;
    }

    private NDArray linear(NDArray x, Name weight, Name bias, int l) {
        return linear(x, key(weight, l), bias == null ? null : weight(bias, l));
    }

    /** x [..., in] . W^T + bias, W [out, in] stored under {@code weightKey}; result [..., out] in x's manager. */
    private NDArray linear(NDArray x, String weightKey, NDArray bias) {
        Shape s = x.getShape();
        long in = s.get(s.dimension() - 1), rows = s.size() / in;
        Gemv gemv = rows <= gemvRows ? gemvs.get(weightKey) : null;
        if (gemv != null) {
            NDArray y = gemv.apply(x);
            return bias == null ? y : y.add(bias);
        }
        Panels p = panels.get(weightKey);
        if (p != null) {
            NDArray y = panelled(x, p, rows);
            return bias == null ? y : y.add(bias);
        }
        if (bf16 != null) {
            NDArray y = bf16.linear(x, weights.get(weightKey), x.getManager());
            return bias == null ? y : y.add(bias);
        }
        NDArray y = torchProduct(x, weights.get(weightKey), views == null ? null : views.get(weightKey), rows);
        return bias == null ? y : y.add(bias);
    }

    /** x [..., in] . W^T in float32 on libtorch, as W . x^T through {@code view} for few rows (see {@link #FEW_ROWS}). */
    private static NDArray torchProduct(NDArray x, NDArray weight, NDArray view, long rows) {
        if (view == null || rows > FEW_ROWS) return Linear.linear(x, weight, null).singletonOrThrow();
        Shape s = x.getShape();
        NDArray yT = view.matMul(x.reshape(rows, s.get(s.dimension() - 1)).transpose());
        yT.attach(x.getManager());
        return yT.transpose().reshape(s.slice(0, s.dimension() - 1).add(yT.getShape().get(0)));
    }

    /**
     * x [..., in] times a weight held as column panels, on libtorch: each panel's product with its
     * columns of x, summed in float32 panel by panel as the kernel sums them; in BF16 the input is
     * rounded first and the sum once at the end, as {@link Bf16Kernels#linear} rounds its product.
     */
    private NDArray panelled(NDArray x, Panels p, long rows) {
        NDManager m = x.getManager();
        NDArray input = bf16 == null ? x : bf16.rounded(x, m);
        NDArray sum = null;
        for (int k = 0; k < p.weights().size(); k++) {
            NDArray columns = input.get(new NDIndex("..., {}:{}", (long) k * p.width(), (long) (k + 1) * p.width()));
            NDArray y = bf16 != null ? bf16.widenedProduct(columns, p.weights().get(k), m)
                    : torchProduct(columns, p.weights().get(k), p.views() == null ? null : p.views().get(k), rows);
            sum = sum == null ? y : sum.add(y);
        }
        return bf16 == null ? sum : bf16.rounded(sum, m);
    }

    /**
     * The sublayer input (normed) times each of the weights stacked under {@code key}, plus the bias
     * named in {@code biases} (in stacking order), in one pass of the kernel: one array of Java
     * floats [rows, out_i] per weight. Null when the input has too many rows for the kernel or
     * nothing is stacked.
     */
    private float[][] stackedFloats(Normed input, String key, int l, Name... biases) {
        Gemv g = kernelRows(input.x()) ? stacked.get(key) : null;
        if (g == null) return null;
        int[] outs = g.parts();
        float[][] bias = new float[outs.length][];
        for (int p = 0; p < outs.length; p++) bias[p] = stackedBiases.get(key(biases[p], l));
        return KernelPass.split(stackedProduct(input, g), rows(input.x()), g, bias);
    }

    /**
     * A kernel pass's queries and keys (qkv[0], qkv[1]: rows of heads) made ready for attention in
     * place: each head RMS-normed where {@code qNorm} and {@code kNorm} are given (Qwen3), then
     * rotated where {@code rotary} is given (rotary positions; the pass's table for the layer's frequencies).
     */
    static void normAndRotate(float[][] qkv, float[] qNorm, float[] kNorm, float eps, RotaryTable rotary) {
        if (qNorm != null) {
            rmsNormRows(qkv[0], qNorm, eps);
            rmsNormRows(qkv[1], kNorm, eps);
        }
        if (rotary != null) {
            rotary.rotate(qkv[0]);
            rotary.rotate(qkv[1]);
        }
    }

    /**
     * A sublayer's input: the residual stream {@code x} [batch, pos, d_model] and the norm it goes
     * through, applied when asked ({@link #norm(Normed)} for the libtorch array, {@link #floats(Normed)}
     * for Java floats: a product on the kernel asks for those, and an RMSNorm is then computed on the
     * Java side instead of in six libtorch operations).
     */
    private record Normed(NDArray x, Name weight, Name bias, int layer) { }

    private NDArray norm(Normed n) {
        return norm(n.x, n.weight, n.bias, n.layer);
    }

    private float[] floats(Normed n) {
        if (config.family().norm() != FamilySpec.NormKind.RMS) return norm(n).toFloatArray();
        float[] rows = n.x.toFloatArray();
        rmsNormRows(rows, javaWeight(n.weight, n.layer), (float) config.normEps());
        return rows;
    }

    /** A norm weight as Java floats (kept after the first call). */
    private float[] javaWeight(Name name, int layer) {
        return normWeights.computeIfAbsent(key(name, layer), k -> weights.get(k).toFloatArray());
    }

    /**
     * RMSNorm of each row of {@code x} (rows of {@code w.length}) in place, rounded as
     * {@link #rmsNorm} rounds: the mean of squares (summed in double, then rounded to float; libtorch
     * sums in float in its own order, so the two may differ in the last bit), plus eps in float, its
     * square root, then x / root * w per element.
     */
    static void rmsNormRows(float[] x, float[] w, float eps) {
        int d = w.length;
        for (int r = 0; r < x.length / d; r++) {
            int o = r * d;
            double squares = 0;
            for (int i = 0; i < d; i++) {
                float v = x[o + i] * x[o + i];
                squares += v;
            }
            float root = (float) Math.sqrt((float) (squares / d) + eps);
            for (int i = 0; i < d; i++) x[o + i] = x[o + i] / root * w[i];
        }
    }

    /** Whether x [..., in] has few enough rows for the decoding kernel (and the model has one). */
    private boolean kernelRows(NDArray x) {
        return !gemvs.isEmpty() && rows(x) <= gemvRows;
    }

    /**
     * A gated SiLU MLP (stacked only for those) on the kernel: gate and up in one stacked pass, silu(gate) * up on the Java
     * side ({@link GemvKernel#siluTimes}), then the down projection straight from those floats, so
     * the hidden activations never become a libtorch array. Null when the kernel does not take x.
     */
    private NDArray kernelSwiGlu(Normed input, int l) {
        NDArray x = input.x();
        Gemv gateUp = kernelRows(x) ? stacked.get(GATE_UP + l) : null;
        if (gateUp == null) return null;
        int rows = rows(x);
        int inter = gateUp.parts()[0];
        float[] h = new float[rows * inter];
        GemvKernel.siluTimes(stackedProduct(input, gateUp), rows, inter, stackedBiases.get(key(Name.GATE_B, l)),
                stackedBiases.get(key(Name.UP_B, l)), h);
        Shape s = x.getShape();
        return kernelLinear(h, Name.DOWN_W, Name.DOWN_B, l, x.getManager(), s.slice(0, s.dimension() - 1));
    }

    /**
     * The normed input [rows, in] times the stacked matrices of {@code g}: Java floats [rows, g.out()]
     * (the leading values of a per-thread scratch array, valid until this thread's next stacked product).
     */
    private float[] stackedProduct(Normed input, Gemv g) {
        return KernelPass.product(g, floats(input), rows(input.x()));
    }

    /** x [rows, in] (Java floats) times weight^T on the kernel, plus the bias: [lead..., out] in {@code m}. */
    private NDArray kernelLinear(float[] x, Name weight, Name bias, int l, NDManager m, Shape lead) {
        NDArray y = gemvs.get(key(weight, l)).apply(x, m, lead);
        NDArray b = weight(bias, l);
        return b == null ? y : y.add(b);
    }

    /** Rows of x [..., in]: the product of its leading dimensions. */
    private static int rows(NDArray x) {
        Shape s = x.getShape();
        return Math.toIntExact(s.size() / s.get(s.dimension() - 1));
    }

    private NDArray mlp(Normed input, int l) {
        FamilySpec f = config.family();
        NDArray kernel = kernelSwiGlu(input, l);
        if (kernel != null) return kernel;
        NDArray x = norm(input);
        NDArray up = linear(x, Name.UP_W, Name.UP_B, l);
        NDArray h;
        if (f.gatedMlp()) {
            NDArray gate = linear(x, Name.GATE_W, Name.GATE_B, l);
            h = activate(gate).mul(up);
        } else {
            h = activate(up);
        }
        return linear(h, Name.DOWN_W, Name.DOWN_B, l);
    }

    private NDArray activate(NDArray x) {
        return switch (config.family().activation()) {
            case SILU -> x.mul(Activation.sigmoid(x));
            case GELU -> Activation.gelu(x);
            case GELU_TANH -> {
                // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                NDArray cube = x.mul(x).mul(x);
                NDArray inner = NativeData.mul(x.add(NativeData.mul(cube, 0.044715f)), (float) Math.sqrt(2.0 / Math.PI));
                yield NativeData.mul(x, 0.5f).mul(NativeData.add(inner.tanh(), 1f));
            }
        };
    }

    @Override
    public void close() {
        if (bf16 != null) bf16.close();
        if (viewManager != null) viewManager.close();
        manager.close();
    }
}
