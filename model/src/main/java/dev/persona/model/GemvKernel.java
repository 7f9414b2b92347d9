package dev.persona.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of {@link Gemv}, on the JDK's vector API (the only class that names it, so that
 * the rest of the runtime loads without the {@code jdk.incubator.vector} module).
 *
 * <p>Each weight row (a few KB: it stays in L1) is read from memory once and multiplied with every
 * input row (float32 weights: up to four input rows per pass over it); sums run in float32 in lanes
 * of the widest vector the CPU has (16 floats with AVX-512, 8 with AVX2), then across lanes.
 */
final class GemvKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** BF16 weights, read as ints of S's width: two neighbouring elements per lane. */
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, S.vectorShape());

    private GemvKernel() { }

    /**
     * y[r * out + o] = sum_i x[r * in + i] * W[o - first, i] for o in [o0, o1), r in [0, rows).
     * Every row is summed in the same order whatever {@code rows} is, so a row's result does not
     * depend on which other rows share the call (a batch decodes as its rows would alone).
     *
     * @param w     float32 rows [.., in], little-endian, the row of output {@code first} at byte 0
     * @param first the output index of {@code w}'s row 0
     */
    static void multiply(ByteBuffer w, int first, int in, float[] x, int rows, float[] y, int out, int o0, int o1) {
        // output by output, so that a weight row is read from memory once and from L1 for the other input rows
        for (int o = o0; o < o1; o++) {
            int base = (o - first) * in * 4;
            int r = 0;
            for (; r + 4 <= rows; r += 4) four(w, base, in, x, r, y, out, o);
            for (; r < rows; r++) row(w, base, in, x, r, y, out, o);
        }
    }

    // Sums: chunks of `lanes` floats alternate between two accumulators (independent sums hide the
    // latency of the fused multiply-add), which are added lane by lane, then across lanes; the tail
    // of a row that is not a whole number of chunk pairs is added one float at a time.

    private static void row(ByteBuffer w, int base, int in, float[] x, int r, float[] y, int out, int o) {
        int step = S.length();
        int end = pairedLength(in);
        int xr = r * in;
        FloatVector a = FloatVector.zero(S), b = FloatVector.zero(S);
        int i = 0;
        for (; i < end; i += 2 * step) {
            a = FloatVector.fromByteBuffer(S, w, base + 4 * i, LE).fma(FloatVector.fromArray(S, x, xr + i), a);
            b = FloatVector.fromByteBuffer(S, w, base + 4 * (i + step), LE).fma(FloatVector.fromArray(S, x, xr + i + step), b);
        }
        float s = a.add(b).reduceLanes(VectorOperators.ADD);
        for (; i < in; i++) s += w.getFloat(base + 4 * i) * x[xr + i];
        y[r * out + o] = s;
    }

    private static void four(ByteBuffer w, int base, int in, float[] x, int r, float[] y, int out, int o) {
        int step = S.length();
        int end = pairedLength(in);
        int x0 = r * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
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
        for (; i < in; i++) {
            float wi = w.getFloat(base + 4 * i);
            s0 += wi * x[x0 + i];
            s1 += wi * x[x1 + i];
            s2 += wi * x[x2 + i];
            s3 += wi * x[x3 + i];
        }
        y[r * out + o] = s0;
        y[(r + 1) * out + o] = s1;
        y[(r + 2) * out + o] = s2;
        y[(r + 3) * out + o] = s3;
    }

    /**
     * A gated SiLU MLP's hidden activations from its stacked gate and up products: for each row r
     * and unit i, {@code h[r * inter + i] = silu(g) * u} with {@code g = gateUp[r * 2 inter + i] +
     * gateBias[i]} and {@code u = gateUp[r * 2 inter + inter + i] + upBias[i]} (biases may be null),
     * and silu(g) = g * sigmoid(g) rounded as libtorch's {@code x * sigmoid(x)} rounds it: the
     * sigmoid first, then each product. exp is the vector API's (within an ulp or so of Math.exp).
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
                FloatVector sigmoid = FloatVector.broadcast(S, 1f).div(g.neg().lanewise(VectorOperators.EXP).add(1f));
                g.mul(sigmoid).mul(u).intoArray(h, h0 + i);
            }
            for (; i < inter; i++) {
                float g = gateBias == null ? gateUp[g0 + i] : gateUp[g0 + i] + gateBias[i];
                float u = upBias == null ? gateUp[u0 + i] : gateUp[u0 + i] + upBias[i];
                float sigmoid = 1f / (1f + (float) Math.exp(-g));
                h[h0 + i] = g * sigmoid * u;
            }
        }
    }

    /** The sum of floats [from, to) of {@code b}: a plain streaming read, for the bandwidth probe. */
    static float sum(ByteBuffer b, int from, int to) {
        int step = S.length();
        FloatVector a = FloatVector.zero(S), c = FloatVector.zero(S);
        int i = from;
        for (; i + 2 * step <= to; i += 2 * step) {
            a = a.add(FloatVector.fromByteBuffer(S, b, 4 * i, LE));
            c = c.add(FloatVector.fromByteBuffer(S, b, 4 * (i + step), LE));
        }
        float s = a.add(c).reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) s += b.getFloat(4 * i);
        return s;
    }

    /**
     * {@link #multiply} for BF16 weights (2 bytes per element, the top half of a float32), reading
     * half of float32's bytes. A vector of ints holds pairs of neighbouring BF16 values; shifting
     * left 16 bits gives the even elements as floats and masking the low half gives the odd ones,
     * so the inputs come split into even and odd elements ({@link #splitPairs}) and no lane crosses
     * another. Two vectors of pairs a step, into four accumulators: with two, the chains of fused
     * multiply-adds bound the loop below what memory delivers (a quarter more on one core, measured).
     * Sums in float32.
     */
    static void multiplyBf16(ByteBuffer w, int first, int in, float[] x, float[] split, int rows, float[] y, int out, int o0, int o1) {
        int step = S.length();
        int end = bf16Length(in);
        int half = end / 2;
        for (int o = o0; o < o1; o++) {
            int base = (o - first) * in * 2;
            for (int r = 0; r < rows; r++) {
                int xe = r * end, xo = xe + half;
                FloatVector a = FloatVector.zero(S), b = FloatVector.zero(S), c = FloatVector.zero(S), d = FloatVector.zero(S);
                for (int i = 0; i < end; i += 4 * step) {
                    IntVector p = IntVector.fromByteBuffer(INTS, w, base + 2 * i, LE);
                    IntVector q = IntVector.fromByteBuffer(INTS, w, base + 2 * i + 4 * step, LE);
                    int e = xe + i / 2, od = xo + i / 2;
                    a = p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(S, split, e), a);
                    b = p.lanewise(VectorOperators.AND, 0xffff0000).reinterpretAsFloats().fma(FloatVector.fromArray(S, split, od), b);
                    c = q.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(S, split, e + step), c);
                    d = q.lanewise(VectorOperators.AND, 0xffff0000).reinterpretAsFloats().fma(FloatVector.fromArray(S, split, od + step), d);
                }
                float s = a.add(b).add(c.add(d)).reduceLanes(VectorOperators.ADD);
                for (int i = end; i < in; i++) s += Float.intBitsToFloat(w.getShort(base + 2 * i) << 16) * x[r * in + i];
                y[r * out + o] = s;
            }
        }
    }

    /** How many leading elements of a row of {@code in} the float32 loops take: whole pairs of vectors. */
    static int pairedLength(int in) {
        return in - in % (2 * S.length());
    }

    /** How many leading elements of a row of {@code in} the BF16 loop takes: whole steps of two int vectors (4 float vectors' worth). */
    static int bf16Length(int in) {
        return in - in % (4 * S.length());
    }

    /**
     * Each row's first {@link #bf16Length} inputs split into even then odd elements, as
     * {@link #multiplyBf16} reads them: row r's even ones at {@code r * end}, its odd ones half a row later.
     */
    static float[] splitPairs(float[] x, int rows, int in) {
        int end = bf16Length(in), half = end / 2;
        float[] split = new float[rows * end];
        for (int r = 0; r < rows; r++) {
            for (int m = 0; m < half; m++) {
                split[r * end + m] = x[r * in + 2 * m];
                split[r * end + half + m] = x[r * in + 2 * m + 1];
            }
        }
        return split;
    }
}
