package dev.persona.model.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes float32 tensors to a safetensors file. The header is padded with spaces to a multiple of 8
 * bytes, as the reference writer does, and the file is written to a temporary name then moved into
 * place so a crash never leaves a half-written file under the real name.
 */
public final class SafetensorsWriter {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Map<String, float[]> data = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a float32 tensor; {@code values.length} must equal the product of {@code shape}. */
    public SafetensorsWriter add(String name, float[] values, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        if (n != values.length) {
            throw new IllegalArgumentException("tensor " + name + ": " + values.length + " values for shape " + java.util.Arrays.toString(shape));
        }
        shapes.put(name, shape.clone());
        data.put(name, values);
        return this;
    }

    /** Adds a {@code __metadata__} entry. */
    public SafetensorsWriter meta(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Writes the file atomically. */
    public void write(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (var e : shapes.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var s = t.putArray("shape");
            for (long d : e.getValue()) s.add(d);
            long len = 4L * data.get(e.getKey()).length;
            t.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        AtomicWrite.to(file, tmp -> {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
                out.write(len.array());
                out.write(h);
                for (int i = h.length; i < padded; i++) out.write(' ');
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (float[] values : data.values()) {
                    for (float v : values) {
                        if (!buf.hasRemaining()) {
                            out.write(buf.array(), 0, buf.position());
                            buf.clear();
                        }
                        buf.putFloat(v);
                    }
                }
                out.write(buf.array(), 0, buf.position());
            }
        });
    }
}
