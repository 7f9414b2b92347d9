package dev.persona.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.persona.model.Fixtures;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Tensors are read in bounded mappings, so a tensor over the 2 GiB one mapping holds loads. A real
 * 2 GiB file would cost the test run gigabytes of disk; the chunk size is lowered instead, so every
 * tensor of the test models crosses several chunk boundaries (including mid-element offsets of the
 * byte count for F16), and must read the same as in one mapping.
 */
class ChunkedReadTest {
    @Test
    void chunkedReadsEqualWholeReadsForF32AndF16() {
        for (String family : new String[] {"qwen2", "llama-f16"}) {
            Path file = Fixtures.project("testdata/families/" + family).resolve("model.safetensors");
            Map<String, float[]> whole = new LinkedHashMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (TensorInfo t : f.tensors().values()) whole.put(t.name(), f.readFloats(t));
            }
            long saved = SafetensorsFile.chunkBytes;
            try {
                SafetensorsFile.chunkBytes = 36;
                int multiChunk = 0;
                try (SafetensorsFile f = SafetensorsFile.open(file)) {
                    for (TensorInfo t : f.tensors().values()) {
                        assertArrayEquals(whole.get(t.name()), f.readFloats(t), 0f, family + " " + t.name());
                        if (t.end() - t.begin() > 36) multiChunk++;
                    }
                }
                assertTrue(multiChunk > 5, family + ": " + multiChunk + " tensors span several chunks");
            } finally {
                SafetensorsFile.chunkBytes = saved;
            }
        }
    }

    /**
     * Matrices of BF16, F16 and F32 checkpoints are filled into libtorch's array a few rows at a time; with steps of 7 elements every matrix crosses many steps (rows split
     * from the second one on), and each must equal the whole read to the bit.
     */
    @Test
    void widenedMatricesEqualWholeReadsForBf16F16AndLargeF32() {
        int savedStep = SafetensorsFile.widenChunkElements;
        long savedChunk = SafetensorsFile.chunkBytes;
        try (ai.djl.ndarray.NDManager manager = ai.djl.engine.Engine.getEngine("PyTorch").newBaseManager()) {
            SafetensorsFile.widenChunkElements = 7;
            for (String family : new String[] {"qwen2-bf16", "llama-f16", "qwen2"}) {
                Path dir = Fixtures.project("testdata/families/" + family);
                // float32 matrices are copied step by step from small mappings, whatever the chunk size
                if (family.equals("qwen2")) SafetensorsFile.chunkBytes = 64;
                int matrices = 0;
                try (Checkpoint c = Checkpoint.open(dir)) {
                    for (String name : c.names()) {
                        TensorInfo t = c.info(name);
                        if (t.shape().length != 2) continue;
                        try (ai.djl.ndarray.NDArray a = c.create(manager, name, t.shape())) {
                            assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, a.getDataType());
                            assertArrayEquals(c.floats(name, t.shape()), a.toFloatArray(), 0f, family + " " + name);
                        }
                        matrices++;
                    }
                }
                assertTrue(matrices > 5, family + ": " + matrices + " matrices");
                SafetensorsFile.chunkBytes = savedChunk;
            }
        } finally {
            SafetensorsFile.widenChunkElements = savedStep;
            SafetensorsFile.chunkBytes = savedChunk;
        }
    }
}
