package dev.persona.model;

import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The decoder blocks of a pass over the key/value cache with the residual stream as Java floats:
 * every product on the decoding kernel ({@link Gemv}), the norms, rotary embedding, attention
 * ({@link AttentionKernel}), SwiGLU and residual adds on the Java side, and no libtorch call unless
 * something hooks the pass. A decode step of the layer-by-layer route crossed into libtorch some ten
 * times a layer (arrays made from the products, the residual adds, the norms' inputs copied out, a
 * manager per block); leaving them out gained 3% at batch 1 of a 0.5B model (docs/BENCHMARKS.md,
 * session 15: most of a step's remaining serial time is the memory latency of small arrays between
 * products that stream megabytes through the caches).
 *
 * <p>Rounds as the layer-by-layer kernel route rounds, operation for operation (the same Java norms,
 * products, attention and float32 adds), so a pass's outputs are bit for bit the same on either
 * route. Takes families with RMSNorm, rotary positions, a gated SiLU MLP and no sandwich norms or
 * embedding scale (Llama, Mistral, Qwen2, Qwen3); {@link #takes} says which.
 *
 * <p>Layouts: the residual stream [rows = batch x pos, d_model]; queries [rows, heads x head_dim];
 * keys and values [rows, kv_heads x head_dim]; the cache as {@link KVCache} holds it.
 */
final class KernelPass {
    /** What reads or changes the pass's hook points; {@link #NONE} when nothing does. */
    interface Hooks {
        Hooks NONE = new Hooks() {
            @Override
            public boolean hooked(String name) {
                return false;
            }

            @Override
            public float[] apply(String name, float[] x) {
                return x;
            }
        };

        /** Whether anything reads or changes hook {@code name} in this pass. */
        boolean hooked(String name);

        /**
         * The values [rows, d_model] of hook {@code name} after its interventions and readers
         * ({@code x} itself when nothing hooks it or nothing changes it).
         */
        float[] apply(String name, float[] x);
    }

    /** One block's kernel products, its norm weights and biases as Java floats, and its hook names. */
    private record Layer(float[] attnNorm, Gemv qkv, float[][] qkvBias, float[] qNorm, float[] kNorm, float[] frequencies, int window,
                         Gemv o, float[] oBias, float[] mlpNorm, Gemv gateUp, float[] gateBias, float[] upBias, Gemv down, float[] downBias,
                         String residPre, String attnOut, String residMid, String mlpOut, String residPost) { }

    private final ModelConfig config;
    private final Gemv embedding;
    private final Layer[] layers;

    /**
     * @param products the kernel's products by weight key ({@link HookedTransformer#key})
     * @param qkv      each layer's stacked q|k|v product ({@link Gemv#stack})
     * @param gateUp   each layer's stacked gate|up product
     * @param floats   a norm weight or bias as Java floats by name and layer, null when the model has none
     * @param frequencies each layer's rotary inverse frequencies
     */
    KernelPass(ModelConfig config, Function<String, Gemv> products, IntFunction<Gemv> qkv, IntFunction<Gemv> gateUp,
               BiFunction<WeightLayout.Name, Integer, float[]> floats, IntFunction<float[]> frequencies) {
        this.config = config;
        this.embedding = products.apply(HookedTransformer.key(WeightLayout.Name.EMBED, -1));
        this.layers = new Layer[config.numLayers()];
        ModelConfig.Attention shape = config.attention();
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(floats.apply(WeightLayout.Name.ATTN_NORM_W, l), qkv.apply(l),
                    new float[][] {floats.apply(WeightLayout.Name.Q_B, l), floats.apply(WeightLayout.Name.K_B, l), floats.apply(WeightLayout.Name.V_B, l)},
                    config.family().qkNorm() ? floats.apply(WeightLayout.Name.Q_NORM_W, l) : null,
                    config.family().qkNorm() ? floats.apply(WeightLayout.Name.K_NORM_W, l) : null,
                    frequencies.apply(l), shape.sliding(l) ? shape.slidingWindow() : 0,
                    products.apply(HookedTransformer.key(WeightLayout.Name.O_W, l)), floats.apply(WeightLayout.Name.O_B, l),
                    floats.apply(WeightLayout.Name.MLP_NORM_W, l), gateUp.apply(l),
                    floats.apply(WeightLayout.Name.GATE_B, l), floats.apply(WeightLayout.Name.UP_B, l),
                    products.apply(HookedTransformer.key(WeightLayout.Name.DOWN_W, l)), floats.apply(WeightLayout.Name.DOWN_B, l),
                    HookPoint.residPre(l), HookPoint.attnOut(l), HookPoint.residMid(l), HookPoint.mlpOut(l), HookPoint.residPost(l));
        }
    }

    /** Whether a family's blocks are the ones this pass computes (its kernel products present is the caller's check). */
    static boolean takes(FamilySpec f) {
        return f.norm() == FamilySpec.NormKind.RMS && f.positions() == FamilySpec.PositionKind.ROTARY && f.gatedMlp()
                && f.activation() == FamilySpec.Activation.SILU && !f.sandwichNorms() && !f.embedScale();
    }

    /**
     * The residual stream after the last block, [batch x pos, d_model], for tokens {@code ids}
     * [batch x pos] at rotary positions {@code positions} (same layout), whose keys and values go to
     * the cache's slots {@code slot .. slot + pos - 1}; {@code keyValid[b][s]} says which slots hold
     * real tokens. The final norm is the caller's.
     */
    float[] blocks(long[] ids, int batch, int pos, long[] positions, boolean[][] keyValid, KVCache cache, int slot, Hooks hooks) {
        ModelConfig c = config;
        int rows = batch * pos, d = c.dModel();
        float eps = (float) c.normEps();
        float[] x = embedding.rows(ids);
        x = hooks.apply(HookPoint.EMBED, x);
        // one rotary table per set of frequencies (layers with their own, such as sliding ones of another base, get theirs), made at its first layer
        java.util.Map<float[], RotaryTable> tables = new java.util.IdentityHashMap<>(2);
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            x = hooks.apply(layer.residPre, x);

            float[] normed = x.clone();
            HookedTransformer.rmsNormRows(normed, layer.attnNorm, eps);
            float[][] qkv = split(product(layer.qkv, normed, rows), rows, layer.qkv, layer.qkvBias);
            HookedTransformer.normAndRotate(qkv, layer.qNorm, layer.kNorm, eps, rotary(tables, positions, layer.frequencies));
            float[] heads = AttentionKernel.overCache(c, qkv[0], qkv[1], qkv[2], batch, pos, cache, l, slot, keyValid, layer.window);
            float[] attn = linear(layer.o, heads, rows, layer.oBias);
            attn = hooks.apply(layer.attnOut, attn);
            addInto(x, attn, rows * d);
            x = hooks.apply(layer.residMid, x);

            normed = x.clone();
            HookedTransformer.rmsNormRows(normed, layer.mlpNorm, eps);
            int inter = layer.gateUp.parts()[0];
            // every value is written by siluTimes: a per-thread array needs no clearing (a fresh one zeroed 311 KB a layer at 16 rows)
            float[] h = Gemv.scratch(HIDDEN, rows * inter);
            GemvKernel.siluTimes(product(layer.gateUp, normed, rows), rows, inter, layer.gateBias, layer.upBias, h);
            float[] mlp = linear(layer.down, h, rows, layer.downBias);
            mlp = hooks.apply(layer.mlpOut, mlp);
            addInto(x, mlp, rows * d);
            x = hooks.apply(layer.residPost, x);
        }
        return x;
    }

    /** The pass's rotary table for {@code frequencies} (null where the layer has none), made once per pass. */
    private static RotaryTable rotary(java.util.Map<float[], RotaryTable> tables, long[] positions, float[] frequencies) {
        return frequencies == null ? null : tables.computeIfAbsent(frequencies, f -> RotaryTable.of(positions, f));
    }

    /** Per thread: a gated MLP's hidden activations [rows, intermediate], the down projection's input. */
    private static final ThreadLocal<float[]> HIDDEN = ThreadLocal.withInitial(() -> new float[0]);

    /** Per thread: a stacked product's output (a gated MLP's gate|up is 9728 floats a row for Qwen2.5-0.5B). */
    private static final ThreadLocal<float[]> STACKED = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * x [rows, in] . W^T of a stacked product: the leading rows x out values of a per-thread scratch
     * array, valid until this thread's next stacked product.
     */
    static float[] product(Gemv g, float[] x, int rows) {
        float[] y = Gemv.scratch(STACKED, rows * g.out());
        g.products(x, rows, y);
        return y;
    }

    /** x [rows, in] . W^T + bias (float32 adds, after a BF16 product's rounding): a new array [rows, out]. */
    private static float[] linear(Gemv g, float[] x, int rows, float[] bias) {
        float[] y = new float[rows * g.out()];
        g.products(x, rows, y);
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < bias.length; i++) y[r * bias.length + i] += bias[i];
            }
        }
        return y;
    }

    /** x[i] += y[i] for the first n values: the residual add, in float32 as libtorch's add. */
    private static void addInto(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }

    /**
     * A stacked product's output y [rows, g.out()] split into one array [rows, out_i] per stacked
     * matrix, each plus its bias (none where null), in float32 adds.
     */
    static float[][] split(float[] y, int rows, Gemv g, float[][] biases) {
        int[] outs = g.parts();
        float[][] result = new float[outs.length][];
        int offset = 0;
        for (int p = 0; p < outs.length; p++) {
            float[] part = new float[rows * outs[p]];
            float[] bias = biases[p];
            for (int r = 0; r < rows; r++) {
                int from = r * g.out() + offset, to = r * outs[p];
                if (bias == null) {
                    System.arraycopy(y, from, part, to, outs[p]);
                } else {
                    for (int i = 0; i < outs[p]; i++) part[to + i] = y[from + i] + bias[i];
                }
            }
            result[p] = part;
            offset += outs[p];
        }
        return result;
    }
}
