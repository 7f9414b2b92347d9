package dev.persona.model.io;

import java.nio.file.Path;

/**
 * One tensor's entry in a safetensors header.
 *
 * @param name  tensor name as stored in the file
 * @param dtype element type
 * @param shape dimensions, outermost first
 * @param begin byte offset of the first element, from the start of the file (long: files pass 2 GiB)
 * @param end   byte offset one past the last element, from the start of the file
 * @param file  the file that holds it
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end, Path file) {
    /** Number of elements (product of the shape; 1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }
}
