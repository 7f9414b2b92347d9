package dev.persona.vectors.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import dev.persona.vectors.TraitVector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Vector formats against the real tools: fixtures written by torch.save, the gguf package (as llama.cpp's
 * cvector-generator and repeng lay them out) and activation-steering's JSON (tools/make_vector_fixtures.py),
 * round trips through every format, and the files Persona writes kept byte-identical to the committed
 * testdata/vectors/from-persona/ copies that the same script loads in torch.load and gguf's reader.
 */
class VectorFormatsTest {
    static Path dir;
    static float[][] expected;
    static JsonNode json;

    @TempDir
    Path tmp;

    @BeforeAll
    static void fixtures() throws IOException {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        dir = p.resolve("testdata/vectors");
        json = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
        expected = matrix(json.get("rows"));
    }

    static float[][] matrix(JsonNode rows) {
        float[][] m = new float[rows.size()][];
        for (int r = 0; r < m.length; r++) {
            m[r] = new float[rows.get(r).size()];
            for (int i = 0; i < m[r].length; i++) m[r][i] = (float) rows.get(r).get(i).asDouble();
        }
        return m;
    }

    @Test
    void readsTorchSaveFiles() {
        assertEquals(VectorFormat.PT, VectorFormat.detect(dir.resolve("reference.pt")));
        assertRows(expected, VectorFiles.read(dir.resolve("reference.pt")).rows("response_avg"), 0, 4);
        assertRows(matrix(json.get("rows_bf16")), VectorFiles.read(dir.resolve("reference-bf16.pt")).rows("response_avg"), 0, 4);
        TraitVector dict = VectorFiles.read(dir.resolve("reference-dict.pt"));
        assertRows(expected, dict.rows("response_avg"), 0, 4);
        float[][] minus2 = new float[expected.length][expected[0].length];
        for (int r = 0; r < minus2.length; r++) for (int i = 0; i < minus2[r].length; i++) minus2[r][i] = -2 * expected[r][i];
        assertRows(minus2, dict.rows("prompt_last"), 0, 4);
    }

    @Test
    void readsLlamaCppRepengAndSvecWithTheirLayerOffsets() {
        Path llama = dir.resolve("llamacpp.gguf");
        assertEquals(VectorFormat.LLAMA_CPP, VectorFormat.detect(llama));
        TraitVector v = VectorFiles.read(llama, 4);
        // direction.N is added to block N's output: Persona row N + 1
        assertRows(expected, v.rows("response_avg"), 2, 4);
        assertArrayEquals(new float[8], v.layer(1));
        assertEquals("[2,3,4]", v.metadata().get("rows_present"));
        assertEquals("llama", v.metadata().get("model_hint"));

        Path repeng = dir.resolve("repeng.gguf");
        assertEquals(VectorFormat.REPENG, VectorFormat.detect(repeng));
        TraitVector r = VectorFiles.read(repeng);
        assertEquals(5, r.numRows(), "repeng layers 1..3 are rows 2..4");
        for (int layer = 1; layer <= 3; layer++) {
            float[] want = new float[8];
            JsonNode row = json.get("repeng").get(Integer.toString(layer));
            for (int i = 0; i < 8; i++) want[i] = (float) row.get(i).asDouble();
            assertArrayEquals(want, r.layer(layer + 1));
        }

        Path svec = dir.resolve("ibm.svec");
        assertEquals(VectorFormat.SVEC, VectorFormat.detect(svec));
        assertRows(expected, VectorFiles.read(svec).rows("response_avg"), 1, 4);
    }

    @Test
    void everyFormatRoundTrips() throws IOException {
        TraitVector v = random(7);
        for (VectorFormat f : VectorFormat.values()) {
            Path file = tmp.resolve("v-" + f.id() + (f == VectorFormat.PERSONA ? ".safetensors" : f == VectorFormat.PT ? ".pt" : f == VectorFormat.SVEC ? ".svec" : ".gguf"));
            List<Integer> rows = VectorFiles.write(v, file, f, VectorFiles.WriteOptions.defaults());
            assertEquals(f, VectorFormat.detect(file));
            TraitVector back = VectorFiles.read(file, 6);
            int first = f == VectorFormat.LLAMA_CPP ? 2 : f == VectorFormat.REPENG || f == VectorFormat.SVEC ? 1 : 0;
            assertEquals(first, rows.get(0), f.id());
            assertRows(v.rows("response_avg"), back.rows("response_avg"), first, 6);
            // writing is deterministic: the same vector always gives the same bytes
            byte[] once = Files.readAllBytes(file);
            VectorFiles.write(v, file, f, VectorFiles.WriteOptions.defaults());
            assertArrayEquals(once, Files.readAllBytes(file), f.id());
        }
        // the reference's .pt holds one kind; Persona's own format keeps all of them
        TraitVector persona = VectorFiles.read(tmp.resolve("v-persona.safetensors"));
        assertEquals(v.directions().keySet(), persona.directions().keySet());
    }

    @Test
    void layersAndCoefficientAreBakedIn() throws IOException {
        TraitVector v = random(3);
        Path file = tmp.resolve("one.gguf");
        List<Integer> rows = VectorFiles.write(v, file, VectorFormat.LLAMA_CPP, new VectorFiles.WriteOptions("prompt_last", VectorFiles.parseRows("3"), 2.5));
        assertEquals(List.of(3), rows);
        GgufFile g = GgufFile.read(file);
        assertEquals(List.of("direction.2"), List.copyOf(g.tensors().keySet()));
        float[] want = v.layer("prompt_last", 3).clone();
        for (int i = 0; i < want.length; i++) want[i] *= 2.5f;
        assertArrayEquals(want, g.tensors().get("direction.2").data());
        assertEquals(1L, g.metadata().get("controlvector.layer_count").value());
        assertEquals(new TreeSet<>(List.of(2, 3, 4)), VectorFiles.parseRows("2-4"));
    }

    @Test
    void filesPersonaWritesMatchTheOnesTheRealToolsLoaded() throws IOException {
        // testdata/vectors/from-persona/ was written by this code and loaded by tools/make_vector_fixtures.py check
        Path committed = dir.resolve("from-persona");
        if (Boolean.getBoolean("persona.writeFixtures")) {
            // regenerate: ./mvnw -pl vectors surefire:test -Dtest=VectorFormatsTest -Dpersona.writeFixtures=true
            Files.createDirectories(committed);
            new ObjectMapper().writeValue(committed.resolve("expected.json").toFile(), Map.of("rows", expected));
        }
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        dirs.put("response_avg", matrix(new ObjectMapper().readTree(committed.resolve("expected.json").toFile()).get("rows")));
        TraitVector v = new TraitVector(dirs, Map.of("trait", "fixture", "model_hint", "llama"));
        Map<String, VectorFormat> files = Map.of("vector.pt", VectorFormat.PT, "vector.gguf", VectorFormat.LLAMA_CPP,
                "vector-repeng.gguf", VectorFormat.REPENG, "vector.svec", VectorFormat.SVEC);
        for (var e : files.entrySet()) {
            Path mine = Boolean.getBoolean("persona.writeFixtures") ? committed.resolve(e.getKey()) : tmp.resolve(e.getKey());
            VectorFiles.write(v, mine, e.getValue(), VectorFiles.WriteOptions.defaults());
            assertArrayEquals(Files.readAllBytes(committed.resolve(e.getKey())), Files.readAllBytes(mine),
                    e.getKey() + " differs from the committed copy: rerun tools/make_vector_fixtures.py check after regenerating it");
        }
    }

    @Test
    void badFilesGetClearErrors() throws IOException {
        Path model = tmp.resolve("model.gguf");
        Map<String, GgufFile.Value> meta = new LinkedHashMap<>();
        meta.put("general.architecture", GgufFile.Value.string("llama"));
        new GgufFile(meta, Map.of("token_embd.weight", new GgufFile.Tensor(new long[] {4}, new float[4]))).write(model);
        String m = assertThrows(PersonaException.class, () -> VectorFiles.read(model)).getMessage();
        assertTrue(m.contains("'llama'") && m.contains("not a control vector"), m);

        byte[] all = Files.readAllBytes(dir.resolve("llamacpp.gguf"));
        Path cut = tmp.resolve("cut.gguf");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 20));
        m = assertThrows(PersonaException.class, () -> VectorFiles.read(cut)).getMessage();
        assertTrue(m.contains("cut.gguf") && m.contains("past the end"), m);

        // a damaged length field (the first metadata key's length, right after the 24-byte header) made a negative array size
        for (long bad : new long[] {-5, Long.MAX_VALUE, 1L << 40}) {
            byte[] copy = all.clone();
            java.nio.ByteBuffer.wrap(copy).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(24, bad);
            Path damagedGguf = tmp.resolve("damaged.gguf");
            Files.write(damagedGguf, copy);
            m = assertThrows(PersonaException.class, () -> VectorFiles.read(damagedGguf)).getMessage();
            assertTrue(m.contains("damaged.gguf") && m.contains("string length " + bad), m);
        }

        m = assertThrows(PersonaException.class, () -> VectorFiles.read(dir.resolve("llamacpp.gguf"), 2)).getMessage();
        assertTrue(m.contains("row 4") && m.contains("2 layers"), m);

        m = assertThrows(PersonaException.class,
                () -> VectorFiles.write(random(1), tmp.resolve("x.gguf"), VectorFormat.LLAMA_CPP, new VectorFiles.WriteOptions(null, VectorFiles.parseRows("1"), 1))).getMessage();
        assertTrue(m.contains("direction.0"), m);

        Path damaged = tmp.resolve("damaged.pt");
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(damaged))) {
            zip.putNextEntry(new java.util.zip.ZipEntry("damaged/data.pkl"));
            zip.write(new byte[] {(byte) 0x80, 2, 't', 'R', '.'}); // a tuple and a call with nothing on the stack
            zip.closeEntry();
        }
        m = assertThrows(PersonaException.class, () -> VectorFiles.read(damaged)).getMessage();
        assertTrue(m.contains("damaged.pt") && m.contains("data.pkl"), m);

        Path notAVector = tmp.resolve("notes.txt");
        Files.writeString(notAVector, "hello");
        m = assertThrows(PersonaException.class, () -> VectorFiles.read(notAVector)).getMessage();
        assertTrue(m.contains("notes.txt"), m);
    }

    private static TraitVector random(long seed) {
        Random rnd = new Random(seed);
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        for (String kind : List.of("response_avg", "prompt_last")) {
            float[][] m = new float[7][16];
            for (float[] row : m) for (int i = 0; i < row.length; i++) row[i] = (float) rnd.nextGaussian();
            dirs.put(kind, m);
        }
        return new TraitVector(dirs, new LinkedHashMap<>(Map.of("trait", "random", "model_hint", "qwen2")));
    }

    private static void assertRows(float[][] want, float[][] got, int from, int to) {
        for (int r = from; r <= to; r++) assertArrayEquals(want[r], got[r], "row " + r);
    }
}
