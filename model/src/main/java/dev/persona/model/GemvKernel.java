package dev.persona.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of {@link Gemv}, on the JDK's vector API (the only class that names it, so that
 * the rest of the runtime loads without the {@code jdk.incubator.vector} module).
 *
 * <p>Each weight row (a few KB: it stays in L1) is read from memory once and multiplied with every
 * input row (float32 weights: up to four input rows per pass over it, and from 8 rows on four weight
 * rows by six or four input rows, the 1-3 outputs a step may end with one at a time); sums run in float32 in
 * lanes of the widest vector the CPU has (16 floats
 * with AVX-512, 8 with AVX2), then across lanes, in the same order whatever the number of rows.
 */
final class GemvKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** BF16 weights, read as ints of S's width: two neighbouring elements per lane. */
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, S.vectorShape());

    /**
     * From this many input rows on, float32 outputs go four at a time ({@link #tilePass4}): fewer
     * loads per multiply-add. Below it they go one at a time: at 4 rows two interleaved weight
     * streams read memory at half the rate one does (4864 x 896: 1.0 ms against 0.52-0.74).
     */
    static final int TILE_FROM_ROWS = 8;
    /**
     * Outputs whose weight rows (28 KB of float32 at width 896) stay in L1 while every group of
     * input rows passes over them: each group is read from L2 once per block, not per tile
     * (4864 x 896 at 32 rows, two-by-four tiles: 3.05-3.16 ms against 3.38-3.45 a pair at a time).
     */
    private static final int TILE_OUTPUTS = 8;
    /**
     * Columns of the float32 tiles' blocks: a block's 8 weight rows (32 KB) stay in L1 while each
     * group's input rows (16 or 24 KB) pass. Blocks of 448 or 256 columns, which also keep all of 16
     * rows' inputs beside them, were no faster at 16 rows.
     */
    private static final int TILE_COLUMNS = 1024;
    /**
     * The outputs a tile's block takes for a product of {@code rows} input rows (float32 or BF16):
     * {@link #TILE_OUTPUTS} from 8 rows, where both kernels tile, else 1. The pool's steps are at
     * least this many outputs, so that no step is too small for a block.
     */
    static int blockOutputs(int rows) {
        return rows >= Math.min(TILE_FROM_ROWS, BF16_TILE_FROM_ROWS) ? TILE_OUTPUTS : 1;
    }

    /** Each worker's copy of the weight rows of its current block. */
    private static final ThreadLocal<float[]> BLOCK = ThreadLocal.withInitial(() -> new float[0]);

    private GemvKernel() { }

    /**
     * y[r * yStride + o] = sum_{i < width} x[xOffset + r * xStride + i] * W[o - first, i] for o in
     * [o0, o1), r in [0, rows): the product with a matrix of rows of {@code width} floats, which
     * may be one column panel of a wider one (x's columns from {@code xOffset} on). Every row is
     * summed in the same order whatever {@code rows} is, so a row's result does not depend on which
     * other rows share the call (a batch decodes as its rows would alone).
     *
     * @param w      float32 rows [.., width], little-endian, the row of output {@code first} at byte 0
     * @param first  the output index of {@code w}'s row 0
     * @param tiled  from {@link #TILE_FROM_ROWS} rows: the same inputs laid out by {@link #tileInputs},
     *               this panel's from {@code tiledAt}; else unused
     */
    static void multiply(ByteBuffer w, int first, int width, float[] x, int xOffset, int xStride, float[] tiled, int tiledAt, int rows,
                         float[] y, int yStride, int o0, int o1) {
        // output by output, so that a weight row is read from memory once and from L1 for the other input rows
        int o = o0;
        int end = pairedLength(width);
        if (rows >= TILE_FROM_ROWS && end > 0) {
            // blocks of TILE_OUTPUTS weight rows, copied into a Java array (vector loads from an
            // array cost less than from a direct buffer: 16 rows 2.9 ms against 3.8 a matrix on one
            // core) and read there by every group of input rows, four outputs at a time
            float[] block = AlignedArrays.scratch(BLOCK, TILE_OUTPUTS * width);
            int b0 = AlignedArrays.PAD;
            // the rows in groups of six and four ({@link #groupRows}); an odd last row goes one output at a time
            int grouped = rows & ~1, tiles = TILE_OUTPUTS / 4;
            float[] sums = Gemv.scratch(SUMS, tiles * grouped * TILE_SUMS_PER_ROW);
            FloatBuffer floats = w.asFloatBuffer();
            for (; o + 4 <= o1; ) {
                // whole tiles of four outputs; the 1-3 a step may end with go one at a time below
                int e = Math.min(o1, o + TILE_OUTPUTS);
                e -= (e - o) % 4;
                floats.get((o - first) * width, block, b0, (e - o) * width);
                // columns a block at a time, every tile of the block over them before the next: the
                // block's columns stay in L1 while each group of input rows passes (a 4864-wide block
                // is 155 KB: its rows came from L2 for every group), each tile's accumulators resumed
                for (int c = 0; c < end; c += TILE_COLUMNS) {
                    int to = Math.min(end, c + TILE_COLUMNS);
                    for (int r = 0, g; r < grouped; r += g) {
                        g = groupRows(grouped - r);
                        int xg = tiledAt + r * end;
                        for (int k = o; k < e; k += 4) {
                            // the even chunks' accumulators, then the odd chunks'
                            tilePasses(2, end, block, b0 + (k - o) * width, width, tiled, xg, g, c, to, sums,
                                    ((k - o) / 4 * grouped + r) * TILE_SUMS_PER_ROW);
                        }
                    }
                }
                for (int r = 0, g; r < grouped; r += g) {
                    g = groupRows(grouped - r);
                    for (int k = o; k < e; k += 4) {
                        tileSums(block, b0 + (k - o) * width, width, g, x, xOffset + r * xStride, xStride, y, r * yStride + k, yStride, sums,
                                ((k - o) / 4 * grouped + r) * TILE_SUMS_PER_ROW);
                    }
                }
                for (int r = grouped; r < rows; r++) {
                    for (int k = o; k < e; k++) y[r * yStride + k] = row(w, (k - first) * width * 4, width, x, xOffset + r * xStride);
                }
                o = e;
            }
        }
        for (; o < o1; o++) {
            int base = (o - first) * width * 4;
            int r = 0;
            for (; r + 4 <= rows; r += 4) four(w, base, width, x, xOffset + r * xStride, xStride, y, r * yStride + o, yStride);
            for (; r < rows; r++) y[r * yStride + o] = row(w, base, width, x, xOffset + r * xStride);
        }
    }

    /**
     * The input rows a float32 tile takes next, of {@code left} (even, at least 4) not yet taken:
     * six where what remains can still be split into sixes and fours, else four (8 = 4 + 4, 16 =
     * 6 + 6 + 4). Six input rows by four weight rows are 24 accumulators, 10 vector loads per 24
     * multiply-adds against 8 per 16 with four.
     */
    static int groupRows(int left) {
        return left == 4 || left == 8 ? 4 : 6;
    }

    /** The calling thread's inputs laid out for the float32 tile ({@link #tileInputs}). */
    private static final ThreadLocal<float[]> TILE_INPUTS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * The inputs of a float32 product of {@code rows} rows laid out for the tile, in the calling
     * thread's aligned scratch: from {@code xs} (panel p's row r from {@code PAD + (p * rows + r) *
     * width}, as {@link Gemv} aligns them), for each panel and each group of rows ({@link #groupRows}),
     * the chunks of {@code lanes} floats the tile's first pass reads (columns 0, 2 lanes, 4 lanes, ...)
     * then those of the second (1 lane, 3 lanes, ...), each chunk's rows side by side: the group of
     * rows from r of panel p starts at {@code PAD + (p * rows + r) * pairedLength(width)}, and a pass
     * reads its chunks in order from one index, where four or six separate rows took an index each
     * (the tile's loop ran out of general registers: 123-148 GFLOP/s in L1 against 164-205 laid out).
     * The columns after {@link #pairedLength} are not here: the tile takes them from {@code xs}.
     */
    static float[] tileInputs(float[] xs, int rows, int panels, int width) {
        return layOut(xs, AlignedArrays.PAD, rows * width, width, rows, panels, pairedLength(width), 1);
    }

    /**
     * Rows of {@code end} floats (row r of panel p from {@code src[first + p * panelStride + r *
     * rowStride]}) laid out for the tile's passes in the calling thread's aligned scratch: each row
     * is {@code parts} equal parts, each part two passes (its even chunks of {@code lanes} floats,
     * then its odd ones); the group of rows from r of panel p starts at {@code PAD + (p * rows + r)
     * * end}, and in it pass P's chunks, each chunk's rows side by side, from {@code P * g * end /
     * parts / 2} (g the group's rows).
     */
    private static float[] layOut(float[] src, int first, int panelStride, int rowStride, int rows, int panels, int end, int parts) {
        int n = S.length(), part = end / parts, chunks = part / (2 * n), grouped = rows & ~1;
        float[] t = AlignedArrays.scratch(TILE_INPUTS, panels * rows * end);
        for (int p = 0; p < panels; p++) {
            for (int r = 0, g; r < grouped; r += g) {
                g = groupRows(grouped - r);
                int at = AlignedArrays.PAD + (p * rows + r) * end;
                for (int k = 0; k < g; k++) {
                    int from = first + p * panelStride + (r + k) * rowStride;
                    for (int pass = 0; pass < 2 * parts; pass++) {
                        int column = from + pass / 2 * part + pass % 2 * n, to = at + pass * g * part / 2 + k * n;
                        for (int c = 0; c < chunks; c++) FloatVector.fromArray(S, src, column + 2 * c * n).intoArray(t, to + c * g * n);
                    }
                }
            }
        }
        return t;
    }

    /**
     * A tile's outputs from its accumulators (both passes over all paired columns) and the columns
     * after them, one at a time: y[yo + j + k * yStride] for weight row j (from {@code w[base]},
     * {@code width} apart) and input row k < {@code g} (from {@code x[x0]}, {@code xStride} apart).
     */
    private static void tileSums(float[] w, int base, int width, int g, float[] x, int x0, int xStride, float[] y, int yo, int yStride,
                                 float[] sums, int at) {
        int step = S.length();
        int end = pairedLength(width);
        for (int k = 0; k < g; k++) {
            int xr = x0 + k * xStride;
            for (int j = 0; j < 4; j++) {
                int a = at + (g * j + k) * step;
                float s = FloatVector.fromArray(S, sums, a).add(FloatVector.fromArray(S, sums, 4 * g * step + a)).reduceLanes(VectorOperators.ADD);
                int wr = base + j * width;
                for (int i = end; i < width; i++) s += w[wr + i] * x[xr + i];
                y[yo + j + k * yStride] = s;
            }
        }
    }

    /**
     * A tile's {@code passes} passes (two for float32: a row's even and odd chunks; four for BF16: those
     * of each of {@link #widen}'s halves), over the chunks from column {@code from} to {@code to} of each
     * part of {@code part} columns: four weight rows from {@code w[w0]}, {@code stride} apart, by the
     * {@code g} input rows laid out from {@code x[x0]} ({@link #layOut}), pass P's accumulators at
     * {@code into[at + P * 4 g lanes]}, resumed after the first column block.
     */
    private static void tilePasses(int passes, int part, float[] w, int w0, int stride, float[] x, int x0, int g, int from, int to,
                                   float[] into, int at) {
        int n = S.length();
        for (int pass = 0; pass < passes; pass++) {
            int wp = w0 + pass / 2 * part + pass % 2 * n, xp = x0 + pass * g * part / 2, ap = at + pass * 4 * g * n;
            if (g == 6) tilePass6(w, wp, stride, x, xp, from, to, from > 0, into, ap);
            else tilePass4(w, wp, stride, x, xp, from, to, from > 0, into, ap);
        }
    }

    /**
     * {@link #tileSums} for the BF16 tile's four passes, added as {@link #rowBf16} adds its
     * accumulators, and the tail from the weight buffer (the first weight row at byte {@code base}).
     */
    private static void tileSumsBf16(ByteBuffer w, int base, int width, int g, float[] x, int x0, int xStride, float[] y, int yo, int yStride,
                                     float[] sums, int at) {
        int n = S.length(), p = 4 * g * n, end = bf16Length(width);
        for (int k = 0; k < g; k++) {
            for (int j = 0; j < 4; j++) {
                int a = at + (g * j + k) * n;
                FloatVector s0 = FloatVector.fromArray(S, sums, a), s1 = FloatVector.fromArray(S, sums, p + a);
                FloatVector s2 = FloatVector.fromArray(S, sums, 2 * p + a), s3 = FloatVector.fromArray(S, sums, 3 * p + a);
                y[yo + j + k * yStride] = bf16Tail(s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD), w, base + j * width * 2, end, width,
                        x, x0 + k * xStride);
            }
        }
    }

    /** Each worker's accumulators of the float32 tiles ({@link #TILE_SUMS_PER_ROW} per tile and input row; twice that for BF16's four passes). */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[64 * S.length()]);
    /** Floats of a float32 tile's accumulators per input row: four weight rows, two passes. */
    private static final int TILE_SUMS_PER_ROW = 8 * S.length();

    /**
     * One pass of a tile (float32, or BF16 widened to floats): four weight rows ({@code w} from
     * {@code w0}, {@code width} apart) by four input rows laid out by {@link #layOut}, over the chunks at columns {@code from},
     * {@code from + 2 lanes}, ... before {@code to} (the weights at {@code w0 + i}, the inputs'
     * chunk at {@code x0 + 2 i}), each (weight row j, input row k) accumulator stored at {@code
     * into[at + (4j + k) * lanes]}; {@code resume}: the accumulators start from what {@code into}
     * holds there (a pass over earlier columns), else from zero. The stride is a constant: only then
     * is the loop a counted loop whose array bounds checks the JIT hoists out of it.
     */
    private static void tilePass4(float[] w, int w0, int width, float[] x, int x0, int from, int to, boolean resume, float[] into, int at) {
        int w1 = w0 + width, w2 = w1 + width, w3 = w2 + width;
        FloatVector z = FloatVector.zero(S);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
        FloatVector b0 = z, b1 = z, b2 = z, b3 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z;
        FloatVector d0 = z, d1 = z, d2 = z, d3 = z;
        if (resume) {
            a0 = FloatVector.fromArray(S, into, at);
            a1 = FloatVector.fromArray(S, into, at + 1 * S.length());
            a2 = FloatVector.fromArray(S, into, at + 2 * S.length());
            a3 = FloatVector.fromArray(S, into, at + 3 * S.length());
            b0 = FloatVector.fromArray(S, into, at + 4 * S.length());
            b1 = FloatVector.fromArray(S, into, at + 5 * S.length());
            b2 = FloatVector.fromArray(S, into, at + 6 * S.length());
            b3 = FloatVector.fromArray(S, into, at + 7 * S.length());
            c0 = FloatVector.fromArray(S, into, at + 8 * S.length());
            c1 = FloatVector.fromArray(S, into, at + 9 * S.length());
            c2 = FloatVector.fromArray(S, into, at + 10 * S.length());
            c3 = FloatVector.fromArray(S, into, at + 11 * S.length());
            d0 = FloatVector.fromArray(S, into, at + 12 * S.length());
            d1 = FloatVector.fromArray(S, into, at + 13 * S.length());
            d2 = FloatVector.fromArray(S, into, at + 14 * S.length());
            d3 = FloatVector.fromArray(S, into, at + 15 * S.length());
        }
        for (int i = from; i < to; i += 2 * S.length()) {
            int xi = x0 + 2 * i;
            FloatVector u = FloatVector.fromArray(S, w, w0 + i), v = FloatVector.fromArray(S, w, w1 + i);
            FloatVector p = FloatVector.fromArray(S, w, w2 + i), q = FloatVector.fromArray(S, w, w3 + i);
            FloatVector e = FloatVector.fromArray(S, x, xi);
            a0 = u.fma(e, a0);
            b0 = v.fma(e, b0);
            c0 = p.fma(e, c0);
            d0 = q.fma(e, d0);
            e = FloatVector.fromArray(S, x, xi + S.length());
            a1 = u.fma(e, a1);
            b1 = v.fma(e, b1);
            c1 = p.fma(e, c1);
            d1 = q.fma(e, d1);
            e = FloatVector.fromArray(S, x, xi + 2 * S.length());
            a2 = u.fma(e, a2);
            b2 = v.fma(e, b2);
            c2 = p.fma(e, c2);
            d2 = q.fma(e, d2);
            e = FloatVector.fromArray(S, x, xi + 3 * S.length());
            a3 = u.fma(e, a3);
            b3 = v.fma(e, b3);
            c3 = p.fma(e, c3);
            d3 = q.fma(e, d3);
        }
        a0.intoArray(into, at);
        a1.intoArray(into, at + 1 * S.length());
        a2.intoArray(into, at + 2 * S.length());
        a3.intoArray(into, at + 3 * S.length());
        b0.intoArray(into, at + 4 * S.length());
        b1.intoArray(into, at + 5 * S.length());
        b2.intoArray(into, at + 6 * S.length());
        b3.intoArray(into, at + 7 * S.length());
        c0.intoArray(into, at + 8 * S.length());
        c1.intoArray(into, at + 9 * S.length());
        c2.intoArray(into, at + 10 * S.length());
        c3.intoArray(into, at + 11 * S.length());
        d0.intoArray(into, at + 12 * S.length());
        d1.intoArray(into, at + 13 * S.length());
        d2.intoArray(into, at + 14 * S.length());
        d3.intoArray(into, at + 15 * S.length());
    }

    /** {@link #tilePass4} for six input rows (24 accumulators, at {@code into[at + (6j + k) * lanes]}): the inputs' chunk at {@code x0 + 3 i}. */
    private static void tilePass6(float[] w, int w0, int width, float[] x, int x0, int from, int to, boolean resume, float[] into, int at) {
        int w1 = w0 + width, w2 = w1 + width, w3 = w2 + width;
        FloatVector z = FloatVector.zero(S);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z;
        FloatVector b0 = z, b1 = z, b2 = z, b3 = z, b4 = z, b5 = z;
        FloatVector c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z;
        FloatVector d0 = z, d1 = z, d2 = z, d3 = z, d4 = z, d5 = z;
        if (resume) {
            a0 = FloatVector.fromArray(S, into, at);
            a1 = FloatVector.fromArray(S, into, at + 1 * S.length());
            a2 = FloatVector.fromArray(S, into, at + 2 * S.length());
            a3 = FloatVector.fromArray(S, into, at + 3 * S.length());
            a4 = FloatVector.fromArray(S, into, at + 4 * S.length());
            a5 = FloatVector.fromArray(S, into, at + 5 * S.length());
            b0 = FloatVector.fromArray(S, into, at + 6 * S.length());
            b1 = FloatVector.fromArray(S, into, at + 7 * S.length());
            b2 = FloatVector.fromArray(S, into, at + 8 * S.length());
            b3 = FloatVector.fromArray(S, into, at + 9 * S.length());
            b4 = FloatVector.fromArray(S, into, at + 10 * S.length());
            b5 = FloatVector.fromArray(S, into, at + 11 * S.length());
            c0 = FloatVector.fromArray(S, into, at + 12 * S.length());
            c1 = FloatVector.fromArray(S, into, at + 13 * S.length());
            c2 = FloatVector.fromArray(S, into, at + 14 * S.length());
            c3 = FloatVector.fromArray(S, into, at + 15 * S.length());
            c4 = FloatVector.fromArray(S, into, at + 16 * S.length());
            c5 = FloatVector.fromArray(S, into, at + 17 * S.length());
            d0 = FloatVector.fromArray(S, into, at + 18 * S.length());
            d1 = FloatVector.fromArray(S, into, at + 19 * S.length());
            d2 = FloatVector.fromArray(S, into, at + 20 * S.length());
            d3 = FloatVector.fromArray(S, into, at + 21 * S.length());
            d4 = FloatVector.fromArray(S, into, at + 22 * S.length());
            d5 = FloatVector.fromArray(S, into, at + 23 * S.length());
        }
        for (int i = from; i < to; i += 2 * S.length()) {
            int xi = x0 + 3 * i;
            FloatVector u = FloatVector.fromArray(S, w, w0 + i), v = FloatVector.fromArray(S, w, w1 + i);
            FloatVector p = FloatVector.fromArray(S, w, w2 + i), q = FloatVector.fromArray(S, w, w3 + i);
            FloatVector e = FloatVector.fromArray(S, x, xi);
            a0 = u.fma(e, a0);
            b0 = v.fma(e, b0);
            c0 = p.fma(e, c0);
            d0 = q.fma(e, d0);
            e = FloatVector.fromArray(S, x, xi + S.length());
            a1 = u.fma(e, a1);
            b1 = v.fma(e, b1);
            c1 = p.fma(e, c1);
            d1 = q.fma(e, d1);
            e = FloatVector.fromArray(S, x, xi + 2 * S.length());
            a2 = u.fma(e, a2);
            b2 = v.fma(e, b2);
            c2 = p.fma(e, c2);
            d2 = q.fma(e, d2);
            e = FloatVector.fromArray(S, x, xi + 3 * S.length());
            a3 = u.fma(e, a3);
            b3 = v.fma(e, b3);
            c3 = p.fma(e, c3);
            d3 = q.fma(e, d3);
            e = FloatVector.fromArray(S, x, xi + 4 * S.length());
            a4 = u.fma(e, a4);
            b4 = v.fma(e, b4);
            c4 = p.fma(e, c4);
            d4 = q.fma(e, d4);
            e = FloatVector.fromArray(S, x, xi + 5 * S.length());
            a5 = u.fma(e, a5);
            b5 = v.fma(e, b5);
            c5 = p.fma(e, c5);
            d5 = q.fma(e, d5);
        }
        a0.intoArray(into, at);
        a1.intoArray(into, at + 1 * S.length());
        a2.intoArray(into, at + 2 * S.length());
        a3.intoArray(into, at + 3 * S.length());
        a4.intoArray(into, at + 4 * S.length());
        a5.intoArray(into, at + 5 * S.length());
        b0.intoArray(into, at + 6 * S.length());
        b1.intoArray(into, at + 7 * S.length());
        b2.intoArray(into, at + 8 * S.length());
        b3.intoArray(into, at + 9 * S.length());
        b4.intoArray(into, at + 10 * S.length());
        b5.intoArray(into, at + 11 * S.length());
        c0.intoArray(into, at + 12 * S.length());
        c1.intoArray(into, at + 13 * S.length());
        c2.intoArray(into, at + 14 * S.length());
        c3.intoArray(into, at + 15 * S.length());
        c4.intoArray(into, at + 16 * S.length());
        c5.intoArray(into, at + 17 * S.length());
        d0.intoArray(into, at + 18 * S.length());
        d1.intoArray(into, at + 19 * S.length());
        d2.intoArray(into, at + 20 * S.length());
        d3.intoArray(into, at + 21 * S.length());
        d4.intoArray(into, at + 22 * S.length());
        d5.intoArray(into, at + 23 * S.length());
    }

    // Sums: chunks of `lanes` floats alternate between two accumulators (independent sums hide the
    // latency of the fused multiply-add), which are added lane by lane, then across lanes; the tail
    // of a row that is not a whole number of chunk pairs is added one float at a time.

    /** The dot product of the weight row at byte {@code base} with the {@code width} floats of x from {@code xr}. */
    private static float row(ByteBuffer w, int base, int width, float[] x, int xr) {
        int step = S.length();
        int end = pairedLength(width);
        FloatVector a = FloatVector.zero(S), b = FloatVector.zero(S);
        int i = 0;
        for (; i < end; i += 2 * step) {
            a = FloatVector.fromByteBuffer(S, w, base + 4 * i, LE).fma(FloatVector.fromArray(S, x, xr + i), a);
            b = FloatVector.fromByteBuffer(S, w, base + 4 * (i + step), LE).fma(FloatVector.fromArray(S, x, xr + i + step), b);
        }
        float s = a.add(b).reduceLanes(VectorOperators.ADD);
        for (; i < width; i++) s += w.getFloat(base + 4 * i) * x[xr + i];
        return s;
    }

    /** {@link #row} for four input rows (x from {@code x0}, {@code xStride} apart) at once, into y[yo + k * yStride]. */
    private static void four(ByteBuffer w, int base, int width, float[] x, int x0, int xStride, float[] y, int yo, int yStride) {
        int step = S.length();
        int end = pairedLength(width);
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        FloatVector b0 = FloatVector.zero(S), b1 = FloatVector.zero(S), b2 = FloatVector.zero(S), b3 = FloatVector.zero(S);
        int i = 0;
        for (; i < end; i += 2 * step) {
            FloatVector u = FloatVector.fromByteBuffer(S, w, base + 4 * i, LE);
            FloatVector v = FloatVector.fromByteBuffer(S, w, base + 4 * (i + step), LE);
            int j = i + step;
            a0 = u.fma(FloatVector.fromArray(S, x, x0 + i), a0);
            b0 = v.fma(FloatVector.fromArray(S, x, x0 + j), b0);
            a1 = u.fma(FloatVector.fromArray(S, x, x1 + i), a1);
            b1 = v.fma(FloatVector.fromArray(S, x, x1 + j), b1);
            a2 = u.fma(FloatVector.fromArray(S, x, x2 + i), a2);
            b2 = v.fma(FloatVector.fromArray(S, x, x2 + j), b2);
            a3 = u.fma(FloatVector.fromArray(S, x, x3 + i), a3);
            b3 = v.fma(FloatVector.fromArray(S, x, x3 + j), b3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; i < width; i++) {
            float wi = w.getFloat(base + 4 * i);
            s0 += wi * x[x0 + i];
            s1 += wi * x[x1 + i];
            s2 += wi * x[x2 + i];
            s3 += wi * x[x3 + i];
        }
        y[yo] = s0;
        y[yo + yStride] = s1;
        y[yo + 2 * yStride] = s2;
        y[yo + 3 * yStride] = s3;
    }

    /**
     * A gated SiLU MLP's hidden activations from its stacked gate and up products: for each row r
     * and unit i, {@code h[r * inter + i] = silu(g) * u} with {@code g = gateUp[r * 2 inter + i] +
     * gateBias[i]} and {@code u = gateUp[r * 2 inter + inter + i] + upBias[i]} (biases may be null),
     * and silu(g) = g * sigmoid(g) rounded as libtorch's {@code x * sigmoid(x)} rounds it: the
     * sigmoid first, then each product. exp is {@link VectorExp}'s (within 2 ulp of Math.exp, the same bits compiled or not).
     */
    static void siluTimes(float[] gateUp, int rows, int inter, float[] gateBias, float[] upBias, float[] h) {
        int step = S.length();
        int bound = inter - inter % step;
        for (int r = 0; r < rows; r++) {
            int g0 = r * 2 * inter, u0 = g0 + inter, h0 = r * inter;
            int i = 0;
            for (; i < bound; i += step) {
                FloatVector g = FloatVector.fromArray(S, gateUp, g0 + i);
                FloatVector u = FloatVector.fromArray(S, gateUp, u0 + i);
                if (gateBias != null) g = g.add(FloatVector.fromArray(S, gateBias, i));
                if (upBias != null) u = u.add(FloatVector.fromArray(S, upBias, i));
                FloatVector sigmoid = FloatVector.broadcast(S, 1f).div(VectorExp.exp(g.neg()).add(1f));
                g.mul(sigmoid).mul(u).intoArray(h, h0 + i);
            }
            for (; i < inter; i++) {
                float g = gateBias == null ? gateUp[g0 + i] : gateUp[g0 + i] + gateBias[i];
                float u = upBias == null ? gateUp[u0 + i] : gateUp[u0 + i] + upBias[i];
                float sigmoid = 1f / (1f + VectorExp.exp(-g));
                h[h0 + i] = g * sigmoid * u;
            }
        }
    }

    /**
     * The first {@code n} values of {@code v} rounded in place to the nearest BF16, ties to even
     * (add 0x7fff plus the lowest kept bit, then clear the low 16 bits), as torch's float32 ->
     * bfloat16 cast rounds finite values; infinities and NaNs stay as they are.
     */
    static void roundToBf16(float[] v, int n) {
        int step = S.length();
        int bound = n - n % step;
        int i = 0;
        for (; i < bound; i += step) {
            IntVector bits = FloatVector.fromArray(S, v, i).reinterpretAsInts();
            IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(1).add(0x7fff)).and(0xffff0000);
            // exponent all ones: inf or NaN, kept
            var special = bits.and(0x7f800000).eq(0x7f800000);
            rounded.blend(bits, special).reinterpretAsFloats().intoArray(v, i);
        }
        for (; i < n; i++) {
            int bits = Float.floatToRawIntBits(v[i]);
            if ((bits & 0x7f800000) == 0x7f800000) continue;
            bits += 0x7fff + ((bits >>> 16) & 1);
            v[i] = Float.intBitsToFloat(bits & 0xffff0000);
        }
    }

    /**
     * The sum of the ints at bytes [from, to) of {@code b} (a trailing partial int is not read): a
     * plain streaming read of memory of any dtype, for the bandwidth probes (a fresh buffer, or a
     * model's own weights). Ints, because BF16 pairs read as floats can be subnormal, which some
     * cores add slowly.
     */
    static int sumInts(ByteBuffer b, int from, int to) {
        int step = INTS.length() * 4;
        IntVector a = IntVector.zero(INTS), c = IntVector.zero(INTS);
        int i = from;
        for (; i + 2 * step <= to; i += 2 * step) {
            a = a.add(IntVector.fromByteBuffer(INTS, b, i, LE));
            c = c.add(IntVector.fromByteBuffer(INTS, b, i + step, LE));
        }
        int s = a.add(c).reduceLanes(VectorOperators.ADD);
        for (; i + 4 <= to; i += 4) s += b.order() == LE ? b.getInt(i) : Integer.reverseBytes(b.getInt(i));
        return s;
    }

    /**
     * {@link #multiply} for BF16 weights (2 bytes per element, the top half of a float32), reading
     * half of float32's bytes. A vector of ints holds pairs of neighbouring BF16 values; shifting
     * left 16 bits gives the even elements as floats and masking the low half gives the odd ones.
     * The inputs are read as BF16 values too (each float's top 16 bits: {@link Gemv#products} has
     * rounded them), packed two to an int the same way ({@link Bf16Inputs}), so no lane crosses
     * another and a row of inputs takes half the bytes of floats: 4864 inputs (a down projection's)
     * are 9.7 KB, which stay in L1 while the weights stream past, where 19 KB of floats did not
     * (the loop alone over 896 x 4864 on both threads: 26.8-28.8 GB/s against 19.8-21.7, level with
     * 4864 x 896; one thread over matrices in L2, 28-29 against 25). Two
     * vectors of pairs a step, into four accumulators: with two, the chains of fused multiply-adds
     * bound the loop below what memory delivers (a quarter more on one core, measured). Sums in
     * float32.
     *
     * @param in          the inputs as {@link Bf16Inputs} made of x; row r's panel from {@code
     *                    inputOffset + r * inputStride} (counted in BF16 values)
     */
    static void multiplyBf16(ByteBuffer w, int first, int width, float[] x, int xOffset, int xStride, Bf16Inputs in, int inputOffset,
                             int inputStride, int rows, float[] y, int yStride, int o0, int o1) {
        int end = bf16Length(width);
        // where row 0 of this panel starts in the inputs' aligned arrays (BF16 values)
        int pairsAt = Bf16Inputs.PAIRS_FIRST + inputOffset;
        int o = o0;
        // (rows of an odd width do not start on an int, and rows narrower than one step have nothing to
        // widen: both stay on the one-row loop)
        if (rows >= BF16_TILE_FROM_ROWS && width % 2 == 0 && end > 0) {
            // blocks of TILE_OUTPUTS weight rows widened once into a Java array, read there by every
            // group of input rows four outputs at a time, as the float32 tile reads its copies
            float[] block = AlignedArrays.scratch(BLOCK, TILE_OUTPUTS * end);
            int b0 = AlignedArrays.PAD;
            int grouped = rows & ~1, tiles = TILE_OUTPUTS / 4, half = end / 2;
            float[] sums = Gemv.scratch(SUMS, tiles * grouped * 2 * TILE_SUMS_PER_ROW);
            float[] tiled = in.tiled();
            int tiledAt = AlignedArrays.PAD + inputOffset / end * rows * end;
            for (; o + 4 <= o1; ) {
                int e = Math.min(o1, o + TILE_OUTPUTS);
                e -= (e - o) % 4;
                // the rows' bytes in one bulk copy, widened from there: a bulk copy streams memory faster than
                // vector loads from the buffer (8 / 16 rows of 4864 x 896: 0.91-0.95 / 1.40-1.47 ms against 1.03-1.19 / 1.50-1.86)
                int[] raw = Gemv.intScratch(RAW, (e - o) * width / 2);
                w.asIntBuffer().get((o - first) * width / 2, raw, 0, (e - o) * width / 2);
                for (int k = o; k < e; k++) widen(raw, (k - o) * width / 2, end, block, b0 + (k - o) * end);
                // columns a block at a time, every tile over them before the next, as the float32 tile goes;
                // rowBf16's four accumulators are four passes: the even and odd chunks of each half of widen's rows
                for (int c = 0; c < end; c += BF16_TILE_COLUMNS) {
                    int from = c / 2, to = Math.min(end, c + BF16_TILE_COLUMNS) / 2;
                    for (int r = 0, g; r < grouped; r += g) {
                        g = groupRows(grouped - r);
                        int xg = tiledAt + r * end;
                        for (int k = o; k < e; k += 4) {
                            tilePasses(4, half, block, b0 + (k - o) * end, end, tiled, xg, g, from, to, sums,
                                    ((k - o) / 4 * grouped + r) * 2 * TILE_SUMS_PER_ROW);
                        }
                    }
                }
                for (int r = 0, g; r < grouped; r += g) {
                    g = groupRows(grouped - r);
                    for (int k = o; k < e; k += 4) {
                        tileSumsBf16(w, (k - first) * width * 2, width, g, x, xOffset + r * xStride, xStride, y, r * yStride + k, yStride, sums,
                                ((k - o) / 4 * grouped + r) * 2 * TILE_SUMS_PER_ROW);
                    }
                }
                for (int r = grouped; r < rows; r++) {
                    for (int k = o; k < e; k++) y[r * yStride + k] = rowBf16(w, (k - first) * width * 2, width, in.pairs(), pairsAt + r * inputStride, x, xOffset + r * xStride);
                }
                o = e;
            }
        }
        for (; o < o1; o++) {
            int base = (o - first) * width * 2;
            for (int r = 0; r < rows; r++) y[r * yStride + o] = rowBf16(w, base, width, in.pairs(), pairsAt + r * inputStride, x, xOffset + r * xStride);
        }
    }

    /**
     * The dot product of the BF16 weight row at byte {@code base} with one row of inputs: packed
     * pairs from BF16 value {@code xp} ({@link Bf16Inputs#pairs}), the tail from x[xr..].
     */
    private static float rowBf16(ByteBuffer w, int base, int width, int[] pairs, int xp, float[] x, int xr) {
        int step = S.length();
        int end = bf16Length(width);
        FloatVector a = FloatVector.zero(S), b = FloatVector.zero(S), c = FloatVector.zero(S), d = FloatVector.zero(S);
        for (int i = 0; i < end; i += 4 * step) {
            IntVector p = IntVector.fromByteBuffer(INTS, w, base + 2 * i, LE);
            IntVector q = IntVector.fromByteBuffer(INTS, w, base + 2 * i + 4 * step, LE);
            IntVector u = IntVector.fromArray(INTS, pairs, (xp + i) / 2);
            IntVector v = IntVector.fromArray(INTS, pairs, (xp + i) / 2 + step);
            a = even(p).fma(even(u), a);
            b = odd(p).fma(odd(u), b);
            c = even(q).fma(even(v), c);
            d = odd(q).fma(odd(v), d);
        }
        return bf16Tail(a.add(b).add(c.add(d)).reduceLanes(VectorOperators.ADD), w, base, end, width, x, xr);
    }

    /** The even elements of a vector of BF16 pairs (each int's low half) as floats. */
    private static FloatVector even(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** The odd elements of a vector of BF16 pairs (each int's high half) as floats. */
    private static FloatVector odd(IntVector pairs) {
        return pairs.lanewise(VectorOperators.AND, 0xffff0000).reinterpretAsFloats();
    }

    /**
     * From this many input rows on, {@link #multiplyBf16} widens blocks of weight rows once into
     * float arrays and multiplies four weight rows by six or four input rows at a time from them
     * ({@link #tilePass4}, {@link #tilePass6}), rather than unpacking each weight row again for every input row.
     * 4864 x 896 on both threads: 8 / 16 rows 0.78-0.95 / 1.17-1.47 ms against 1.31 / 2.38 for
     * the rows widened one at a time and multiplied four input rows at a time before; at 4 rows the
     * one-row loop is faster (0.51-0.55 ms against 0.65-0.68: one group of rows does not pay for the
     * block's copy). Only CPUs without BF16 instructions give the kernel BF16 passes of more than 4 rows.
     */
    private static final int BF16_TILE_FROM_ROWS = 8;
    /** Columns of the BF16 tile's blocks (512 of each half a pass): four weight rows and up to six input rows of them are 20 KB, within L1. */
    private static final int BF16_TILE_COLUMNS = 1024;

    /** Each worker's copy of the BF16 weight rows of its current block, as pairs in ints. */
    private static final ThreadLocal<int[]> RAW = ThreadLocal.withInitial(() -> new int[0]);

    /**
     * The first {@code end} BF16 values of a row, from its pairs at {@code raw[from]} (a copy of the
     * weight buffer's ints), as floats into {@code into} from {@code at}, laid out for {@link
     * #tilePass4}'s constant stride of two vectors: per two int vectors p and q (values i to i +
     * 4 lanes), p's even and odd elements at {@code at + i / 2} in the row's first half, q's even and
     * odd elements at {@code at + end / 2 + i / 2} in its second half — so each of {@link #rowBf16}'s
     * four accumulators is every other vector of one half.
     */
    private static void widen(int[] raw, int from, int end, float[] into, int at) {
        int step = S.length();
        int second = at + end / 2;
        for (int i = 0; i < end; i += 4 * step) {
            IntVector p = IntVector.fromArray(INTS, raw, from + i / 2);
            IntVector q = IntVector.fromArray(INTS, raw, from + i / 2 + step);
            even(p).intoArray(into, at + i / 2);
            odd(p).intoArray(into, at + i / 2 + step);
            even(q).intoArray(into, second + i / 2);
            odd(q).intoArray(into, second + i / 2 + step);
        }
    }

    /** {@code s} plus the BF16 row at byte {@code base} times x from {@code xr} (read as BF16), over the elements from {@code end} to {@code width}, one at a time. */
    private static float bf16Tail(float s, ByteBuffer w, int base, int end, int width, float[] x, int xr) {
        for (int i = end; i < width; i++) s += Float.intBitsToFloat(w.getShort(base + 2 * i) << 16) * asBf16(x[xr + i]);
        return s;
    }

    /** v's top 16 bits as a float: v itself when it is a BF16 value. */
    private static float asBf16(float v) {
        return Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xffff0000);
    }

    /** How many leading elements of a row of {@code width} the float32 loops take: whole pairs of vectors. */
    static int pairedLength(int width) {
        return width - width % (2 * S.length());
    }

    /** How many leading elements of a row of {@code width} the BF16 loop takes: whole steps of two int vectors (4 float vectors' worth). */
    static int bf16Length(int width) {
        return width - width % (4 * S.length());
    }

    /**
     * The inputs of one BF16 product as {@link #multiplyBf16} reads them, made once per product (the
     * pool's threads share them): each row's columns panel by panel ({@code in / width} panels of
     * {@code width}), of each panel its first {@link #bf16Length} elements ({@code end}); row r's
     * panel p from BF16 value {@code (r * panels + p) * end} after {@link #PAIRS_FIRST}, so that
     * each row of a 64-byte multiple starts a cache line. Every input is read as BF16 (its top 16
     * bits), whichever array holds it, so a row sums the same values on every path.
     *
     * @param pairs    each two neighbouring inputs in one int, the even one in the low half (as BF16
     *                 weights lie in memory); index = value index / 2
     * @param tiled    for the tile (from {@link #BF16_TILE_FROM_ROWS} rows; else null): the inputs
     *                 as floats in {@link #widen}'s order, laid out for the tile's four passes
     *                 (panel p's group of rows from r at {@code PAD + (p * rows + r) * end})
     */
    record Bf16Inputs(int[] pairs, float[] tiled) {
        private static final ThreadLocal<int[]> PAIRS = ThreadLocal.withInitial(() -> new int[0]);
        private static final ThreadLocal<float[]> WIDENED = ThreadLocal.withInitial(() -> new float[0]);
        /** The BF16 value of {@link #pairs} where row 0's panel 0 starts: 64-byte aligned ({@link AlignedArrays}). */
        static final int PAIRS_FIRST = 2 * AlignedArrays.PAD;
        /** Where row 0's panel 0 starts in the widened inputs {@link #tiled} is laid out from: 64-byte aligned. */
        private static final int WIDENED_FIRST = AlignedArrays.PAD;

        /** x [rows, in] for a matrix of panels of {@code width}, in the calling thread's scratch arrays (valid until its next product). */
        static Bf16Inputs of(float[] x, int rows, int in, int width) {
            int panels = in / width, end = bf16Length(width);
            int[] pairs = AlignedArrays.intScratch(PAIRS, rows * panels * end / 2);
            float[] widened = rows >= BF16_TILE_FROM_ROWS ? AlignedArrays.scratch(WIDENED, rows * panels * end) : null;
            for (int r = 0; r < rows; r++) {
                for (int p = 0; p < panels; p++) {
                    int to = (r * panels + p) * end, from = r * in + p * width;
                    for (int m = 0; m < end / 2; m++) {
                        int lo = Float.floatToRawIntBits(x[from + 2 * m]) >>> 16, hi = Float.floatToRawIntBits(x[from + 2 * m + 1]) & 0xffff0000;
                        pairs[PAIRS_FIRST / 2 + to / 2 + m] = hi | lo;
                    }
                    // the inputs widened from their pairs as the weights are: the same order, the same values
                    if (widened != null) widen(pairs, PAIRS_FIRST / 2 + to / 2, end, widened, WIDENED_FIRST + to);
                }
            }
            return new Bf16Inputs(pairs, widened == null ? null : layOut(widened, WIDENED_FIRST, end, panels * end, rows, panels, end, 2));
        }
    }
}
