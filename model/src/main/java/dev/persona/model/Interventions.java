package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Ready-made interventions on the residual stream, taking plain float vectors of length d_model.
 * Their arrays are libtorch-owned ({@link NativeData}), so they are safe inside a training pass.
 */
public final class Interventions {
    private Interventions() { }

    /** {@code x + coef * v} at the masked positions. With coef 0 or v = 0 the activation is unchanged, bit for bit. */
    public static Intervention add(float[] v, double coef) {
        return (x, mask) -> {
            NDArray dir = NativeData.mul(NativeData.floats(x.getManager(), v, new Shape(v.length)), (float) coef);
            return x.add(mask.mul(dir));
        };
    }

    /** Projects out the direction {@code d} (normalised here): {@code x - (x . u) u} at the masked positions. */
    public static Intervention ablate(float[] d) {
        float[] u = unit(d);
        return (x, mask) -> {
            NDArray unitDir = NativeData.floats(x.getManager(), u, new Shape(u.length));
            NDArray proj = x.mul(unitDir).sum(new int[] {-1}, true);
            return x.sub(mask.mul(proj).mul(unitDir));
        };
    }

    /** Adds {@code coef * v}, then rescales each touched position to its original L2 norm. */
    public static Intervention addRenormalized(float[] v, double coef) {
        return (x, mask) -> {
            NDArray dir = NativeData.mul(NativeData.floats(x.getManager(), v, new Shape(v.length)), (float) coef);
            NDArray y = x.add(dir);
            NDArray scale = x.norm(new int[] {-1}, true).div(NativeData.maximum(y.norm(new int[] {-1}, true), 1e-12f));
            NDArray renorm = y.mul(scale);
            return x.add(mask.mul(renorm.sub(x)));
        };
    }

    /** A copy of {@code v} scaled to unit L2 norm; a zero vector is refused. */
    public static float[] unit(float[] v) {
        double n = 0;
        for (float f : v) n += (double) f * f;
        n = Math.sqrt(n);
        if (n == 0) throw new PersonaException("cannot ablate or normalise an all-zero direction (length " + v.length + ")", "use a vector row that holds a direction");
        float[] u = new float[v.length];
        for (int i = 0; i < v.length; i++) u[i] = (float) (v[i] / n);
        return u;
    }
}
