package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken model directories give errors that name the file and the problem. */
class BadInputTest {
    @TempDir
    Path tmp;

    private Path copyOf(String family) throws IOException {
        Path src = Fixtures.project("testdata/families/" + family);
        Path dst = tmp.resolve(family);
        Files.createDirectories(dst);
        try (var s = Files.list(src)) {
            for (Path p : s.toList()) Files.copy(p, dst.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return dst;
    }

    private static String message(Path dir) {
        PersonaException e = assertThrows(PersonaException.class, () -> HookedTransformer.load(dir).close());
        return e.getMessage();
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path dir = copyOf("qwen2");
        Path f = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length / 2));
        String msg = message(dir);
        assertTrue(msg.contains(f.toString()) && msg.contains("past the end"), msg);
    }

    @Test
    void headerLengthPastEnd() throws IOException {
        Path dir = copyOf("qwen2");
        Path f = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, all.length * 4L);
        Files.write(f, all);
        String msg = message(dir);
        assertTrue(msg.contains(f.toString()) && msg.contains("header length"), msg);
    }

    @Test
    void tensorOffsetPastEnd() throws IOException {
        Path dir = copyOf("gpt2");
        Path f = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        long headerLen = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(all, 8, (int) headerLen, StandardCharsets.UTF_8);
        // grow the last tensor's end offset beyond the data section, keeping the header length
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"data_offsets\":\\[(\\d+),(\\d+)\\]").matcher(header);
        long maxEnd = 0;
        String target = null;
        while (m.find()) {
            if (Long.parseLong(m.group(2)) >= maxEnd) {
                maxEnd = Long.parseLong(m.group(2));
                target = m.group();
            }
        }
        String replaced = header.replace(target, target.replace("," + maxEnd + "]", "," + (maxEnd + 4096) + "]"));
        replaced = replaced.length() <= header.length() ? replaced + " ".repeat(header.length() - replaced.length()) : replaced;
        ByteBuffer out = ByteBuffer.allocate(all.length - (int) headerLen + replaced.length()).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(replaced.length()).put(replaced.getBytes(StandardCharsets.UTF_8)).put(all, 8 + (int) headerLen, all.length - 8 - (int) headerLen);
        Files.write(f, out.array());
        String msg = message(dir);
        assertTrue(msg.contains(f.toString()) && (msg.contains("data offsets") || msg.contains("spans")), msg);
    }

    @Test
    void missingTensor() throws IOException {
        Path dir = copyOf("llama3-untied");
        String cfg = Files.readString(dir.resolve("config.json")).replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 4");
        Files.writeString(dir.resolve("config.json"), cfg);
        String msg = message(dir);
        assertTrue(msg.contains("model.layers.3.") && msg.contains("missing"), msg);
    }

    @Test
    void unknownModelType() throws IOException {
        Path dir = copyOf("qwen3");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"qwen3\"", "\"mamba\""));
        String msg = message(dir);
        assertTrue(msg.contains("model_type 'mamba' is not supported") && msg.contains("llama, mistral, qwen2, qwen3")
                && msg.contains("config.json"), msg);
    }

    @Test
    void missingTokenizer() throws IOException {
        Path dir = copyOf("qwen3");
        PersonaException e = assertThrows(PersonaException.class, () -> ChatModel.load(dir).close());
        assertTrue(e.getMessage().contains("no tokenizer.json in " + dir), e.getMessage());
    }

    @Test
    void configWithFewerLayersThanTheWeights() throws IOException {
        Path dir = copyOf("qwen2");
        String cfg = Files.readString(dir.resolve("config.json"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"num_hidden_layers\"\\s*:\\s*(\\d+)").matcher(cfg);
        assertTrue(m.find(), cfg);
        int layers = Integer.parseInt(m.group(1));
        Files.writeString(dir.resolve("config.json"), m.replaceFirst("\"num_hidden_layers\": " + (layers - 1)));
        String msg = message(dir);
        assertTrue(msg.contains("num_hidden_layers = " + (layers - 1)) && msg.contains("hold " + layers + " layers"), msg);
    }

    @Test
    void overlappingTensorOffsets() throws IOException {
        Path dir = copyOf("gpt2");
        Path f = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        long headerLen = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(all, 8, (int) headerLen, StandardCharsets.UTF_8);
        // point the second tensor's data at the first's, keeping lengths (and the header size) unchanged
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(header);
        java.util.List<String> names = new java.util.ArrayList<>();
        root.fieldNames().forEachRemaining(n -> { if (!n.equals("__metadata__")) names.add(n); });
        names.sort(java.util.Comparator.comparingLong(n -> root.get(n).get("data_offsets").get(0).asLong()));
        var a = root.get(names.get(0)).get("data_offsets");
        var b = (com.fasterxml.jackson.databind.node.ArrayNode) root.get(names.get(1)).get("data_offsets");
        long len = b.get(1).asLong() - b.get(0).asLong();
        long start = a.get(0).asLong() + 4;
        b.removeAll().add(start).add(start + len);
        byte[] h = json.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        byte[] padded = java.util.Arrays.copyOf(h, (int) headerLen);
        java.util.Arrays.fill(padded, h.length, padded.length, (byte) ' ');
        assertTrue(h.length <= headerLen, "the rewritten header fits");
        System.arraycopy(padded, 0, all, 8, padded.length);
        Files.write(f, all);
        String msg = message(dir);
        assertTrue(msg.contains(f.toString()) && msg.contains("overlap"), msg);
    }

    @Test
    void promptLongerThanTheContext() throws IOException {
        try (HookedTransformer m = HookedTransformer.load(copyOf("llama3-untied"))) {
            int context = m.config().maxPositions();
            int[] ids = new int[context + 1];
            PersonaException e = assertThrows(PersonaException.class, () -> m.forward(ids));
            assertTrue(e.getMessage().contains((context + 1) + " tokens is longer than the model's context of " + context), e.getMessage());
            e = assertThrows(PersonaException.class, () -> new Generator(m).generate(java.util.List.of(ids), GenerationOptions.greedy(4)));
            assertTrue(e.getMessage().contains("leaves no room"), e.getMessage());
            // a prompt that fits generates up to the end of the context, not past it
            int[] near = new int[context - 2];
            java.util.Arrays.fill(near, 1);
            var out = new Generator(m).generate(java.util.List.of(near), GenerationOptions.greedy(10).withStopIds(java.util.Set.of()));
            assertTrue(out.get(0).length == 2, "generated " + out.get(0).length);
        }
    }
}
