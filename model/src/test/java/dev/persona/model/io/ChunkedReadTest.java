package dev.persona.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
}
