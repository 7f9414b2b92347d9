package dev.persona.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Where a model's weights come from: a checkpoint on disk, or random values for benchmarks. */
public interface TensorSource {
    /** Whether a tensor of that name exists. */
    boolean has(String name);

    /** The stored shape of tensor {@code name}; null when the source stores no shapes (random weights). */
    long[] shape(String name);

    /** Tensor {@code name} as float32, checked against {@code expectedShape}. */
    float[] floats(String name, long... expectedShape);

    /** Tensor {@code name} as a float32 NDArray of {@code shape} in {@code manager}. */
    default NDArray create(NDManager manager, String name, long... shape) {
        return manager.create(floats(name, shape), new Shape(shape));
    }

    /** Receives a matrix's rows {@code [from, from + part rows)} as float32; {@code part} is valid only during the call. */
    @FunctionalInterface
    interface Rows {
        void accept(long from, NDArray part);
    }

    /**
     * Hands matrix {@code name} of {@code shape} to {@code rows} as float32 parts, in row order: by
     * default as one part; a checkpoint reads a few rows at a time, so a caller that stores the matrix
     * in another form (BF16) never holds it whole in float32.
     */
    default void readRows(NDManager manager, String name, long[] shape, Rows rows) {
        try (NDArray whole = create(manager, name, shape)) {
            rows.accept(0, whole);
        }
    }

    /**
     * Random weights: N(0, 0.02) for matrices and biases, 1 for norm weights, made directly in
     * native memory so that a benchmark of a large shape never holds its weights on the Java heap.
     */
    static TensorSource random(long seed) {
        return new TensorSource() {
            @Override
            public boolean has(String name) {
                return true;
            }

            @Override
            public long[] shape(String name) {
                return null;
            }

            @Override
            public float[] floats(String name, long... shape) {
                throw new UnsupportedOperationException("random sources create weights natively");
            }

            @Override
            public NDArray create(NDManager manager, String name, long... shape) {
                if (name.contains("norm") || name.contains("ln_")) return manager.ones(new Shape(shape));
                manager.getEngine().setRandomSeed((int) (seed ^ name.hashCode()));
                return manager.randomNormal(0f, 0.02f, new Shape(shape), ai.djl.ndarray.types.DataType.FLOAT32);
            }
        };
    }
}
