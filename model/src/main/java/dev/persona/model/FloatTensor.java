package dev.persona.model;

import java.util.Arrays;

/**
 * A float32 tensor on the Java heap, row-major: the form in which activations and logits leave the
 * runtime so that nothing outside {@code model/} handles native arrays.
 *
 * @param shape dimensions, outermost first
 * @param data  {@code product(shape)} values
 */
public record FloatTensor(long[] shape, float[] data) {
    public FloatTensor {
        long n = 1;
        for (long d : shape) n *= d;
        if (n != data.length) {
            throw new IllegalArgumentException(data.length + " values for shape " + Arrays.toString(shape));
        }
    }

    /** Size of dimension {@code i} (negative counts from the end). */
    public int dim(int i) {
        return (int) shape[i < 0 ? shape.length + i : i];
    }

    /** The element at a full index. */
    public float get(int... idx) {
        return data[offset(idx)];
    }

    /** A copy of the innermost row at the given leading index (all but the last dimension). */
    public float[] row(int... leading) {
        int last = dim(-1);
        int[] full = Arrays.copyOf(leading, shape.length);
        int off = offset(full);
        return Arrays.copyOfRange(data, off, off + last);
    }

    private int offset(int[] idx) {
        if (idx.length != shape.length) throw new IllegalArgumentException("index rank " + idx.length + " for shape " + Arrays.toString(shape));
        long off = 0;
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= shape[i]) throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " for shape " + Arrays.toString(shape));
            off = off * shape[i] + idx[i];
        }
        return (int) off;
    }

    /** Concatenates tensors of equal rank along {@code axis}; all other dimensions must match. */
    public static FloatTensor concat(java.util.List<FloatTensor> parts, int axis) {
        FloatTensor first = parts.get(0);
        int rank = first.shape.length;
        long outer = 1;
        for (int i = 0; i < axis; i++) outer *= first.shape[i];
        long inner = 1;
        for (int i = axis + 1; i < rank; i++) inner *= first.shape[i];
        long total = 0;
        for (FloatTensor p : parts) total += p.shape[axis];
        long[] shape = first.shape.clone();
        shape[axis] = total;
        float[] out = new float[(int) (outer * total * inner)];
        int pos = 0;
        for (long o = 0; o < outer; o++) {
            for (FloatTensor p : parts) {
                int len = (int) (p.shape[axis] * inner);
                System.arraycopy(p.data, (int) (o * len), out, pos, len);
                pos += len;
            }
        }
        return new FloatTensor(shape, out);
    }
}
