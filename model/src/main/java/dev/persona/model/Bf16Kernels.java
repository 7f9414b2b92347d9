package dev.persona.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * BF16 arithmetic for {@link Precision#BF16}, run as methods of a small TorchScript module
 * ({@code bf16_kernels.pt}, written by {@code tools/make_bf16.py}). DJL 0.36's PyTorch JNI has no
 * code for torch.bfloat16: creating a BF16 array or casting to one through DJL aborts the JVM. The
 * module's methods do the casts inside libtorch instead; the BF16 tensors they return travel as
 * ordinary DJL arrays (DataType UNKNOWN) that only these methods compute with.
 *
 * <p>Every result is attached to the manager passed in; the IValue boxes are freed at once.
 */
final class Bf16Kernels implements AutoCloseable {
    /**
     * Up to this many rows (batch x positions) a linear layer runs in libtorch's BF16 kernel; above
     * it the BF16 operands are widened and multiplied in float32 (same roundings, another summation
     * order). On the 2-core AVX2 machine, 896 -> 4864: 1 row 0.57 ms BF16 vs 1.09 ms F32; 8 rows
     * 4.2 vs 2.4 ms; 512 rows 246 vs 42 ms widened (docs/BENCHMARKS.md).
     */
    static final long FEW_ROWS = 4;
    /**
     * The first /proc/cpuinfo flags naming BF16 dot-product instructions (AVX512-BF16, AMX-BF16).
     * With them libtorch's BF16 kernel (oneDNN) is the fast product at every row count; on the
     * 2-core AMD EPYC with avx512_bf16, 896 -> 4864: 8 rows 0.9-1.1 ms against 3.9-4.4 widened,
     * 64 rows 1.4-1.7 against 6.5-7.3, 512 rows 8.3-8.7 against 30.8-31.8 (docs/BENCHMARKS.md).
     */
    private static final List<String> BF16_DOT_FLAGS = List.of("avx512_bf16", "amx_bf16");
    /**
     * A widened product takes the weight in blocks of at most this many elements (32 MB as float32),
     * so that the float32 copy of a large output head (qwen2.5: 151936 x 896, 545 MB) is never whole.
     */
    static final long WIDEN_BLOCK_ELEMENTS = 1L << 23;
    private static final String RESOURCE = "bf16_kernels.pt";

    private final NDManager owner;
    private final PtSymbolBlock module;
    /** Products of any row count in libtorch's BF16 kernel ({@link #nativeProducts(Device)}), none widened. */
    private final boolean nativeProducts;

    private Bf16Kernels(NDManager owner, PtSymbolBlock module, boolean nativeProducts) {
        this.owner = owner;
        this.module = module;
        this.nativeProducts = nativeProducts;
    }

    /**
     * Whether BF16 products run in libtorch's BF16 kernel at every row count on {@code device}:
     * {@code -Dpersona.bf16.native=true|false} when set; else on a GPU, and on a CPU whose
     * /proc/cpuinfo flags name BF16 dot-product instructions. Otherwise products of more than
     * {@link #FEW_ROWS} rows are widened to float32 (without those instructions libtorch's BF16
     * kernel was 6x slower than float32 at 512 rows).
     */
    static boolean nativeProducts(Device device) {
        String set = System.getProperty("persona.bf16.native");
        if (set != null) return Boolean.parseBoolean(set);
        if (device.isGpu()) return true;
        try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("flags")).findFirst().map(Bf16Kernels::namesBf16Dot).orElse(false);
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    /** Whether a /proc/cpuinfo flags line names BF16 dot-product instructions. */
    static boolean namesBf16Dot(String flagsLine) {
        int colon = flagsLine.indexOf(':');
        List<String> flags = List.of(flagsLine.substring(colon + 1).trim().split("\\s+"));
        return BF16_DOT_FLAGS.stream().anyMatch(flags::contains);
    }

    /** Whether this module's products run in libtorch's BF16 kernel at every row count. */
    boolean nativeProducts() {
        return nativeProducts;
    }

    /** Loads the module onto {@code device}; it lives until {@link #close}. */
    static Bf16Kernels load(Device device) {
        NDManager owner = Engine.getEngine("PyTorch").newBaseManager(device);
        try (InputStream in = Bf16Kernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException(RESOURCE + " is missing from the Persona jar (rebuild it)");
            PtSymbolBlock module = JniUtils.loadModule((PtNDManager) owner, in, true, false);
            return new Bf16Kernels(owner, module, nativeProducts(device));
        } catch (IOException e) {
            owner.close();
            throw new IllegalStateException("cannot read " + RESOURCE + " from the Persona jar", e);
        }
    }

    /** x rounded to BF16 (round to nearest even), attached to {@code into}. */
    NDArray narrow(NDArray x, NDManager into) {
        return call("narrow", into, IValue.from((PtNDArray) x));
    }

    /** Any tensor widened to float32, attached to {@code into}. */
    NDArray widen(NDArray x, NDManager into) {
        return call("forward", into, IValue.from((PtNDArray) x));
    }

    /**
     * x [..., in] float32 times BF16 w [out, in]^T, rounded to BF16, as float32 [..., out]; no bias.
     * In libtorch's BF16 kernel at every row count with {@link #nativeProducts()}, else up to
     * {@link #FEW_ROWS} rows, above which the operands are widened to float32.
     */
    NDArray linear(NDArray x, NDArray w, NDManager into) {
        long in = w.getShape().get(1);
        return linear(x, w, Math.max(1, WIDEN_BLOCK_ELEMENTS / in), into);
    }

    /** {@link #linear(NDArray, NDArray, NDManager)} widening at most {@code blockRows} weight rows at a time. */
    NDArray linear(NDArray x, NDArray w, long blockRows, NDManager into) {
        return call("linear", into, IValue.from((PtNDArray) x), IValue.from((PtNDArray) w), IValue.from(nativeProducts ? Long.MAX_VALUE : FEW_ROWS),
                IValue.from(blockRows));
    }

    /** x rounded to BF16 values, as float32, attached to {@code into}. */
    NDArray rounded(NDArray x, NDManager into) {
        return widen(narrow(x, into), into);
    }

    /**
     * x [..., in] float32 (already BF16 values) times BF16 w [out, in]^T with float32 accumulation,
     * as float32 [..., out], not rounded: one column panel's share of a panelled weight's product,
     * which the caller sums over the panels and rounds once. w is widened in blocks as in {@link #linear}.
     */
    NDArray widenedProduct(NDArray x, NDArray w, NDManager into) {
        long in = w.getShape().get(1);
        return call("widened_product", into, IValue.from((PtNDArray) x), IValue.from((PtNDArray) w),
                IValue.from(Math.max(1, WIDEN_BLOCK_ELEMENTS / in)));
    }

    /** Rows {@code ids} (int64, any shape) of the BF16 table {@code w}, as float32 [..., d]. */
    NDArray embedding(NDArray ids, NDArray w, NDManager into) {
        return call("embedding", into, IValue.from((PtNDArray) ids), IValue.from((PtNDArray) w));
    }

    private NDArray call(String method, NDManager into, IValue... args) {
        try (IValue out = IValueUtils.runMethod(module, method, args)) {
            return out.toTensor((PtNDManager) into);
        } finally {
            for (IValue a : args) a.close();
        }
    }

    @Override
    public void close() {
        module.close();
        owner.close();
    }
}
