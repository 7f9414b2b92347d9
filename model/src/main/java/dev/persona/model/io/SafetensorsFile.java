package dev.persona.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header, then raw
 * tensor data. Tensors are mapped one at a time on demand, so no whole file is copied to the heap and
 * offsets past 2 GiB work. Every header entry is validated against the file size when opened.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest header the format allows (100 MB, as the reference library checks). */
    private static final long MAX_HEADER = 100_000_000L;

    private final Path path;
    private final FileChannel channel;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates {@code path}; errors name the file and the bad value. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new PersonaException("cannot open " + path + ": " + e.getMessage(),
                    "check that the file exists and is readable", e);
        }
        try {
            long size = ch.size();
            if (size < 8) {
                throw new PersonaException(path + ": file is " + size + " bytes, too short for a safetensors header",
                        "the file is truncated; copy or download it again");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen < 2 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw new PersonaException(path + ": header length " + headerLen + " runs past the end of the "
                        + size + "-byte file", "the file is truncated or not a safetensors file; copy it again");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonNode root;
            try {
                root = JSON.readTree(new String(header.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new PersonaException(path + ": header is not valid JSON (" + e.getMessage() + ")",
                        "the file is corrupt; copy it again");
            }
            long dataStart = 8 + headerLen;
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                var e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataStart, size));
            }
            checkNoOverlap(path, tensors);
            return new SafetensorsFile(path, ch, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            closeQuietly(ch);
            throw new PersonaException("cannot read " + path + ": " + e.getMessage(), "check the file", e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** Two tensors sharing bytes would load as each other's values: refused, naming both. */
    private static void checkNoOverlap(Path path, Map<String, TensorInfo> tensors) {
        java.util.List<TensorInfo> byStart = new java.util.ArrayList<>(tensors.values());
        byStart.sort(java.util.Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < byStart.size(); i++) {
            TensorInfo a = byStart.get(i - 1), b = byStart.get(i);
            if (b.begin() < a.end()) {
                throw new PersonaException(path + ": tensors '" + a.name() + "' and '" + b.name() + "' overlap (bytes " + b.begin() + ".." + a.end() + ")",
                        "the file is corrupt or hand-edited; copy it again or re-save it with safetensors");
            }
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode e, long dataStart, long size) {
        JsonNode offs = e.get("data_offsets");
        JsonNode shapeNode = e.get("shape");
        if (offs == null || offs.size() != 2 || shapeNode == null || e.get("dtype") == null) {
            throw new PersonaException(path + ": tensor '" + name + "' has a malformed header entry " + e,
                    "the file is corrupt; copy it again");
        }
        DType dtype = DType.parse(e.get("dtype").asText(), path, name);
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong();
            numel *= shape[i];
        }
        long begin = offs.get(0).asLong();
        long end = offs.get(1).asLong();
        if (begin < 0 || end < begin || dataStart + end > size) {
            throw new PersonaException(path + ": tensor '" + name + "' has data offsets [" + begin + ", " + end
                    + "] past the end of the data section (" + (size - dataStart) + " bytes)",
                    "the file is truncated or corrupt; copy it again");
        }
        if (end - begin != numel * dtype.bytes()) {
            throw new PersonaException(path + ": tensor '" + name + "' spans " + (end - begin) + " bytes but shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + numel * dtype.bytes(),
                    "the file is corrupt; copy it again");
        }
        return new TensorInfo(name, dtype, shape, dataStart + begin, dataStart + end, path);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("unexpected end of file");
            pos += n;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing; the first error is the one to report
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor entries by name, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The header's {@code __metadata__} string map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Maps one tensor's bytes read-only; the buffer is little-endian. One mapping holds at most 2 GiB:
     * {@link #readFloats} reads larger tensors (a 9B model's float32 embedding is 3.7 GB) in chunks.
     */
    public MappedByteBuffer map(TensorInfo t) {
        long len = t.end() - t.begin();
        if (len > Integer.MAX_VALUE) {
            throw new PersonaException(path + ": tensor '" + t.name() + "' is " + len + " bytes, over the 2 GiB one mapping holds",
                    "read it with readFloats, which maps it in chunks");
        }
        return map(t, t.begin(), len);
    }

    private MappedByteBuffer map(TensorInfo t, long from, long len) {
        try {
            MappedByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, from, len);
            b.order(ByteOrder.LITTLE_ENDIAN);
            return b;
        } catch (IOException e) {
            throw new PersonaException("cannot map tensor '" + t.name() + "' of " + path + ": " + e.getMessage(), "check the file", e);
        }
    }

    /** Bytes per mapping when a tensor is read in chunks (1 GiB; smaller in tests). */
    static long chunkBytes = 1L << 30;

    /**
     * Reads one tensor converted to float32, row-major, mapping at most {@link #chunkBytes} at a time
     * (each mapping released before the next), so tensors over 2 GiB load; the limit is a Java array's
     * 2^31 - 9 elements.
     */
    public float[] readFloats(TensorInfo t) {
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new PersonaException(path + ": tensor '" + t.name() + "' has " + n + " elements, more than one Java array holds (2^31 - 9)",
                    "this tensor is too large for Persona's float32 loader; use a smaller model");
        }
        float[] out = new float[(int) n];
        int size = t.dtype().bytes();
        long perChunk = Math.max(1, chunkBytes / size);
        for (long done = 0; done < n; done += perChunk) {
            int count = (int) Math.min(perChunk, n - done);
            MappedByteBuffer chunk = map(t, t.begin() + done * size, (long) count * size);
            t.dtype().toFloat(chunk, out, (int) done, count);
            unmap(chunk);
        }
        return out;
    }

    /**
     * A little-endian float32 tensor of at most {@link #chunkBytes} as a libtorch-owned NDArray: libtorch
     * copies it from the mapping, then the mapping is released (not left to the garbage collector).
     */
    public ai.djl.ndarray.NDArray createF32(ai.djl.ndarray.NDManager manager, TensorInfo t, ai.djl.ndarray.types.Shape shape) {
        MappedByteBuffer b = map(t);
        try (ai.djl.ndarray.NDArray view = manager.create(b, shape, ai.djl.ndarray.types.DataType.FLOAT32)) {
            // the view may share the mapped pages; the copy is libtorch's own
            return view.duplicate();
        } finally {
            unmap(b);
        }
    }

    /** Elements per step of {@link #readRows} (4 MiB of float32); tests lower it so that small matrices take many steps. */
    public static volatile int widenChunkElements = 1 << 20;

    /**
     * A 2-D tensor of any stored float dtype as a libtorch-owned float32 NDArray, filled a few rows at a
     * time ({@link #readRows}) into the array libtorch allocated. So loading never holds a tensor on the
     * Java heap (which the JVM would keep as resident memory after the garbage is gone), and never has
     * more than a step of the file mapped and resident beside the copy (a whole-tensor mapping of a
     * 545 MB output head would be).
     */
    public ai.djl.ndarray.NDArray createWidened(ai.djl.ndarray.NDManager manager, TensorInfo t, ai.djl.ndarray.types.Shape shape) {
        ai.djl.ndarray.NDArray out = manager.create(shape, ai.djl.ndarray.types.DataType.FLOAT32);
        try {
            readRows(manager, t, shape, (from, part) -> out.set(new ai.djl.ndarray.index.NDIndex(from + ":" + (from + part.getShape().get(0))), part));
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * Hands a 2-D tensor of any stored float dtype to {@code rows} as float32 parts of a few rows
     * ({@link #widenChunkElements} elements at most), in order. A float32 part is a view of a small
     * mapping of the file, another dtype's a view of one small off-heap buffer it is converted into;
     * either is valid only during the call.
     */
    public void readRows(ai.djl.ndarray.NDManager manager, TensorInfo t, ai.djl.ndarray.types.Shape shape, TensorSource.Rows rows) {
        if (shape.dimension() != 2) throw new IllegalArgumentException("readRows takes 2-D tensors, not " + shape);
        long n0 = shape.get(0), cols = shape.get(1);
        if (n0 * cols != t.numel()) throw new IllegalArgumentException(t.name() + ": " + shape + " for " + t.numel() + " elements");
        int size = t.dtype().bytes();
        long rowsPerStep = Math.max(1, widenChunkElements / Math.max(1, cols));
        int stepElements = (int) Math.min((long) Integer.MAX_VALUE - 8, rowsPerStep * cols);
        // one pair of step buffers per file, reused by every matrix: a new pair per matrix would be
        // gigabytes of garbage over a model, and the JVM keeps the heap it grows for it
        if (stepFloats == null || stepFloats.length < stepElements) {
            if (stepDirect != null) unmap(stepDirect);
            stepFloats = new float[stepElements];
            stepDirect = ByteBuffer.allocateDirect(stepElements * Float.BYTES).order(ByteOrder.nativeOrder());
        }
        for (long r = 0; r < n0; r += rowsPerStep) {
            long k = Math.min(rowsPerStep, n0 - r);
            int n = (int) (k * cols);
            MappedByteBuffer src = map(t, t.begin() + r * cols * size, (long) n * size);
            ByteBuffer from = src;
            if (t.dtype() != DType.F32 || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                t.dtype().toFloat(src, stepFloats, 0, n);
                stepDirect.clear();
                stepDirect.asFloatBuffer().put(stepFloats, 0, n);
                stepDirect.limit(n * Float.BYTES);
                from = stepDirect;
            }
            // float32 rows go from the mapping to the receiver without a copy on the Java side
            try (ai.djl.ndarray.NDArray part = manager.create(from, new ai.djl.ndarray.types.Shape(k, cols), ai.djl.ndarray.types.DataType.FLOAT32)) {
                rows.accept(r, part);
            } finally {
                unmap(src);
            }
        }
    }

    /** {@link #readRows}'s step buffers (null until the first matrix; freed by {@link #close}). */
    private float[] stepFloats;
    private ByteBuffer stepDirect;

    /** sun.misc.Unsafe and its invokeCleaner, looked up once; null where the JDK does not offer them. */
    private static final Object UNSAFE;
    private static final java.lang.reflect.Method INVOKE_CLEANER;

    static {
        Object u = null;
        java.lang.reflect.Method m = null;
        try {
            java.lang.reflect.Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            f.setAccessible(true);
            u = f.get(null);
            m = u.getClass().getMethod("invokeCleaner", java.nio.ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            u = null;
            m = null;
        }
        UNSAFE = u;
        INVOKE_CLEANER = m;
    }

    /**
     * Releases a mapping or a direct buffer now (JDK's Unsafe.invokeCleaner); where that is unavailable
     * the garbage collector does it later.
     */
    static void unmap(ByteBuffer b) {
        if (INVOKE_CLEANER == null) return;
        try {
            INVOKE_CLEANER.invoke(UNSAFE, b);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // left to the garbage collector, as before
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
        if (stepDirect != null) unmap(stepDirect);
        stepDirect = null;
        stepFloats = null;
    }
}
