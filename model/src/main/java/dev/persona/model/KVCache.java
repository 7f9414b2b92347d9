package dev.persona.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Preallocated keys and values for every layer, [batch, kv_heads, capacity, head_dim] each, written
 * in place slot by slot so that decoding never concatenates. Slot s of every row holds the token fed
 * at step s (left padding included; a key mask hides padding). Owns its own native memory.
 */
public final class KVCache implements AutoCloseable {
    final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    final int capacity;
    /** Rows a pass reads and writes: the first {@code rows} of the batch (all of them outside continuous batching). */
    int rows;

    KVCache(NDManager parent, ModelConfig c, int batch, int capacity) {
        this.manager = parent.newSubManager();
        this.capacity = capacity;
        this.rows = batch;
        this.keys = new NDArray[c.numLayers()];
        this.values = new NDArray[c.numLayers()];
        Shape shape = new Shape(batch, c.numKvHeads(), capacity, c.headDim());
        for (int l = 0; l < c.numLayers(); l++) {
            keys[l] = manager.zeros(shape, DataType.FLOAT32);
            values[l] = manager.zeros(shape, DataType.FLOAT32);
        }
    }

    private ByteBuffer[] keyViews;
    private ByteBuffer[] valueViews;

    /**
     * Layer l's keys as a direct view of their native memory in native byte order, for attention on
     * the Java side ({@link AttentionKernel}); null when libtorch gives no direct view.
     */
    ByteBuffer keyView(int l) {
        if (keyViews == null) keyViews = new ByteBuffer[keys.length];
        if (keyViews[l] == null) keyViews[l] = view(keys[l]);
        return keyViews[l];
    }

    /** Layer l's values, as {@link #keyView}. */
    ByteBuffer valueView(int l) {
        if (valueViews == null) valueViews = new ByteBuffer[values.length];
        if (valueViews[l] == null) valueViews[l] = view(values[l]);
        return valueViews[l];
    }

    private static ByteBuffer view(NDArray a) {
        ByteBuffer b = a.toByteBuffer(true);
        // a copy would take the writes away from the cache: only a direct buffer of the whole array will do
        if (!b.isDirect() || b.capacity() != 4L * a.getShape().size()) return null;
        return b.order(ByteOrder.nativeOrder());
    }

    /** Number of slots per row. */
    public int capacity() {
        return capacity;
    }

    @Override
    public void close() {
        manager.close();
    }
}
