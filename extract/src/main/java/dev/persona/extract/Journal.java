package dev.persona.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An append-only JSONL record of finished work, keyed by a string. Each append is flushed and
 * fsynced, so a crash loses at most the record being written; a torn last line is ignored on load.
 * A run header line fixes the run's identity: a journal of other arguments is refused.
 */
public final class Journal {
    private final Path file;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, JsonNode> records = new LinkedHashMap<>();

    /** Opens (or starts) the journal at {@code file} for the run identified by {@code runId}. */
    public Journal(Path file, String runId) throws IOException {
        this.file = file;
        if (Files.exists(file)) {
            dropTornTail(file);
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                JsonNode n;
                try {
                    n = json.readTree(lines.get(i));
                } catch (IOException e) {
                    if (i == lines.size() - 1) break; // torn final line from a crash
                    throw new IOException(file + " line " + (i + 1) + " is corrupt: " + e.getMessage());
                }
                if (i == 0) {
                    if (!runId.equals(n.path("run").asText())) {
                        throw new dev.persona.model.PersonaException(file + " belongs to another run (" + n.path("run").asText() + ")",
                                "use a fresh --out directory, or the same arguments as that run to resume it");
                    }
                    continue;
                }
                records.put(n.get("key").asText(), n);
            }
        }
        if (!Files.exists(file) || Files.size(file) == 0) {
            Files.createDirectories(file.toAbsolutePath().getParent());
            ObjectNode header = json.createObjectNode().put("run", runId);
            Files.writeString(file, json.writeValueAsString(header) + "\n", StandardCharsets.UTF_8);
        }
    }

    /**
     * Cuts a final line that a crash left without its newline, so that new records start on a line
     * of their own (appending after the fragment would corrupt the next record).
     */
    private static void dropTornTail(Path file) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            long keep = size;
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            while (keep > 0) {
                one.clear();
                ch.read(one, keep - 1);
                if (one.get(0) == '\n') break;
                keep--;
            }
            if (keep < size) {
                ch.truncate(keep);
                ch.force(true);
            }
        }
    }

    /** A short, stable name for a run identity: the first 16 hex digits of its SHA-256. */
    public static String idOf(String identity) {
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(digest).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The journal of run {@code identity} in {@code dir}, in a file named {@code prefix + idOf(identity)
     * + ".jsonl"}: runs with other identities keep files of their own beside it, so nothing is refused
     * or mixed, and a rerun with the same identity resumes.
     */
    public static Journal named(Path dir, String prefix, String identity) throws IOException {
        String id = idOf(identity);
        return new Journal(dir.resolve(prefix + id + ".jsonl"), id);
    }

    /** Whether a record with {@code key} was written. */
    public boolean has(String key) {
        return records.containsKey(key);
    }

    /** The record written under {@code key}, or null. */
    public JsonNode get(String key) {
        return records.get(key);
    }

    /** Number of records. */
    public int size() {
        return records.size();
    }

    /** Appends records (each must carry "key") durably. */
    public void append(List<ObjectNode> nodes) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (ObjectNode n : nodes) sb.append(json.writeValueAsString(n)).append('\n');
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer bytes = java.nio.ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
            // a channel may write less than asked (a full disk, a signal): loop, and refuse a write that makes no progress
            while (bytes.hasRemaining()) {
                if (ch.write(bytes) <= 0) {
                    throw new IOException("short write to " + file + ": " + bytes.remaining() + " of " + bytes.capacity() + " bytes not written");
                }
            }
            ch.force(true);
        }
        for (ObjectNode n : nodes) records.put(n.get("key").asText(), n);
    }

    /** Puts {@code v} under {@code field}; JSON has no NaN, so NaN is stored as null. */
    public static void putNumber(ObjectNode record, String field, double v) {
        if (Double.isNaN(v)) record.putNull(field);
        else record.put(field, v);
    }

    /** The number at {@code n}, NaN for a missing or null field (see {@link #putNumber}). */
    public static double number(JsonNode n) {
        return n == null || n.isNull() ? Double.NaN : n.asDouble();
    }

    /** A new record carrying {@code key}, to fill and {@link #append}. */
    public ObjectNode newRecord(String key) {
        return json.createObjectNode().put("key", key);
    }

}
