package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Weights held as column panels ({@link Gemv#panel}): the layout, the kernel's products over it,
 * and a model whose wide weights are panelled against the same model with whole rows, on every
 * route a product can take (the kernel, libtorch through views, libtorch's linear, BF16).
 */
class PanelledWeightsTest {
    @BeforeEach
    void needsTheVectorApi() {
        Fixtures.require(Gemv.available(), "the jdk.incubator.vector module (run with --add-modules=jdk.incubator.vector)");
    }

    @Test
    void thePanelIsTheWidestCacheLineMultipleThatDividesTheRowUpToTheLimit() {
        assertEquals(896, Gemv.panelWidth(896), "Qwen2.5-0.5B's model width fits whole");
        assertEquals(2048, Gemv.panelWidth(2048));
        assertEquals(1216, Gemv.panelWidth(4864), "its MLP width: four panels");
        assertEquals(2048, Gemv.panelWidth(4096));
        assertEquals(1376, Gemv.panelWidth(11008), "Llama 2 7B's MLP width");
        assertEquals(2048, Gemv.panelWidth(14336), "Llama 3 8B's");
        assertEquals(1184, Gemv.panelWidth(18944), "Qwen2.5-7B's");
        assertEquals(3000, Gemv.panelWidth(3000), "no divisor is a multiple of 16: whole rows");
    }

    @Test
    void panellingRearrangesTheMatrixInPlace() throws Exception {
        int out = 5, in = 96, width = 32;
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = i;
        try (Bf16Kernels k = Bf16Kernels.load(ai.djl.Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            NDArray whole = m.create(w, new Shape(out, in));
            NDArray weight = whole.duplicate();
            NDArray panels = Gemv.panel(weight, width);
            assertEquals(new Shape(3, out, width), panels.getShape());
            for (int p = 0; p < 3; p++) {
                float[] want = whole.get(new NDIndex(":, {}:{}", p * width, (p + 1) * width)).toFloatArray();
                assertArrayEquals(want, panels.get(p).toFloatArray(), 0f, "panel " + p);
            }
            // BF16 weights (2 bytes an element) move the same way
            NDArray narrow = k.narrow(whole, m);
            NDArray bf16Panels = Gemv.panel(k.narrow(whole, m), width);
            for (int p = 0; p < 3; p++) {
                float[] want = k.widen(narrow, m).get(new NDIndex(":, {}:{}", p * width, (p + 1) * width)).toFloatArray();
                assertArrayEquals(want, k.widen(bf16Panels.get(p), m).toFloatArray(), 0f, "BF16 panel " + p);
            }
        }
    }

    /**
     * A panelled product is each panel's product (summed as a matrix of the panel's width sums its
     * rows) added up panel by panel, bit for bit, across buffer boundaries and for 1-9 rows; in BF16
     * with the input rounded first and the sum once. Stacked panelled matrices equal their own products.
     */
    @Test
    void panelledProductsAreThePanelsProductsSummedInOrder() throws Exception {
        Random r = new Random(31);
        int out = 70, in = 192, width = 64, panels = in / width;
        try (Bf16Kernels k = Bf16Kernels.load(ai.djl.Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            for (boolean bf16 : new boolean[] {false, true}) {
                float[] w = new float[out * in];
                for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
                NDArray whole = m.create(w, new Shape(out, in));
                List<Gemv> own = new ArrayList<>();
                for (int p = 0; p < panels; p++) {
                    NDArray columns = whole.get(new NDIndex(":, {}:{}", p * width, (p + 1) * width)).duplicate();
                    own.add(Gemv.of(bf16 ? k.narrow(columns, m) : columns));
                }
                NDArray stacked = Gemv.panel(bf16 ? k.narrow(whole, m) : whole.duplicate(), width);
                List<NDArray> views = new ArrayList<>();
                for (int p = 0; p < panels; p++) views.add(stacked.get(p));
                // buffers of 30 rows: a panel's rows span three, and the workers' shares cross them
                Gemv panelled = Gemv.panelled(views, 30L * width * (bf16 ? 2 : 4));
                for (int rows = 1; rows <= 9; rows++) {
                    float[] x = new float[rows * in];
                    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                    float[] got = new float[rows * out];
                    panelled.products(x.clone(), rows, got);
                    float[] rounded = x.clone();
                    if (bf16) Gemv.roundToBf16(rounded);
                    float[] want = new float[rows * out];
                    for (int p = 0; p < panels; p++) {
                        float[] columns = new float[rows * width];
                        for (int row = 0; row < rows; row++) System.arraycopy(rounded, row * in + p * width, columns, row * width, width);
                        float[] y = new float[rows * out];
                        own.get(p).multiply(columns, rows, y);
                        for (int i = 0; i < want.length; i++) want[i] = p == 0 ? y[i] : want[i] + y[i];
                    }
                    if (bf16) Gemv.roundToBf16(want);
                    assertArrayEquals(want, got, 0f, (bf16 ? "BF16, " : "F32, ") + rows + " rows");
                }
                Gemv both = Gemv.stack(List.of(panelled, panelled));
                float[] x = new float[2 * in];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] pair = new float[2 * 2 * out], single = new float[2 * out];
                both.products(x.clone(), 2, pair);
                panelled.products(x.clone(), 2, single);
                for (int row = 0; row < 2; row++) {
                    for (int half = 0; half < 2; half++) {
                        for (int o = 0; o < out; o++) {
                            assertEquals(single[row * out + o], pair[row * 2 * out + half * out + o], 0f, "stacked, row " + row + ", part " + half);
                        }
                    }
                }
            }
        }
    }

    private static final String WIDE = "{\"model_type\":\"qwen2\",\"hidden_size\":512,\"num_hidden_layers\":2,"
            + "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"intermediate_size\":1024,\"vocab_size\":300,"
            + "\"tie_word_embeddings\":false,\"rope_theta\":10000.0,\"rms_norm_eps\":1e-6,\"max_position_embeddings\":512}";

    /** A 512-wide model (wide enough for libtorch's W . x^T views) whose 512- and 1024-wide weights split into 256-wide panels. */
    private static ModelConfig wide() throws Exception {
        return ModelConfig.parse((ObjectNode) new ObjectMapper().readTree(WIDE), Path.of("shape:wide-test"));
    }

    /** BF16 widened above 4 rows, as on a CPU without BF16 instructions: the route on which BF16 weights are panelled. */
    private static HookedTransformer load(ModelConfig c, Precision precision, int panelMax) throws Exception {
        return Fixtures.withProperties(Map.of("persona.gemv.panel-max", Integer.toString(panelMax), "persona.bf16.native", "false"),
                () -> HookedTransformer.random(c, ai.djl.Device.cpu(), 7, precision));
    }

    /**
     * Where libtorch multiplies in BF16 (a CPU with BF16 instructions, or forced), BF16 weights keep
     * their rows, since its kernel rounds a whole product once; its passes of 24 and 100 rows agree
     * with the widened route's to BF16 rounding, and every product is a BF16 value.
     */
    @Test
    void bf16WeightsKeepTheirRowsWhereLibtorchMultipliesInBf16() throws Exception {
        ModelConfig c = wide();
        Random r = new Random(5);
        try (HookedTransformer widened = load(c, Precision.BF16, 256);
             HookedTransformer nat = Fixtures.withProperties(Map.of("persona.gemv.panel-max", "256", "persona.bf16.native", "true"),
                     () -> HookedTransformer.random(c, ai.djl.Device.cpu(), 7, Precision.BF16))) {
            assertEquals(new Shape(4, 512, 256), widened.weight(WeightLayout.Name.DOWN_W, 0).getShape(), "panels on the widened route");
            assertEquals(new Shape(512, 1024), nat.weight(WeightLayout.Name.DOWN_W, 0).getShape(), "whole rows on BF16's own route");
            assertTrue(nat.decodesThroughKernel());
            for (int n : new int[] {1, 24, 100}) {
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) ids[i] = r.nextInt(300);
                float[] a = widened.forward(ids).data(), b = nat.forward(ids).data();
                double scale = 0, diff = 0;
                for (int i = 0; i < a.length; i++) {
                    scale = Math.max(scale, Math.abs(a[i]));
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                }
                assertTrue(scale > 0 && diff <= 0.05 * scale, n + " rows: max |widened - native| " + diff + " against max |logit| " + scale);
                try (ActivationCache cache = nat.capture(List.of(HookPoint.mlpOut(0), HookPoint.attnOut(1)))) {
                    nat.forward(ids);
                    for (String h : List.of(HookPoint.mlpOut(0), HookPoint.attnOut(1))) {
                        float[] out = cache.get(h).data();
                        for (int i = 0; i < out.length; i++) assertEquals(Bf16ComputeTest.bf16(out[i]), out[i], 0f, n + " rows: " + h + "[" + i + "] is a BF16 value");
                    }
                }
            }
        }
    }

    @Test
    void bf16InstructionsAreReadFromTheCpuFlags() {
        assertTrue(Bf16Kernels.namesBf16Dot("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni"));
        assertTrue(Bf16Kernels.namesBf16Dot("flags : fpu amx_bf16 amx_tile"));
        assertTrue(!Bf16Kernels.namesBf16Dot("flags\t\t: fpu sse2 avx2 fma avx512f avx512bw"), "AVX-512 without its BF16 extension");
        assertTrue(!Bf16Kernels.namesBf16Dot("flags : avx512_bf16x"), "a flag is matched whole");
    }

    /**
     * The same random model with whole rows and with panels (BF16 on its widened route): logits of passes of 1 row (the kernel),
     * 24 rows (libtorch through views in F32, widened BF16 products) and 100 rows (libtorch's linear)
     * agree to float rounding, BF16 products are rounded once, greedy decoding picks the same
     * tokens, the model saves the matrices it stands for, and it holds its native arrays steady
     * across passes.
     */
    @Test
    void aModelWithPanelledWeightsComputesAsWithWholeRows() throws Exception {
        ModelConfig c = wide();
        Random r = new Random(3);
        List<int[]> lengths = new ArrayList<>();
        for (int n : new int[] {1, 24, 100}) {
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = r.nextInt(300);
            lengths.add(ids);
        }
        for (Precision precision : Precision.values()) {
            try (HookedTransformer whole = load(c, precision, 2048); HookedTransformer panelled = load(c, precision, 256)) {
                assertTrue(whole.decodesThroughKernel() && panelled.decodesThroughKernel(), "a 512-wide model decodes on the kernel");
                assertEquals(new Shape(4, 512, 256), panelled.weight(WeightLayout.Name.DOWN_W, 0).getShape(), "the down projection in panels");
                assertEquals(new Shape(300, 512), panelled.weight(WeightLayout.Name.EMBED, -1).getShape(), "the embedding table keeps its rows");
                for (int[] ids : lengths) {
                    float[] a = whole.forward(ids).data(), b = panelled.forward(ids).data();
                    double scale = 0, diff = 0;
                    for (int i = 0; i < a.length; i++) {
                        scale = Math.max(scale, Math.abs(a[i]));
                        diff = Math.max(diff, Math.abs(a[i] - b[i]));
                    }
                    // F32: summation order only. BF16: a product's rounding to BF16 may flip by an ulp (2^-8 relative) and carry on
                    double bound = precision == Precision.F32 ? 1e-5 * scale : 0.05 * scale;
                    assertTrue(diff <= bound, precision + ", " + ids.length + " rows: max |whole - panelled| " + diff + " against max |logit| " + scale);
                    assertTrue(scale > 0, "logits are not all zero");
                }
                if (precision == Precision.BF16) {
                    // a panelled product rounds its sum to BF16 once, on libtorch's route as on the kernel's
                    for (int[] ids : lengths) {
                        try (ActivationCache cache = panelled.capture(List.of(HookPoint.mlpOut(0)))) {
                            panelled.forward(ids);
                            float[] out = cache.get(HookPoint.mlpOut(0)).data();
                            for (int i = 0; i < out.length; i++) {
                                assertEquals(Bf16ComputeTest.bf16(out[i]), out[i], 0f, ids.length + " rows: mlp_out[" + i + "] is a BF16 value");
                            }
                        }
                    }
                }
                if (precision == Precision.F32) {
                    GenerationOptions greedy = GenerationOptions.greedy(10).withStopIds(Set.of());
                    List<int[]> prompts = List.of(lengths.get(1), new int[] {5, 9});
                    List<int[]> want = new Generator(whole).generate(prompts, greedy), got = new Generator(panelled).generate(prompts, greedy);
                    for (int i = 0; i < prompts.size(); i++) assertArrayEquals(want.get(i), got.get(i), "greedy tokens, prompt " + i);
                }
                assertEquals(whole.heldWeightBytes(), panelled.heldWeightBytes(), precision + ": held bytes");
                // saved, a panelled model writes the matrices it stands for: loaded back with whole rows it is the same model
                Path saved = java.nio.file.Files.createTempDirectory("panelled");
                try {
                    panelled.save(saved);
                    java.nio.file.Files.writeString(saved.resolve("config.json"), WIDE);
                    try (HookedTransformer back = Fixtures.withProperties(Map.of("persona.bf16.native", "false"),
                            () -> HookedTransformer.load(saved, ai.djl.Device.cpu(), false, precision))) {
                        for (int[] ids : lengths) {
                            assertArrayEquals(whole.forward(ids).data(), back.forward(ids).data(), 0f, precision + ", " + ids.length + " rows, saved and loaded");
                        }
                    }
                } finally {
                    try (var files = java.nio.file.Files.list(saved)) {
                        for (Path f : files.toList()) java.nio.file.Files.delete(f);
                    }
                    java.nio.file.Files.delete(saved);
                }
                int before = panelled.liveNativeArrays();
                for (int i = 0; i < 3; i++) {
                    new Generator(panelled).generate(List.of(new int[] {1, 2, 3}), GenerationOptions.sample(6, 1.0, i));
                    for (int[] ids : lengths) panelled.forward(ids);
                }
                assertEquals(before, panelled.liveNativeArrays(), precision + ": live native arrays after panelled passes");
            }
        }
    }
}
