package dev.persona.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * e^x lane by lane from IEEE additions, multiplications and fused multiply-adds only, so that
 * every lane rounds the same way whether the caller runs compiled or not.
 *
 * <p>Why not the vector API's {@code EXP}: compiled, it calls a vector math library; not yet
 * compiled (early in a JVM's life, or from a caller still at a lower tier), it computes
 * {@code Math.exp} per lane; the two differ in the last bits, so the same prompt gave logits that
 * differed in their last bits depending on which code had been compiled (the Java blocks against
 * the layer-by-layer route in {@code KernelPassTest}, seen once in CI).
 *
 * <p>Method (Cephes' expf): x = n ln2 + r with n = round(x log2 e) and |r| <= ln2 / 2 (ln2 split
 * in two so that n ln2 is exact), e^r by a degree-6 polynomial, times 2^n built in the exponent
 * bits. Within 2 ulp of {@code Math.exp} where the result is a normal float; 0 below -87.33 (the
 * smallest normal's log; also for -infinity), +infinity above 88.37 (where 2^n would overflow;
 * e^x is finite up to 88.72), NaN for NaN.
 */
final class VectorExp {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 x 2^23: added and subtracted, rounds a float below 2^22 in size to the nearest integer. */
    private static final float ROUNDER = 12582912f;
    private static final float LOWEST = -87.33654f;
    private static final float HIGHEST = 88.37626f;
    private static final float[] POLY = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

    private VectorExp() { }

    /** e^x for every lane of x. */
    static FloatVector exp(FloatVector x) {
        var species = x.species();
        // t's bits hold n + 0x4B400000 (1.5 x 2^23 puts n in the low mantissa bits): n and 2^n without a conversion
        FloatVector t = x.mul(LOG2E).add(ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(species, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(species, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(species, POLY[0]), FloatVector.broadcast(species, POLY[1]));
        p = p.fma(r, FloatVector.broadcast(species, POLY[2]));
        p = p.fma(r, FloatVector.broadcast(species, POLY[3]));
        p = p.fma(r, FloatVector.broadcast(species, POLY[4]));
        p = p.fma(r, FloatVector.broadcast(species, POLY[5]));
        FloatVector er = p.mul(r.mul(r)).add(r).add(1f);
        FloatVector scale = t.reinterpretAsInts().sub(0x4B400000 - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector result = er.mul(scale);
        result = result.blend(0f, x.lt(LOWEST));
        return result.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, HIGHEST));
    }

    /** {@link #exp} for one float, by the same operations in the same order (the bits match a lane's). */
    static float exp(float x) {
        if (x < LOWEST) return 0f;
        if (x > HIGHEST) return Float.POSITIVE_INFINITY;
        float t = x * LOG2E + ROUNDER;
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, POLY[0], POLY[1]);
        for (int k = 2; k < POLY.length; k++) p = Math.fma(p, r, POLY[k]);
        float er = p * (r * r) + r + 1f;
        return er * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (0x4B400000 - 127)) << 23);
    }
}
