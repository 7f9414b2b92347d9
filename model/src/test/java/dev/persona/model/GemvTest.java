package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The decoding kernel ({@link Gemv}) against exact sums and against libtorch, and its effects on a model. */
class GemvTest {
    @BeforeEach
    void needsTheVectorApi() {
        Fixtures.require(Gemv.available(), "the jdk.incubator.vector module (run with --add-modules=jdk.incubator.vector)");
    }

    @ParameterizedTest(name = "{0} x {1}, chunks of {2} bytes")
    @CsvSource({
        "37, 100, 1073741824",   // odd sizes: a tail after the last whole pair of vectors
        "129, 896, 1073741824",  // Qwen2.5-0.5B's width, and more rows than the worker split is even for
        "1000, 33, 4096",        // shorter than one vector pair; the matrix split into 31 buffers
        "4864, 896, 1048576",    // an MLP projection in 17 buffers, rows split across workers mid-buffer
    })
    void productsEqualExactSumsWithinFloatRounding(int out, int in, long chunkBytes) {
        Random r = new Random(out * 31L + in);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray weight = m.create(w, new Shape(out, in)).duplicate();
            Gemv g = Gemv.of(weight, chunkBytes);
            // 1-7 rows go output by output; from 8 two outputs at a time, with leftover rows (9, 13) and an odd output at the end (37, 129)
            for (int rows : new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16}) {
                float[] x = new float[rows * in];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] y = new float[rows * out];
                g.multiply(x, rows, y);
                for (int k = 0; k < rows; k++) {
                    for (int o = 0; o < out; o++) {
                        double exact = 0, scale = 0;
                        for (int i = 0; i < in; i++) {
                            exact += (double) x[k * in + i] * w[o * in + i];
                            scale += Math.abs((double) x[k * in + i] * w[o * in + i]);
                        }
                        // float32 sums of `in` products: error within in * 2^-24 of the sum of magnitudes
                        double bound = in * 6e-8 * scale + 1e-30;
                        assertTrue(Math.abs(y[k * out + o] - exact) <= bound,
                                rows + " rows, row " + k + ", output " + o + ": " + y[k * out + o] + " vs exact " + exact + " (bound " + bound + ")");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} rows of {2}, BF16 {1}")
    @CsvSource({"7, false, 200", "8, false, 200", "13, false, 200", "35, false, 200", "7, true, 200", "8, true, 200", "13, true, 200", "16, true, 200",
            "8, true, 40", "13, true, 2200", "8, false, 20", "13, false, 2200", "16, false, 2200", "10, false, 896", "64, false, 896"})
    void aRowsResultDoesNotDependOnTheOtherRowsOfItsCall(int rows, boolean bf16, int in) {
        // an odd number of outputs in buffers of 37 rows: the float32 tile's steps end with 1-3 outputs on the one-at-a-time loop;
        // BF16 from 8 rows widens blocks of weight rows for groups of four rows (13: a row left over); rows of 200 a tail of 8,
        // of 40 nothing but a tail, of 2200 three column blocks of the BF16 tile and a tail of 24; float32 rows of 20 are
        // narrower than one pair of vectors (no tile), of 2200 three column blocks of the tile, each tile resumed twice;
        // float32 rows go to the tile in groups of six and four (8: 4 + 4, 10: 6 + 4, 13: 6 + 6 and one row alone, 64: ten sixes and a four)
        int out = 301;
        Random r = new Random(5);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        try (Bf16Kernels kernels = Bf16Kernels.load(ai.djl.Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            NDArray weight = m.create(w, new Shape(out, in)).duplicate();
            Gemv g = Gemv.of(bf16 ? kernels.narrow(weight, m) : weight, (bf16 ? 2L : 4L) * 37 * in);
            float[] x = new float[rows * in];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            float[] all = new float[rows * out];
            g.multiply(x, rows, all);
            for (int k = 0; k < rows; k++) {
                float[] one = new float[out];
                g.multiply(java.util.Arrays.copyOfRange(x, k * in, (k + 1) * in), 1, one);
                // bit for bit: a batched decode gives each row what it would get alone
                assertArrayEquals(java.util.Arrays.copyOfRange(all, k * out, (k + 1) * out), one, 0f, "row " + k + " of " + rows);
            }
        }
    }

    @Test
    void applyMatchesLibtorchsProductForBatchedActivations() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(3);
            NDArray w = m.randomNormal(new Shape(640, 320));
            NDArray x = m.randomNormal(new Shape(2, 3, 320));
            NDArray ours = Gemv.of(w).apply(x);
            NDArray torch = x.matMul(w.transpose());
            assertEquals(new Shape(2, 3, 640), ours.getShape());
            float diff = ours.sub(torch).abs().max().getFloat();
            assertTrue(diff < 1e-4f, "max |ours - libtorch| " + diff);
        }
    }

    @Test
    void decodingThroughTheKernelGreedyEqualsLibtorchAndRestoresTorchThreadsAndLeaksNothing() throws Exception {
        Path dir = Fixtures.project("testdata/families/qwen2");
        int[] prompt = {5, 17, 3, 29, 42, 8};
        GenerationOptions greedy = GenerationOptions.greedy(12).withStopIds(java.util.Set.of());
        int[] plain;
        try (HookedTransformer m = HookedTransformer.load(dir, Fixtures.device())) {
            assertTrue(!m.decodesThroughKernel(), "a 48-wide model stays on libtorch by default");
            assertTrue(Double.isNaN(m.weightReadGbps(0)), "no kernel weights to read");
            plain = new Generator(m).generate(List.of(prompt), greedy).get(0);
        }
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()))) {
            assertTrue(m.decodesThroughKernel());
            double read = m.weightReadGbps(0);
            assertTrue(read > 0 && Double.isFinite(read), "a read of the kernel's weights: " + read + " GB/s");
            int[] kernel = new Generator(m).generate(List.of(prompt), greedy).get(0);
            assertArrayEquals(plain, kernel, "greedy tokens through the kernel");
            assertEquals(threads, ai.djl.pytorch.jni.JniUtils.getNumThreads(), "libtorch's threads after kernel passes");
            int before = m.manager().getManagedArrays().size();
            for (int i = 0; i < 5; i++) new Generator(m).generate(List.of(prompt, new int[] {7, 7, 1}), GenerationOptions.sample(8, 1.0, i));
            for (int i = 0; i < 20; i++) m.forward(prompt);
            assertEquals(before, m.manager().getManagedArrays().size(), "live native arrays after kernel generations and forwards");
        }
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device(), false, Precision.BF16))) {
            assertTrue(m.decodesThroughKernel(), "BF16 weights take the kernel too");
            new Generator(m).generate(List.of(prompt), greedy);
            int before = m.manager().getManagedArrays().size();
            for (int i = 0; i < 5; i++) new Generator(m).generate(List.of(prompt, new int[] {7, 7, 1}), GenerationOptions.sample(8, 1.0, i));
            for (int i = 0; i < 20; i++) m.forward(prompt);
            assertEquals(before, m.manager().getManagedArrays().size(), "live native arrays after BF16 kernel generations and forwards");
            assertEquals(threads, ai.djl.pytorch.jni.JniUtils.getNumThreads(), "libtorch's threads after BF16 kernel passes");
        }
    }

    /**
     * A batch whose prompt pass is larger than 512 rows: on the kernel's models the distinct prompts go
     * in passes of at most 512 rows (here 2 prompts of 200 tokens a pass), and the tokens are those of
     * libtorch's route, whose one pass takes every row; nothing stays allocated.
     */
    @Test
    void promptPassesInKernelSizedPiecesGenerateLibtorchsTokens() throws Exception {
        Path dir = Fixtures.project("testdata/families/qwen2");
        Random r = new Random(3);
        List<int[]> prompts = new java.util.ArrayList<>();
        for (int len : new int[] {200, 70, 130, 200, 1, 160}) prompts.add(r.ints(len, 1, 90).toArray());
        prompts.add(prompts.get(2)); // a repeated prompt shares its row of a pass
        List<GenerationOptions> runs = List.of(GenerationOptions.greedy(10), GenerationOptions.sample(10, 1.0, 1), GenerationOptions.sample(10, 1.0, 2));
        List<List<int[]>> plain = new java.util.ArrayList<>();
        try (HookedTransformer m = HookedTransformer.load(dir, Fixtures.device())) {
            assertEquals(Integer.MAX_VALUE, m.promptsPerPass(20), "libtorch's route keeps one pass");
            for (GenerationOptions o : runs) {
                Generator g = new Generator(m);
                plain.add(g.generate(prompts, o.withStopIds(java.util.Set.of())));
                assertEquals(1, g.lastPrefillPasses);
            }
        }
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()))) {
            assertEquals(25, m.promptsPerPass(20), "512 rows of 20-token prompts");
            assertEquals(1, m.promptsPerPass(600), "a prompt longer than 512 tokens goes alone");
            int before = m.manager().getManagedArrays().size();
            for (int k = 0; k < runs.size(); k++) {
                Generator g = new Generator(m);
                List<int[]> kernel = g.generate(prompts, runs.get(k).withStopIds(java.util.Set.of()));
                assertEquals(6, g.lastPrefillRows, "one row per distinct prompt");
                assertEquals(2, m.promptsPerPass(200));
                assertEquals(3, g.lastPrefillPasses, "six distinct prompts in passes of two");
                for (int i = 0; i < prompts.size(); i++) assertArrayEquals(plain.get(k).get(i), kernel.get(i), "run " + k + ", row " + i);
            }
            assertEquals(before, m.manager().getManagedArrays().size(), "live native arrays after split prompt passes");
        }
    }

    /**
     * The head's logits as Java floats ({@link HookedTransformer#lastLogits}): on the kernel written
     * straight into the caller's array, bit for bit what the head's native array holds, a new array
     * only when the caller's has another length; Gemma 2 (soft-capped logits) takes libtorch's head.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2", "gemma2"})
    void lastLogitsGoIntoTheCallersArrayAsTheHeadComputesThem(String family) throws Exception {
        Path dir = Fixtures.project("testdata/families/" + family);
        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()));
             NDManager step = m.manager().newSubManager()) {
            int vocab = m.config().vocabSize();
            int[][] pos = {{0, 1, 2}, {0, 1, 2}};
            boolean[][] valid = {{true, true, true}, {false, true, true}};
            long[] ids = {5, 17, 3, 0, 7, 1};
            float[] expected = m.run(step, step.create(ids, new Shape(2, 3)), new HookedTransformer.PassInfo(true, pos, valid), valid, null, 0, true)
                    .toFloatArray();
            float[] into = new float[2 * vocab];
            float[] got = m.lastLogits(step, step.create(ids, new Shape(2, 3)), new HookedTransformer.PassInfo(true, pos, valid), valid, null, 0, into);
            org.junit.jupiter.api.Assertions.assertSame(into, got, "the caller's array, when it has [rows x vocab] floats");
            assertArrayEquals(expected, got);
            float[] other = m.lastLogits(step, step.create(ids, new Shape(2, 3)), new HookedTransformer.PassInfo(true, pos, valid), valid, null, 0,
                    new float[vocab]);
            assertEquals(2 * vocab, other.length, "a new array when the caller's is of another length");
            assertArrayEquals(expected, other);
        }
    }

    /**
     * Every family's test model generating through the kernel, where attention over the cache runs on
     * the Java side (AttentionKernel: GQA, sliding windows, soft caps, learned positions, q/k norms),
     * for a padded batch of two prompts: the same greedy and sampled tokens as libtorch's route, with
     * whole weight rows and with every linear weight in column panels.
     */
    @org.junit.jupiter.api.TestFactory
    java.util.stream.Stream<org.junit.jupiter.api.DynamicTest> cachedAttentionOnTheJavaSideGeneratesLibtorchsTokens() throws Exception {
        List<int[]> prompts = List.of(new int[] {5, 17, 3, 29, 42, 8, 11, 2, 19}, new int[] {7, 7, 1});
        GenerationOptions greedy = GenerationOptions.greedy(12).withStopIds(java.util.Set.of());
        List<org.junit.jupiter.api.DynamicTest> tests = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> dirs = java.nio.file.Files.list(Fixtures.project("testdata/families"))) {
            for (Path dir : dirs.filter(java.nio.file.Files::isDirectory).sorted().toList()) {
                tests.add(org.junit.jupiter.api.DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
                    // sampled tokens too: a draw moves with any logit that is more than float noise off, greedy only with the top one
                    List<GenerationOptions> runs = List.of(greedy, GenerationOptions.sample(12, 1.0, 1), GenerationOptions.sample(12, 1.0, 2),
                            GenerationOptions.sample(12, 1.0, 3));
                    List<List<int[]>> plain = new java.util.ArrayList<>();
                    try (HookedTransformer m = HookedTransformer.load(dir, Fixtures.device())) {
                        for (GenerationOptions o : runs) plain.add(new Generator(m).generate(prompts, o.withStopIds(java.util.Set.of())));
                    }
                    // whole rows, then every linear weight in column panels of 16 (the test models are 48-80 wide)
                    for (Integer panelMax : new Integer[] {null, 16}) {
                        try (HookedTransformer m = Fixtures.throughDecodingKernel(() -> HookedTransformer.load(dir, Fixtures.device()), panelMax)) {
                            for (int k = 0; k < runs.size(); k++) {
                                List<int[]> kernel = new Generator(m).generate(prompts, runs.get(k).withStopIds(java.util.Set.of()));
                                for (int r = 0; r < prompts.size(); r++) {
                                    assertArrayEquals(plain.get(k).get(r), kernel.get(r),
                                            dir.getFileName() + (panelMax == null ? "" : ", panels of " + panelMax) + ", run " + k + ", row " + r);
                                }
                            }
                        }
                    }
                }));
            }
        }
        return tests.stream();
    }

    @Test
    void bf16ProductsRoundInputsAndOutputsAsTheBf16KernelsDo() {
        Random r = new Random(9);
        int in = 200, out = 70;
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian() * 0.2f;
        try (Bf16Kernels k = Bf16Kernels.load(ai.djl.Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            NDArray wb = k.narrow(m.create(w, new Shape(out, in)), m);
            Gemv g = Gemv.of(wb);
            for (int rows : new int[] {1, 2, 3, 4, 5, 6, 8, 13, 16}) { // from 8 rows each weight row is widened once for four rows
                float[] x = new float[rows * in];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] y = g.apply(m.create(x, new Shape(rows, in))).toFloatArray();
                int exact = 0;
                for (int i = 0; i < rows; i++) {
                    for (int o = 0; o < out; o++) {
                        double sum = 0;
                        for (int j = 0; j < in; j++) sum += (double) Bf16ComputeTest.bf16(x[i * in + j]) * Bf16ComputeTest.bf16(w[o * in + j]);
                        float want = Bf16ComputeTest.bf16((float) sum), got = y[i * out + o];
                        assertEquals(Bf16ComputeTest.bf16(got), got, 0.0, "output is a BF16 value");
                        assertTrue(Math.abs(got - want) <= Bf16ComputeTest.ulp(want), rows + " rows [" + i + "," + o + "]: " + got + " vs " + want);
                        if (got == want) exact++;
                    }
                }
                assertTrue(exact >= 0.97 * rows * out, rows + " rows: only " + exact + " of " + rows * out + " exactly the correctly rounded product");
            }
        }
    }

    @Test
    void stackedProductsEqualEachMatrixsOwnBitForBit() throws Exception {
        Random r = new Random(13);
        int in = 96;
        int[] outs = {80, 16, 16};
        try (Bf16Kernels k = Bf16Kernels.load(ai.djl.Device.cpu()); NDManager m = NDManager.newBaseManager()) {
            for (boolean bf16 : new boolean[] {false, true}) {
                List<Gemv> parts = new java.util.ArrayList<>();
                for (int out : outs) {
                    float[] w = new float[out * in];
                    for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
                    NDArray weight = m.create(w, new Shape(out, in)).duplicate();
                    // a matrix in two buffers, so a stacked product crosses chunk boundaries inside one part too
                    parts.add(Gemv.of(bf16 ? k.narrow(weight, m) : weight, 4L * 40 * in / (bf16 ? 2 : 1)));
                }
                Gemv stacked = Gemv.stack(parts);
                assertArrayEquals(outs, stacked.parts());
                assertEquals(112, stacked.out());
                for (int rows : new int[] {1, 2, 3, 4, 5, 6, 8, 11}) { // from 8 rows float32 outputs go in pairs
                    float[] x = new float[rows * in];
                    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                    float[] all = new float[rows * 112];
                    stacked.products(x.clone(), rows, all);
                    int offset = 0;
                    for (int p = 0; p < outs.length; p++) {
                        float[] own = new float[rows * outs[p]];
                        parts.get(p).products(x.clone(), rows, own);
                        for (int row = 0; row < rows; row++) {
                            float[] got = java.util.Arrays.copyOfRange(all, row * 112 + offset, row * 112 + offset + outs[p]);
                            float[] want = java.util.Arrays.copyOfRange(own, row * outs[p], (row + 1) * outs[p]);
                            assertArrayEquals(want, got, 0f, (bf16 ? "BF16" : "F32") + ", " + rows + " rows, part " + p + ", row " + row);
                        }
                        offset += outs[p];
                    }
                }
            }
        }
    }

    @Test
    void siluTimesMatchesLibtorchsGatedActivation() {
        Random r = new Random(17);
        int rows = 3, inter = 77; // not a whole number of vectors: the scalar tail runs too
        float[] gateUp = new float[rows * 2 * inter];
        for (int i = 0; i < gateUp.length; i++) gateUp[i] = (float) (r.nextGaussian() * 4);
        float[] gateBias = new float[inter], upBias = new float[inter];
        for (int i = 0; i < inter; i++) {
            gateBias[i] = (float) r.nextGaussian();
            upBias[i] = (float) r.nextGaussian();
        }
        try (NDManager m = NDManager.newBaseManager()) {
            for (boolean biased : new boolean[] {false, true}) {
                float[] h = new float[rows * inter];
                GemvKernel.siluTimes(gateUp, rows, inter, biased ? gateBias : null, biased ? upBias : null, h);
                NDArray both = m.create(gateUp, new Shape(rows, 2, inter));
                NDArray g = both.get(":, 0, :"), u = both.get(":, 1, :");
                if (biased) {
                    g = g.add(m.create(gateBias));
                    u = u.add(m.create(upBias));
                }
                // the libtorch path of HookedTransformer.activate and mlp: x * sigmoid(x), times up
                float[] want = g.mul(ai.djl.nn.Activation.sigmoid(g)).mul(u).toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    // a few float roundings apart at most (exp and the division are within an ulp or two of libtorch's)
                    float tolerance = 4 * Math.ulp(Math.abs(want[i])) + 1e-30f;
                    assertTrue(Math.abs(h[i] - want[i]) <= tolerance, (biased ? "biased " : "") + "unit " + i + ": " + h[i] + " vs libtorch " + want[i]);
                }
            }
        }
    }

    @Test
    void theIntSumReadsEveryWholeIntOfARangeOnce() {
        Random r = new Random(41);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(4 * 5000 + 3).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) b.put((byte) r.nextInt());
        for (int trial = 0; trial < 200; trial++) {
            int from = 4 * r.nextInt(trial < 20 ? 3 : 2500), to = from + r.nextInt(b.limit() - from + 1);
            int expected = 0;
            for (int i = from; i + 4 <= to; i += 4) expected += b.getInt(i);
            assertEquals(expected, GemvKernel.sumInts(b, from, to), "ints of bytes [" + from + ", " + to + ")");
        }
    }

    @Test
    void theWeightReadProbeReadsEachDistinctWeightOncePerPass() {
        try (NDManager m = NDManager.newBaseManager()) {
            Random r = new Random(43);
            float[][] w = new float[2][];
            Gemv[] g = new Gemv[2];
            int expected = 0;
            for (int k = 0; k < 2; k++) {
                w[k] = new float[300 * 96 + k * 96];
                for (int i = 0; i < w[k].length; i++) {
                    w[k][i] = (float) r.nextGaussian();
                    expected += Float.floatToRawIntBits(w[k][i]);
                }
                // small buffers: several per matrix, each split across the workers
                g[k] = Gemv.of(m.create(w[k], new Shape(300 + k, 96)).duplicate(), 4096);
            }
            // a stacked product shares its matrices' buffers: read once, as a decode step reads them
            List<Gemv> all = List.of(g[0], g[1], Gemv.stack(List.of(g[0], g[1])));
            assertEquals(Gemv.weightBuffers(List.of(g[0], g[1])).size(), Gemv.weightBuffers(all).size());
            assertEquals(expected, Gemv.readOnce(Gemv.weightBuffers(all)), "the sum of every weight's bits, each once");
            double gbps = Gemv.weightReadGbps(all, 0.05);
            assertTrue(gbps > 0 && Double.isFinite(gbps), "GB/s " + gbps);
        }
    }

    @Test
    void thePoolRunsEveryIndexOnceWhateverTheSplit() {
        Random r = new Random(29);
        for (int trial = 0; trial < 300; trial++) {
            int total = 1 + r.nextInt(trial < 50 ? 8 : 5000);
            int step = 1 + r.nextInt(trial % 3 == 0 ? 3 : 400);
            java.util.concurrent.atomic.AtomicIntegerArray runs = new java.util.concurrent.atomic.AtomicIntegerArray(total);
            Gemv.runShared((from, to) -> {
                assertTrue(from < to && to - from <= step, "a step of [" + from + ", " + to + ") for steps of " + step);
                for (int i = from; i < to; i++) runs.incrementAndGet(i);
            }, total, step);
            for (int i = 0; i < total; i++) assertEquals(1, runs.get(i), "index " + i + " of " + total + " (steps of " + step + ")");
        }
    }

    @Test
    void aStalledThreadsUnstartedRowsAreTakenOver() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "one core: the pool has no worker to stall");
        int total = 20_000, step = 50, stalled = total / 2;
        String[] ranBy = new String[total];
        java.util.concurrent.atomic.AtomicReference<String> staller = new java.util.concurrent.atomic.AtomicReference<>();
        Gemv.runShared((from, to) -> {
            if (from == stalled) {
                // as a thread preempted by another process in the middle of its first step
                staller.set(Thread.currentThread().getName());
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            double busy = 0;
            for (int i = from; i < to; i++) {
                for (int k = 0; k < 2000; k++) busy += Math.sqrt(i + k);
                ranBy[i] = Thread.currentThread().getName() + (busy < 0 ? "" : "");
            }
        }, total, step);
        assertTrue(staller.get() != null, "no step started at index " + stalled);
        long takenOver = java.util.stream.IntStream.range(stalled + step, total).filter(i -> !ranBy[i].equals(staller.get())).count();
        // the stalled thread's share beyond its step in flight was all there was left to do once the other finished its own
        assertTrue(takenOver > (total - stalled - step) / 2, takenOver + " of the stalled share's " + (total - stalled - step) + " later indices ran on other threads");
        for (int i = 0; i < total; i++) assertTrue(ranBy[i] != null, "index " + i + " never ran");
    }

    @Test
    void aFailingProductIsReportedAndTheWorkersStayUsable() {
        int out = 4864, in = 896;
        Random r = new Random(21);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        try (NDManager m = NDManager.newBaseManager()) {
            Gemv g = Gemv.of(m.create(w, new Shape(out, in)).duplicate());
            // an output one row short: every piece writes past it, on the caller's thread and the worker's
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> g.multiply(new float[2 * in], 2, new float[out]));
            assertTrue(e.getMessage().contains("gemv worker failed"), e.getMessage());
            // the next product runs every piece again
            float[] x = new float[in];
            for (int i = 0; i < in; i++) x[i] = (float) r.nextGaussian();
            float[] y = new float[out];
            g.multiply(x, 1, y);
            for (int o = 0; o < out; o += 97) {
                double exact = 0;
                for (int i = 0; i < in; i++) exact += (double) x[i] * w[o * in + i];
                assertEquals(exact, y[o], 1e-3, "output " + o + " after a failed product");
            }
        }
    }

    @Test
    void javaRmsNormMatchesLibtorchsWithinFloatRounding() {
        Random r = new Random(23);
        int rows = 5, d = 896;
        float[] x = new float[rows * d], w = new float[d];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * 3);
        for (int i = 0; i < d; i++) w[i] = (float) (1 + 0.1 * r.nextGaussian());
        float eps = 1e-6f;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray xs = m.create(x, new Shape(rows, d));
            // HookedTransformer.rmsNorm's operations
            NDArray variance = xs.mul(xs).mean(new int[] {-1}, true);
            float[] want = xs.div(variance.add(eps).sqrt()).mul(m.create(w)).toFloatArray();
            float[] got = x.clone();
            HookedTransformer.rmsNormRows(got, w, eps);
            for (int i = 0; i < want.length; i++) {
                // the mean of squares may differ in its last bit, which moves each output by about an ulp
                assertEquals(want[i], got[i], 3 * Math.ulp(Math.abs(want[i])), "element " + i);
            }
        }
    }

    @Test
    void javaRotaryEmbeddingMatchesLibtorchsWithinFloatRounding() {
        Random r = new Random(29);
        int rows = 4, heads = 3, d = 16;
        long[] positions = {0, 7, 300, 4095};
        float[] freqs = RopeScaling.NONE.inverseFrequencies(d, 10000);
        float[] x = new float[rows * heads * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        try (NDManager m = NDManager.newBaseManager()) {
            // HookedTransformer.rotaryTables and applyRotary's operations, on [rows, heads, d]
            float[] pos = new float[rows];
            for (int i = 0; i < rows; i++) pos[i] = positions[i];
            NDArray angles = m.create(pos, new Shape(rows, 1)).mul(m.create(freqs, new Shape(1, d / 2)));
            NDArray emb = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(angles, angles), -1).expandDims(1);
            NDArray xs = m.create(x, new Shape(rows, heads, d));
            NDArray x1 = xs.get("..., :{}", d / 2), x2 = xs.get("..., {}:", d / 2);
            NDArray rotated = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(x2.neg(), x1), -1);
            float[] want = xs.mul(emb.cos()).add(rotated.mul(emb.sin())).toFloatArray();
            float[] got = x.clone();
            RotaryTable.of(positions, freqs).rotate(got);
            for (int i = 0; i < want.length; i++) {
                // cos and sin may differ from libtorch's by an ulp of values up to 1
                assertEquals(want[i], got[i], 4 * Math.ulp(1f) * (1 + Math.abs(want[i])), "element " + i);
            }
        }
    }

    @Test
    void vectorRoundingToBf16EqualsTheScalarRuleForEveryKindOfValue() {
        Random r = new Random(37);
        float[] v = new float[10_007]; // not a whole number of vectors: the scalar tail runs too
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (i % 6) {
                case 0 -> Float.intBitsToFloat(r.nextInt()); // any bit pattern: NaN payloads, infinities, subnormals
                case 1 -> Float.intBitsToFloat((r.nextInt() & 0xffff0000) | 0x8000); // exact ties
                case 2 -> (float) r.nextGaussian();
                case 3 -> Float.intBitsToFloat(0x7f7f8000 + r.nextInt(0x8000)); // near the largest finite value: rounds to infinity
                case 4 -> Float.intBitsToFloat(r.nextInt(0x10000)); // subnormals
                default -> -(float) r.nextGaussian() * 1e30f;
            };
        }
        float[] got = v.clone();
        Gemv.roundToBf16(got);
        for (int i = 0; i < v.length; i++) {
            int bits = Float.floatToRawIntBits(v[i]);
            int want = (bits & 0x7f800000) == 0x7f800000 ? bits : (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
            assertEquals(want, Float.floatToRawIntBits(got[i]), "value " + i + " (" + Integer.toHexString(bits) + ")");
        }
    }

    @Test
    void roundingToBf16IsToNearestEven() {
        float[] v = {1f, Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), Float.intBitsToFloat(0x3f808001), -2.5f,
            Float.POSITIVE_INFINITY, Float.NaN};
        Gemv.roundToBf16(v);
        assertEquals(1f, v[0]);
        assertEquals(Float.intBitsToFloat(0x3f800000), v[1], "tie rounds down to the even 0x3f80");
        assertEquals(Float.intBitsToFloat(0x3f820000), v[2], "tie rounds up to the even 0x3f82");
        assertEquals(Float.intBitsToFloat(0x3f810000), v[3], "above the tie rounds up");
        assertEquals(-2.5f, v[4]);
        assertEquals(Float.POSITIVE_INFINITY, v[5]);
        assertTrue(Float.isNaN(v[6]));
    }
}
