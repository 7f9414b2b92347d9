package dev.persona.vectors.formats;

import dev.persona.model.io.AtomicWrite;
import dev.persona.model.PersonaException;
import dev.persona.model.io.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GGUF (version 2 and 3) as control vectors use it: metadata key/value pairs of any type (kept as
 * Java values: Long, Double, Boolean, String or List), and F32/F16 tensors read to float32. Writes
 * version 3 files with string, int32, uint32 and float32 metadata and F32 tensors, aligned to 32 bytes
 * as ggml's writer does. Dimensions are stored innermost first, as in ggml.
 */
public final class GgufFile {
    static final int ALIGNMENT = 32;
    private static final int MAGIC = 0x46554747; // "GGUF" read little-endian

    /** A tensor: ggml dimensions (innermost first) and float32 values. */
    public record Tensor(long[] dims, float[] data) { }

    /** A metadata value with the GGUF type it is written as (4 = uint32, 5 = int32, 6 = float32, 8 = string). */
    public record Value(int type, Object value) {
        public static Value string(String s) {
            return new Value(8, s);
        }

        public static Value uint32(long v) {
            return new Value(4, v);
        }

        public static Value int32(long v) {
            return new Value(5, v);
        }

        public static Value float32(double v) {
            return new Value(6, v);
        }
    }

    private final Map<String, Value> metadata;
    private final Map<String, Tensor> tensors;

    public GgufFile(Map<String, Value> metadata, Map<String, Tensor> tensors) {
        this.metadata = metadata;
        this.tensors = tensors;
    }

    public Map<String, Value> metadata() {
        return metadata;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Reads {@code file}; errors name the file and what is wrong with it. */
    public static GgufFile read(Path file) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            if (b.remaining() < 24 || b.getInt() != MAGIC) {
                throw new PersonaException(file + " does not start with the GGUF magic", "pass a .gguf control-vector file");
            }
            int version = b.getInt();
            if (version < 2 || version > 3) {
                throw new PersonaException(file + ": GGUF version " + version + " (Persona reads versions 2 and 3)", "re-export the vector with a current gguf writer");
            }
            long nTensors = count(b.getLong(), b, 8 + 4 + 8 + 4 + 8, "tensor count", file), nKv = count(b.getLong(), b, 8 + 4, "metadata count", file);
            Map<String, Value> meta = new LinkedHashMap<>();
            for (long i = 0; i < nKv; i++) {
                String key = string(b, file);
                int type = b.getInt();
                meta.put(key, new Value(type, value(b, type, file)));
            }
            record Info(String name, long[] dims, int type, long offset) { }
            List<Info> infos = new ArrayList<>();
            for (long i = 0; i < nTensors; i++) {
                String name = string(b, file);
                int nd = (int) count(b.getInt(), b, 8, "dimension count of tensor " + name, file);
                long[] dims = new long[nd];
                for (int k = 0; k < nd; k++) dims[k] = count(b.getLong(), b, 0, "dimension " + k + " of tensor " + name, file);
                infos.add(new Info(name, dims, b.getInt(), b.getLong()));
            }
            Value align = meta.get("general.alignment");
            int alignment = align == null ? ALIGNMENT : ((Number) align.value()).intValue();
            long base = (b.position() + alignment - 1) / alignment * alignment;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Info t : infos) {
                DType dt = switch (t.type()) {
                    case 0 -> DType.F32;
                    case 1 -> DType.F16;
                    default -> throw new PersonaException(file + ": tensor " + t.name() + " has ggml type " + t.type()
                            + " (control vectors are F32)", "re-export the vector in F32");
                };
                long n = 1;
                for (long d : t.dims()) {
                    n *= d;
                    if (n > Integer.MAX_VALUE) throw new PersonaException(file + ": tensor " + t.name() + " claims over 2^31 values", "the file is damaged; re-export it");
                }
                long start = base + t.offset();
                if (t.offset() < 0 || start + n * dt.bytes() > b.capacity()) {
                    throw new PersonaException(file + ": tensor " + t.name() + " runs past the end of the file", "the file is truncated; re-export it");
                }
                float[] data = new float[(int) n];
                ByteBuffer slice = b.duplicate().order(ByteOrder.LITTLE_ENDIAN).position((int) start);
                dt.toFloat(slice.slice().order(ByteOrder.LITTLE_ENDIAN), data, 0, (int) n);
                tensors.put(t.name(), new Tensor(t.dims(), data));
            }
            return new GgufFile(meta, tensors);
        } catch (java.nio.BufferUnderflowException e) {
            throw new PersonaException(file + ": the GGUF header ends early", "the file is truncated; re-export it", e);
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new PersonaException(file + ": the GGUF header is damaged (" + e.getMessage() + ")", "re-export the vector", e);
        } catch (IOException e) {
            throw new PersonaException(file + ": cannot read (" + e.getMessage() + ")", "check the path", e);
        }
    }

    /**
     * A count or length read from the file, checked before anything is allocated for it: not negative,
     * and (at {@code bytesEach} bytes per item) not more than the file has left.
     */
    private static long count(long n, ByteBuffer b, int bytesEach, String what, Path file) {
        if (n < 0 || (bytesEach > 0 && n > b.remaining() / bytesEach)) {
            throw new PersonaException(file + ": " + what + " " + n + " does not fit the " + b.remaining() + " bytes left in the file",
                    "the file is damaged or truncated; re-export the vector");
        }
        return n;
    }

    private static String string(ByteBuffer b, Path file) {
        long n = count(b.getLong(), b, 1, "string length", file);
        byte[] s = new byte[(int) n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer b, int type, Path file) {
        return switch (type) {
            case 0 -> (long) (b.get() & 0xff);
            case 1 -> (long) b.get();
            case 2 -> (long) (b.getShort() & 0xffff);
            case 3 -> (long) b.getShort();
            case 4 -> b.getInt() & 0xffffffffL;
            case 5 -> (long) b.getInt();
            case 6 -> (double) b.getFloat();
            case 7 -> b.get() != 0;
            case 8 -> string(b, file);
            case 9 -> {
                int itemType = b.getInt();
                long n = count(b.getLong(), b, 1, "array length", file);
                List<Object> items = new ArrayList<>();
                for (long i = 0; i < n; i++) items.add(value(b, itemType, file));
                yield items;
            }
            case 10, 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new PersonaException(file + ": unknown GGUF metadata type " + type, "the file is corrupt or of a newer GGUF version");
        };
    }

    /** Writes this file as GGUF version 3 (F32 tensors; through a temporary file, then moved into place). */
    public void write(Path file) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer head = le(24).putInt(MAGIC).putInt(3).putLong(tensors.size()).putLong(metadata.size());
        out.writeBytes(head.array());
        for (var e : metadata.entrySet()) {
            string(out, e.getKey());
            Value v = e.getValue();
            out.writeBytes(le(4).putInt(v.type()).array());
            switch (v.type()) {
                case 4, 5 -> out.writeBytes(le(4).putInt((int) ((Number) v.value()).longValue()).array());
                case 6 -> out.writeBytes(le(4).putFloat(((Number) v.value()).floatValue()).array());
                case 8 -> string(out, (String) v.value());
                default -> throw new IllegalArgumentException("Persona writes GGUF metadata of types 4, 5, 6 and 8, not " + v.type());
            }
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            string(out, e.getKey());
            long[] dims = e.getValue().dims();
            out.writeBytes(le(4).putInt(dims.length).array());
            for (long d : dims) out.writeBytes(le(8).putLong(d).array());
            out.writeBytes(le(12).putInt(0).putLong(offset).array());
            offset = pad(offset + 4L * e.getValue().data().length);
        }
        pad(out);
        for (Tensor t : tensors.values()) {
            ByteBuffer data = le(4 * t.data().length);
            for (float x : t.data()) data.putFloat(x);
            out.writeBytes(data.array());
            pad(out);
        }
        AtomicWrite.to(file, tmp -> {
            Files.write(tmp, out.toByteArray());
        });
    }

    private static long pad(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static void pad(ByteArrayOutputStream out) {
        out.writeBytes(new byte[(int) (pad(out.size()) - out.size())]);
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(le(8).putLong(b.length).array());
        out.writeBytes(b);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
