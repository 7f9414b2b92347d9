package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.function.BinaryOperator;

/**
 * Arrays from Java data, and scalar arithmetic, whose memory libtorch owns.
 *
 * <p>Why: on the CPU, DJL 0.36 makes an array from Java data ({@code manager.create(float[])}, and
 * the scalar inside {@code x.mul(0.5f)}, which it closes right after the product) as a view of a
 * Java direct buffer that the garbage collector frees once the array object is unreachable.
 * Autograd keeps some operands for the backward pass (the other factor of a product, the divisor
 * of a quotient, an exponent, gather and embedding indices); if such an operand was a view of a
 * Java buffer that has since been collected, the backward pass reads freed memory. Training went
 * non-finite whenever a collection fell between a step's forward and backward passes
 * ({@code GradientLifetimeTest}). Every array the forward pass makes from Java data, and every
 * scalar it multiplies or divides by, therefore goes through here: a libtorch-owned copy, which
 * stays valid for as long as any tensor (or autograd) refers to it.
 */
final class NativeData {
    private NativeData() { }

    /** A libtorch-owned float32 array of {@code data}, attached to {@code manager}. */
    static NDArray floats(NDManager manager, float[] data, Shape shape) {
        try (NDArray view = manager.create(data, shape)) {
            return view.duplicate();
        }
    }

    /** A libtorch-owned int64 array of {@code data}, attached to {@code manager}. */
    static NDArray longs(NDManager manager, long[] data, Shape shape) {
        try (NDArray view = manager.create(data, shape)) {
            return view.duplicate();
        }
    }

    /** A libtorch-owned float32 scalar (shape []) in {@code manager}. */
    static NDArray scalar(NDManager manager, float value) {
        return manager.full(new Shape(), value);
    }

    /** x * c, with c held by libtorch. */
    static NDArray mul(NDArray x, float c) {
        return withScalar(x, c, NDArray::mul);
    }

    /** x / c, with c held by libtorch. */
    static NDArray div(NDArray x, float c) {
        return withScalar(x, c, NDArray::div);
    }

    /** x + c, with c held by libtorch. */
    static NDArray add(NDArray x, float c) {
        return withScalar(x, c, NDArray::add);
    }

    /** max(x, c) elementwise, with c held by libtorch. */
    static NDArray maximum(NDArray x, float c) {
        return withScalar(x, c, NDArray::maximum);
    }

    private static NDArray withScalar(NDArray x, float c, BinaryOperator<NDArray> op) {
        try (NDArray s = scalar(x.getManager(), c)) {
            return op.apply(x, s);
        }
    }
}
