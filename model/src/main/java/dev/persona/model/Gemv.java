package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Products of a few activation rows with a float32 or BF16 weight matrix, {@code y [rows, out] =
 * x [rows, in] . W^T}, streamed from the weights' libtorch memory on every core: the decoding path
 * of inference models (at most {@link #maxRows} rows).
 *
 * <p>Why not libtorch's own: for one row libtorch 2.7 runs a single-threaded gemv that reads about
 * 20 GB/s on a 2-core EPYC (AVX-512) whose memory delivers more than 40 GB/s to two threads, and for
 * 2 to 8 rows a gemm that reads 8 GB/s. Decoding one token must read every weight once, so the
 * weight stream is the decode speed. Here each core streams a contiguous share of W's rows through
 * the JDK's vector API ({@link GemvKernel}); results differ from libtorch's by float rounding only
 * (sums in another order), and a row's result does not depend on the other rows of its call.
 *
 * <p>Needs the {@code jdk.incubator.vector} module ({@code --add-modules jdk.incubator.vector}, which
 * the {@code persona} launcher and the tests pass); without it, or with {@code -Dpersona.gemv=off},
 * {@link #available()} is false and models use libtorch throughout. Models narrower than
 * {@code -Dpersona.gemv.min-hidden} (default 512) keep libtorch too: their steps are per-operation
 * overhead, not weight traffic, and keeping them there keeps the organism's outputs bit for bit.
 */
final class Gemv {
    /** Bytes per buffer: a direct ByteBuffer is indexed by int, so larger matrices are split by rows. */
    static final long CHUNK_BYTES = 1L << 30;

    private static final boolean MODULE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    private static final Pool POOL = new Pool(Math.max(1, Integer.getInteger("persona.gemv.threads", Runtime.getRuntime().availableProcessors())));

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);
    /** Per thread: the panels' products of a panelled matrix, before they are summed. */
    private static final ThreadLocal<float[]> PARTIALS = ThreadLocal.withInitial(() -> new float[0]);

    private final List<Chunk> chunks;
    private final int out;
    private final int in;
    /**
     * The width of the matrix's column panels ({@link #panelWidth}); {@code in} for an unpanelled
     * one. A panelled matrix is stored panel after panel, each [out, width] row-major.
     */
    private final int width;
    /** The output widths of the matrices stacked into this product ({@link #stack}), in order; one entry for a single matrix. */
    private final int[] parts;

    /** BF16 weights: inputs and outputs rounded to BF16 as {@link Bf16Kernels#linear} rounds them. */
    private final boolean bf16;

    /** Rows [first, first + count) of panel {@code panel} (panel 0 of an unpanelled matrix). */
    private record Chunk(ByteBuffer data, int panel, int first, int count) { }

    private Gemv(List<Chunk> chunks, int out, int in, int width, boolean bf16, int[] parts) {
        this.chunks = chunks;
        this.out = out;
        this.in = in;
        this.width = width;
        this.bf16 = bf16;
        this.parts = parts;
    }

    private Gemv(List<Chunk> chunks, int out, int in, boolean bf16) {
        this(chunks, out, in, in, bf16, new int[] {out});
    }

    /**
     * One product over several matrices of the same input width, their outputs side by side
     * ({@code [rows, out_1 + out_2 + ...]}): q, k and v of a layer, or its gate and up projections,
     * in one pass of the workers instead of one each. No weight is copied; each output is summed
     * exactly as its own matrix's product sums it.
     */
    static Gemv stack(List<Gemv> matrices) {
        Gemv head = matrices.get(0);
        List<Chunk> chunks = new ArrayList<>();
        int[] parts = new int[matrices.size()];
        int out = 0;
        for (int i = 0; i < matrices.size(); i++) {
            Gemv g = matrices.get(i);
            if (g.in != head.in || g.width != head.width || g.bf16 != head.bf16) {
                throw new IllegalArgumentException("stacked matrices need one input width, panel width and dtype: " + g.in + "/" + g.width
                        + " against " + head.in + "/" + head.width);
            }
            for (Chunk c : g.chunks) chunks.add(new Chunk(c.data, c.panel, out + c.first, c.count));
            parts[i] = g.out;
            out += g.out;
        }
        return new Gemv(chunks, out, head.in, head.width, head.bf16, parts);
    }

    /** The output widths of the stacked matrices, in order (a copy). */
    int[] parts() {
        return parts.clone();
    }

    /** Output width (the stacked total). */
    int out() {
        return out;
    }

    /** True when the vector API is present and the path is not switched off. */
    static boolean available() {
        return MODULE && !"off".equals(System.getProperty("persona.gemv"));
    }

    /**
     * The most activation rows a product takes this path with ({@code -Dpersona.gemv.max-rows});
     * more go to libtorch. By default 64 for float32 weights (from 8 rows on the kernel multiplies
     * two outputs by four rows at a time: 4864 x 896 at 16 / 64 rows in 1.45 / 3.8-4.1 ms against
     * libtorch's 2.3-4.1 / 5.0-6.4; libtorch's gemm is level from about 256 rows, and a pass the
     * kernel takes runs libtorch's other operations on one thread). For BF16, 4 where libtorch
     * multiplies in BF16 ({@code nativeBf16}: its kernel is as fast at 4 rows and faster from 8,
     * 0.9-1.1 ms against 1.35-1.5 for 4864 x 896), else 16 (batch-16 decode of a 0.5B model 41-44
     * tok/s against 30-31 with libtorch's widened products, which win again at 32).
     */
    static int maxRows(Precision precision, boolean nativeBf16) {
        return Integer.getInteger("persona.gemv.max-rows", precision == Precision.BF16 ? (nativeBf16 ? 4 : 16) : 64);
    }

    /** True when a model of hidden size {@code dModel} decodes through this path. */
    static boolean usedFor(int dModel) {
        return available() && dModel >= Integer.getInteger("persona.gemv.min-hidden", 512);
    }

    /** Starts compiling the kernel (once per JVM, in the background): call it before loading the weights. */
    static void warmUp() {
        Warmup.THREAD.getClass();
    }

    /**
     * Runs the kernel on a small matrix until the JIT has compiled it (about 2 s of one core):
     * interpreted, the vector API allocates per operation and one product with a 545 MB output
     * head takes 0.7 s instead of 12 ms. Started when the first eligible model starts loading and
     * awaited before its first product.
     */
    private static final class Warmup {
        static final Thread THREAD = start();

        private static Thread start() {
            Thread t = new Thread(() -> {
                // through the whole path (pool, shares, both kernels), on a product just large enough to be shared
                int out = 256, in = 260;
                ByteBuffer w = ByteBuffer.allocateDirect(4 * out * in).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < out * in; i++) w.putFloat(4 * i, (i % 7) * 0.01f);
                Gemv f32 = new Gemv(List.of(new Chunk(w, 0, 0, out)), out, in, false);
                Gemv bf16 = new Gemv(List.of(new Chunk(w, 0, 0, out)), out, in, true);
                float[] x = new float[8 * in];
                float[] y = new float[8 * out];
                for (int i = 0; i < 3000; i++) {
                    // 1-5 rows, and 8: the float32 tile and the widened BF16 rows start there
                    int rows = i % 6 == 5 ? 8 : 1 + i % 6;
                    f32.multiply(x, rows, y);
                    // products, not multiply: the BF16 rounding of inputs and outputs is on every BF16 step's path
                    bf16.products(x, rows, y);
                }
                // interpreted, the vector API allocated some 100 MB of short-lived boxes: hand the heap they grew back
                System.gc();
            }, "persona-gemv-warmup");
            t.setDaemon(true);
            t.start();
            return t;
        }

        static void await() {
            try {
                THREAD.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The product with {@code weight} (float32 or BF16 [out, in], contiguous, on the CPU), reading
     * its memory in place; valid for as long as {@code weight} is open.
     */
    static Gemv of(NDArray weight) {
        return of(weight, CHUNK_BYTES);
    }

    /** {@link #of(NDArray)} with the matrix split into buffers of at most {@code chunkBytes} (whole rows). */
    static Gemv of(NDArray weight, long chunkBytes) {
        return panelled(List.of(weight), chunkBytes);
    }

    /**
     * The product with a matrix [out, in] held as column panels, {@code panels.get(p)} = W[:, p *
     * width .. (p + 1) * width) (each [out, width], contiguous; see {@link #panel}): each panel's
     * product is summed as an unpanelled matrix of that width sums, and y is the sum of the
     * panels' products, panel 0 first.
     */
    static Gemv panelled(List<NDArray> panels, long chunkBytes) {
        NDArray first = panels.get(0);
        Shape s = first.getShape();
        // DJL 0.36 reports libtorch's bfloat16 as UNKNOWN; the buffer size check below confirms 2 bytes per element
        boolean bf16 = first.getDataType() == DataType.BFLOAT16 || first.getDataType() == DataType.UNKNOWN;
        if (s.dimension() != 2 || !(bf16 || first.getDataType() == DataType.FLOAT32)) {
            throw new IllegalArgumentException("a float32 or BF16 matrix, not " + first.getDataType() + " " + s);
        }
        int out = Math.toIntExact(s.get(0)), width = Math.toIntExact(s.get(1));
        int size = bf16 ? 2 : 4;
        Warmup.await();
        int perChunk = (int) Math.max(1, chunkBytes / ((long) size * width));
        List<Chunk> chunks = new ArrayList<>();
        for (int p = 0; p < panels.size(); p++) {
            NDArray panel = panels.get(p);
            if (!panel.getShape().equals(s) || panel.getDataType() != first.getDataType()) {
                throw new IllegalArgumentException("panel " + p + " is " + panel.getDataType() + " " + panel.getShape() + ", panel 0 " + first.getDataType() + " " + s);
            }
            for (int row = 0; row < out; row += perChunk) {
                int count = Math.min(perChunk, out - row);
                NDArray rows = row == 0 && count == out ? panel : panel.get(new NDIndex("{}:{}", row, row + count));
                ByteBuffer data = rows.toByteBuffer(true);
                if (!data.isDirect() || data.capacity() != (long) size * count * width) {
                    throw new IllegalStateException("libtorch gave no direct view of the weight's memory (" + s + "): the vector path needs one");
                }
                chunks.add(new Chunk(data.order(ByteOrder.LITTLE_ENDIAN), p, row, count));
                // a row range's view only locates the memory; the buffer stays valid while the weight lives
                if (rows != panel) rows.close();
            }
        }
        return new Gemv(chunks, out, width * panels.size(), width, bf16, new int[] {out});
    }

    /**
     * The panel width for matrices of {@code in} columns: the widest divisor of {@code in} that is a
     * multiple of 16 floats (a cache line) and at most {@code -Dpersona.gemv.panel-max} (default
     * 2048), or {@code in} itself when that is no wider or no such divisor exists.
     *
     * <p>Why: a product streams each weight row against the whole input row, which must stay in L1
     * while the row streams through. Past about 12 KB of input (3072 floats) it does not, and the
     * product slows by a third (2-core EPYC: Qwen2.5-0.5B's 896 x 4864 down projection read 32-34
     * GB/s against 45-56 for its 896-wide products; as four 1216-wide panels, 46-49; docs/BENCHMARKS.md).
     */
    static int panelWidth(int in) {
        int most = Integer.getInteger("persona.gemv.panel-max", 2048);
        if (in <= most) return in;
        for (int w = most - most % 16; w >= 16; w -= 16) {
            if (in % w == 0) return w;
        }
        return in;
    }

    /**
     * Rearranges {@code weight} [out, in] (float32 or BF16, contiguous, at most 2 GiB) in place into
     * column panels of {@code width}, panel after panel, and returns that memory as [in / width, out,
     * width], in the weight's manager: element [p, o, i] is W[o, p * width + i]. Afterwards {@code
     * weight} itself no longer reads as the matrix.
     *
     * <p>The matrix is an [out, panels] grid of row pieces that becomes a [panels, out] grid: a
     * transposition of pieces, done cycle by cycle with two pieces of scratch, so that loading a
     * model never holds a second copy of a matrix (the peak memory of loading is the weights).
     */
    static NDArray panel(NDArray weight, int width) {
        Shape s = weight.getShape();
        int out = Math.toIntExact(s.get(0)), in = Math.toIntExact(s.get(1));
        if (in % width != 0) throw new IllegalArgumentException(in + " columns do not split into panels of " + width);
        int panels = in / width;
        ByteBuffer data = weight.toByteBuffer(true);
        int pieceBytes = data.capacity() / (out * panels);
        int pieces = out * panels;
        java.util.BitSet placed = new java.util.BitSet(pieces);
        byte[] carried = new byte[pieceBytes], displaced = new byte[pieceBytes];
        for (int start = 0; start < pieces; start++) {
            if (placed.get(start)) continue;
            // the piece at `start` (row o, panel p, at o * panels + p) belongs at p * out + o; follow the cycle back to `start`
            data.get(start * pieceBytes, carried);
            int at = start;
            do {
                int to = (at % panels) * out + at / panels;
                data.get(to * pieceBytes, displaced);
                data.put(to * pieceBytes, carried);
                placed.set(to);
                byte[] swap = carried;
                carried = displaced;
                displaced = swap;
                at = to;
            } while (at != start);
        }
        return weight.reshape(panels, out, width);
    }

    /**
     * Rows {@code ids} of an unpanelled matrix (an embedding table) as float32, one after another
     * ([ids.length, in]); BF16 rows widened exactly.
     */
    float[] rows(long[] ids) {
        if (width != in) throw new IllegalStateException("rows of a panelled matrix are not contiguous");
        float[] x = new float[Math.multiplyExact(ids.length, in)];
        for (int k = 0; k < ids.length; k++) {
            long id = ids[k];
            if (id < 0 || id >= out) throw new IllegalArgumentException("token id " + id + " is outside the embedding table's " + out + " rows");
            for (Chunk c : chunks) {
                if (id < c.first || id >= c.first + c.count) continue;
                int row = (int) id - c.first;
                if (bf16) {
                    for (int i = 0; i < in; i++) x[k * in + i] = Float.intBitsToFloat(c.data.getShort(2 * (row * in + i)) << 16);
                } else {
                    c.data.asFloatBuffer().get(row * in, x, k * in, in);
                }
                break;
            }
        }
        return x;
    }

    /** x [..., in] . W^T: float32 [..., out] in x's manager. */
    NDArray apply(NDArray x) {
        Shape s = x.getShape();
        return apply(x.toFloatArray(), x.getManager(), s.slice(0, s.dimension() - 1));
    }

    /**
     * x [rows, in] (Java floats, {@code lead} the shape of the rows) . W^T: float32 [lead..., out] in
     * {@code manager}. BF16 weights round x in place first.
     */
    NDArray apply(float[] x, NDManager manager, Shape lead) {
        int rows = Math.toIntExact(x.length / in);
        // the output goes through a per-thread scratch array: an output head's rows are megabytes a product
        float[] y = scratch(SCRATCH, rows * out);
        products(x, rows, y);
        return array(manager, y, 0, rows * out, lead.add(out));
    }

    /**
     * y [rows, out] = x [rows, in] . W^T into {@code y}, with BF16 weights' roundings (x rounded in
     * place to BF16 first, y after), as {@link Bf16Kernels#linear} rounds.
     */
    void products(float[] x, int rows, float[] y) {
        if (bf16) GemvKernel.roundToBf16(x, rows * in);
        multiply(x, rows, y);
        if (bf16) GemvKernel.roundToBf16(y, rows * out);
    }

    /**
     * The calling thread's array in {@code holder}, replaced by a larger one when it has fewer than
     * {@code n} values: scratch space reused across products (its leading {@code n} values are the caller's).
     */
    static float[] scratch(ThreadLocal<float[]> holder, int n) {
        float[] a = holder.get();
        if (a.length < n) holder.set(a = new float[n]);
        return a;
    }

    /**
     * {@link #scratch(ThreadLocal, int)} for sizes that grow by small steps (attention over a span one
     * longer each decode step): a new array is twice the old one's length, at most {@code most} (the
     * largest {@code n} the caller can ask for), and at least {@code n}, so steps do not each make one.
     */
    static float[] scratch(ThreadLocal<float[]> holder, int n, int most) {
        float[] a = holder.get();
        if (a.length < n) holder.set(a = new float[Math.max(n, (int) Math.min(most, 2L * a.length))]);
        return a;
    }

    /** {@link #scratch(ThreadLocal, int)} for int arrays. */
    static int[] intScratch(ThreadLocal<int[]> holder, int n) {
        int[] a = holder.get();
        if (a.length < n) holder.set(a = new int[n]);
        return a;
    }

    /** A libtorch-owned float32 array of {@code shape} holding {@code y[from .. from + n)}, in {@code manager}. */
    static NDArray array(NDManager manager, float[] y, int from, int n, Shape shape) {
        // uninitialised (torch.empty): every element is written next, and an output head's 600 KB needs no clearing first
        NDArray result = manager.create(shape, DataType.FLOAT32);
        result.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().put(y, from, n);
        return result;
    }

    /** y [rows, out] = x [rows, in] . W^T, on every core. */
    void multiply(float[] x, int rows, float[] y) {
        int panels = in / width;
        // the BF16 loop reads the inputs packed as BF16 pairs: packed once per product, not per piece
        GemvKernel.Bf16Inputs packed = bf16 ? GemvKernel.Bf16Inputs.of(x, rows, in, width) : null;
        // a panelled matrix's rows are panel by panel: each panel's products go to its own columns of a
        // scratch array [rows, panels * out], summed into y afterwards
        int stride = panels * out;
        float[] into = panels == 1 ? y : scratch(PARTIALS, rows * stride);
        // small products are not worth a hand-off
        int step = (int) Math.max(1, Pool.STEP_BYTES / ((long) width * (bf16 ? 2 : 4)));
        // from 8 rows the tiles take blocks of outputs: a step of fewer never reached them (a 4864-wide
        // float32 row is 19 KB, three to a step: an unpanelled 896 x 4864 matrix went one output at a
        // time, 2.35-2.73 ms at 16 rows against 1.22-1.54 now; a model's 1216-wide panels were not affected)
        step = Math.max(step, GemvKernel.blockOutputs(rows));
        // batches multiply four outputs at a time: steps of whole fours leave no outputs for the slower one-at-a-time loop
        if (step >= 4) step -= step % 4;
        // float32 products read the inputs from an aligned copy, panel after panel (row r of panel p at
        // PAD + (p * rows + r) * width): every row of a 64-byte multiple starts a cache line, where a
        // caller's array split every input load in two (batch 4: 67.9-69.2 tok/s against 47.5-48.5)
        float[] xs = bf16 ? x : alignedInputs(x, rows);
        // and from the tile's rows on, laid out for the tile too
        float[] tiled = !bf16 && rows >= GemvKernel.TILE_FROM_ROWS ? GemvKernel.tileInputs(xs, rows, panels, width) : null;
        POOL.run((from, to) -> part(xs, tiled, packed, rows, into, stride, from, to), stride, step, (long) out * in < 65536);
        if (panels == 1) return;
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                float sum = into[r * stride + o];
                for (int p = 1; p < panels; p++) sum += into[r * stride + p * out + o];
                y[r * out + o] = sum;
            }
        }
    }

    /**
     * Memory read bandwidth in GB/s as this path's threads see it: the best of {@code reps} reads
     * ({@link #readOnce}) of a buffer of {@code bytes} (far larger than the caches).
     */
    static double readBandwidthGbps(long bytes, int reps) {
        int n = (int) Math.min(bytes / 4, Integer.MAX_VALUE / 4);
        // aligned to 64 bytes as libtorch aligns weights: allocateDirect's 16-byte alignment splits every
        // AVX-512 load across two cache lines and read 46-47 GB/s where aligned memory gave 51-53 (measured)
        ByteBuffer b = ByteBuffer.allocateDirect(4 * n + 64).alignedSlice(64).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i += 1024) b.putFloat(4 * i, 1f);
        double best = 0;
        for (int r = 0; r <= reps; r++) {
            long t0 = System.nanoTime();
            readOnce(List.of(b));
            double gbps = 4.0 * n / ((System.nanoTime() - t0) / 1e9) / 1e9;
            // the first pass compiles the loop
            if (r > 0) best = Math.max(best, gbps);
        }
        return best;
    }

    /**
     * Memory read bandwidth in GB/s over the weights of {@code matrices} themselves: whole passes
     * ({@link #readOnce}) repeated until {@code seconds} have passed. The pages a decode step reads,
     * read with nothing else to do, and for about as long as a timed decode run: a burst of
     * milliseconds can land in a quiet moment of a shared machine that a run of seconds does not.
     */
    static double weightReadGbps(java.util.Collection<Gemv> matrices, double seconds) {
        List<ByteBuffer> buffers = weightBuffers(matrices);
        if (buffers.isEmpty()) throw new IllegalArgumentException("no weights to read");
        long pass = 0;
        for (ByteBuffer b : buffers) pass += b.limit() / 4 * 4L;
        // compiles the loop before the clock starts
        readOnce(List.of(buffers.get(0).slice(0, Math.min(buffers.get(0).limit(), 1 << 24))));
        long bytes = 0, t0 = System.nanoTime(), until = t0 + (long) (seconds * 1e9);
        do {
            readOnce(buffers);
            bytes += pass;
        } while (System.nanoTime() < until);
        return bytes / ((System.nanoTime() - t0) / 1e9) / 1e9;
    }

    /** The distinct weight buffers of {@code matrices} (stacked products share their matrices' buffers), in order. */
    static List<ByteBuffer> weightBuffers(java.util.Collection<Gemv> matrices) {
        java.util.Set<ByteBuffer> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        List<ByteBuffer> buffers = new ArrayList<>();
        for (Gemv g : matrices) {
            for (Chunk c : g.chunks) {
                if (seen.add(c.data)) buffers.add(c.data);
            }
        }
        return buffers;
    }

    /**
     * One read of every whole int of {@code buffers}, each buffer split across the workers in
     * steps as a product is; returns their sum (wrapping), kept so that no part of the read can
     * be optimised away.
     */
    static int readOnce(List<ByteBuffer> buffers) {
        AtomicInteger sum = new AtomicInteger();
        for (ByteBuffer b : buffers) {
            POOL.run((from, to) -> sum.addAndGet(GemvKernel.sumInts(b, 4 * from, 4 * to)), b.limit() / 4, (int) (Pool.STEP_BYTES / 4), false);
        }
        return sum.get();
    }

    /**
     * Outputs [v0, v1) of every row on the calling thread, indexed panel by panel (panel p's output
     * o at p * out + o), into y [rows, yStride]. Float32 inputs come laid out by {@link
     * #alignedInputs} (panel p, row r from PAD + (p * rows + r) * width) and, from the tile's rows on,
     * {@link GemvKernel#tileInputs} ({@code tiled}, else null); BF16 inputs from {@code packed}, their
     * tails from x [rows, in] as given.
     */
    private void part(float[] x, float[] tiled, GemvKernel.Bf16Inputs packed, int rows, float[] y, int yStride, int v0, int v1) {
        int panels = in / width, end = bf16 ? GemvKernel.bf16Length(width) : 0;
        for (Chunk c : chunks) {
            int start = c.panel * out + c.first;
            int lo = Math.max(v0, start), hi = Math.min(v1, start + c.count);
            if (lo >= hi) continue;
            if (bf16) {
                GemvKernel.multiplyBf16(c.data, start, width, x, c.panel * width, in, packed, c.panel * end, panels * end, rows, y, yStride, lo, hi);
            } else {
                GemvKernel.multiply(c.data, start, width, x, AlignedArrays.PAD + c.panel * rows * width, width, tiled,
                        AlignedArrays.PAD + c.panel * rows * GemvKernel.pairedLength(width), rows, y, yStride, lo, hi);
            }
        }
    }

    /** The calling thread's aligned copy of the products' inputs ({@link #alignedInputs}). */
    private static final ThreadLocal<float[]> ALIGNED_INPUTS = ThreadLocal.withInitial(() -> new float[0]);

    /** x [rows, in] copied panel after panel into the calling thread's aligned scratch: row r of panel p from PAD + (p * rows + r) * width. */
    private float[] alignedInputs(float[] x, int rows) {
        int panels = in / width;
        float[] xs = AlignedArrays.scratch(ALIGNED_INPUTS, rows * in);
        for (int p = 0; p < panels; p++) {
            for (int r = 0; r < rows; r++) System.arraycopy(x, r * in + p * width, xs, AlignedArrays.PAD + (p * rows + r) * width, width);
        }
        return xs;
    }

    /** Each value rounded to the nearest BF16 (ties to even), as torch's float32 -> bfloat16 cast rounds finite values. */
    static void roundToBf16(float[] v) {
        GemvKernel.roundToBf16(v, v.length);
    }

    /**
     * Runs {@code task} over [0, total) on every thread of the product pool, claimed in steps of
     * {@code step} indices as a product's rows are: work between products (attention over the
     * cache) that would otherwise leave the pool's threads waiting.
     */
    static void runShared(Task task, int total, int step) {
        POOL.run(task, total, step, false);
    }

    /**
     * Worker threads that take a share of each product. A product lasts tens of microseconds to a
     * few milliseconds and a decode step runs hundreds of them back to back, so workers spin for a
     * while after a product before parking: waking a parked thread costs about as much as a small
     * product. One caller at a time uses the workers; a second concurrent caller computes alone.
     *
     * <p>Each thread streams one contiguous share of the rows (the hardware prefetcher follows one
     * stream per thread), and a thread done with its share takes the back half of the largest share
     * left ({@link Job}). On a 2-core virtual machine another process preempts one of the threads a
     * few times a second, for up to 30 ms: with shares claimed for good, the other thread then waited
     * for the whole share; now it takes over what the preempted thread has not started, and waits at
     * most for the step in flight. A caller that has waited longer than {@link #WAIT_SPIN_NANOS}
     * parks in short naps, so that its core goes idle and the scheduler can move the preempted
     * worker onto it (measured: waits of 4-32 ms, 2-5 a second, became rare).
     */
    private static final class Pool {
        private static final long SPIN_NANOS = Long.getLong("persona.gemv.spin-micros", 200) * 1000;
        private static final long WAIT_SPIN_NANOS = 30_000;
        /** The rows a thread claims at a time, in bytes of weights: the most another thread can be left waiting for. */
        static final long STEP_BYTES = 64 * 1024;
        private final Worker[] workers;
        private final ReentrantLock lock = new ReentrantLock();

        Pool(int threads) {
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(i + 1);
                Thread t = new Thread(workers[i], "persona-gemv-" + (i + 1));
                t.setDaemon(true);
                workers[i].thread = t;
                t.start();
            }
        }

        /**
         * Runs {@code task} over [0, total) on every thread at once, in steps of at most {@code
         * step}; {@code alone}: all on the caller, in one piece.
         */
        void run(Task task, int total, int step, boolean alone) {
            if (workers.length == 0 || alone || !lock.tryLock()) {
                task.run(0, total);
                return;
            }
            try {
                Job job = new Job(task, total, Math.max(1, step), workers.length + 1);
                for (Worker w : workers) w.give(job);
                job.work(0);
                // wait for the steps other threads have in flight, not for the threads: a worker that wakes
                // late (a parked thread takes tens of microseconds) finds nothing left and costs nothing
                long spinUntil = System.nanoTime() + WAIT_SPIN_NANOS;
                while (!job.finished()) {
                    if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                    else LockSupport.parkNanos(10_000);
                }
                Throwable failed = job.failure.get();
                if (failed != null) throw new IllegalStateException("a gemv worker failed: " + failed, failed);
            } finally {
                lock.unlock();
            }
        }
    }

    /** Some work over the indices [from, to) of a larger range. */
    interface Task {
        void run(int from, int to);
    }

    /**
     * One run of a task over [0, total), split into one contiguous share per thread. A thread runs
     * its share front to back, claiming a step at a time; when its share is done it takes the back
     * half of the largest share left, or all of it when under two steps are left (what lies beyond
     * a share's next index is unclaimed, even while its thread runs a step).
     */
    private static final class Job {
        final Task task;
        final int total;
        final int step;
        /** Per thread: its share's next index in the high 32 bits, its end in the low 32. */
        final AtomicLong[] shares;
        /** Indices whose steps have run (or were given up after a failure). */
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(Task task, int total, int step, int threads) {
            this.task = task;
            this.total = total;
            this.step = step;
            shares = new AtomicLong[threads];
            for (int t = 0; t < threads; t++) {
                shares[t] = new AtomicLong(pack((int) ((long) total * t / threads), (int) ((long) total * (t + 1) / threads)));
            }
        }

        private static long pack(int next, int end) {
            return ((long) next << 32) | (end & 0xffffffffL);
        }

        private static int next(long share) {
            return (int) (share >>> 32);
        }

        private static int end(long share) {
            return (int) share;
        }

        /**
         * Runs steps of thread {@code slot}'s share, then of shares taken from others, until none is
         * left. A failure is recorded and every unclaimed index given up (counted as done, so that
         * the caller stops waiting), for the caller to report.
         */
        void work(int slot) {
            AtomicLong mine = shares[slot];
            try {
                while (true) {
                    long v = mine.get();
                    int next = next(v), end = end(v);
                    if (next >= end) {
                        if (!takeFromOthers(mine)) return;
                        continue;
                    }
                    int to = (int) Math.min(end, (long) next + step);
                    if (!mine.compareAndSet(v, pack(to, end))) continue;
                    try {
                        task.run(next, to);
                    } finally {
                        done.addAndGet(to - next);
                    }
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                for (AtomicLong share : shares) {
                    while (true) {
                        long v = share.get();
                        int next = next(v), end = end(v);
                        if (next >= end) break;
                        if (share.compareAndSet(v, pack(end, end))) {
                            done.addAndGet(end - next);
                            break;
                        }
                    }
                }
            }
        }

        /** Moves part of the largest share left into {@code mine} (whose own share is done); false when nothing is left. */
        private boolean takeFromOthers(AtomicLong mine) {
            while (true) {
                AtomicLong victim = null;
                long seen = 0;
                int most = 0;
                for (AtomicLong share : shares) {
                    long v = share.get();
                    int left = end(v) - next(v);
                    if (left > most) {
                        most = left;
                        victim = share;
                        seen = v;
                    }
                }
                if (victim == null) return false;
                int next = next(seen), end = end(seen);
                int cut = end - next >= 2 * step ? next + (end - next) / 2 : next;
                if (victim.compareAndSet(seen, pack(next, cut))) {
                    // only this thread writes its own exhausted share (others take from a share only while indices are left)
                    mine.set(pack(cut, end));
                    return true;
                }
            }
        }

        /** Whether every index has been run (or given up); the results of every step are then visible. */
        boolean finished() {
            return done.get() >= total;
        }
    }

    private static final class Worker implements Runnable {
        final int slot;
        volatile Thread thread;
        private volatile Job job;

        Worker(int slot) {
            this.slot = slot;
        }

        void give(Job j) {
            job = j;
            LockSupport.unpark(thread);
        }

        @Override
        public void run() {
            while (true) {
                await().work(slot);
            }
        }

        private Job await() {
            long spinUntil = System.nanoTime() + Pool.SPIN_NANOS;
            int n = 0;
            while (true) {
                Job j = job;
                if (j != null) {
                    job = null;
                    return j;
                }
                if (((++n & 63) != 0) || System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
        }
    }
}
