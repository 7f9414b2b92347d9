package dev.persona.vectors.formats;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The vector file formats Persona reads and writes. Row mapping to Persona's rows (row l =
 * Hugging Face hidden_states[l], row 0 the embeddings, row l >= 1 the output of block l-1):
 * <ul>
 * <li>{@code persona}: NAME.safetensors, rows as they are (see docs/DESIGN.md).</li>
 * <li>{@code pt}: the Persona Vectors reference's torch.save of a float32 [L+1, d] tensor, rows as they are.</li>
 * <li>{@code llama.cpp}: control-vector GGUF; tensor direction.N (N >= 1) is added to the output of
 *     block N, i.e. Persona row N+1. Row 1 (block 0) cannot be expressed: llama.cpp rejects direction.0.</li>
 * <li>{@code repeng}: repeng's export_gguf, the same container with uint32 layer_count and
 *     the transformers model_type as hint; its layer ids are block indices, direction.N = row N+1 (N >= 0).</li>
 * <li>{@code svec}: IBM activation-steering JSON; directions keyed by block index i = row i+1.</li>
 * </ul>
 */
public enum VectorFormat {
    PERSONA("persona", ".safetensors"),
    PT("pt", ".pt"),
    LLAMA_CPP("llama.cpp", ".gguf"),
    REPENG("repeng", ".gguf"),
    SVEC("svec", ".svec");

    private final String id;
    private final String extension;

    VectorFormat(String id, String extension) {
        this.id = id;
        this.extension = extension;
    }

    /** The name used on the command line ({@code --to}). */
    public String id() {
        return id;
    }

    /** The format named {@code id} (persona, pt, llama.cpp, repeng, svec). */
    public static VectorFormat named(String id) {
        for (VectorFormat f : values()) if (f.id.equalsIgnoreCase(id) || f.name().equalsIgnoreCase(id)) return f;
        throw new PersonaException("unknown vector format '" + id + "'", "use one of persona, pt, llama.cpp, repeng, svec");
    }

    /** The output format for {@code file}: {@code explicit} when given, else by extension (.gguf = llama.cpp). */
    public static VectorFormat forOutput(Path file, String explicit) {
        if (explicit != null && !explicit.isEmpty()) return named(explicit);
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        for (VectorFormat f : values()) if (name.endsWith(f.extension)) return f;
        throw new PersonaException("cannot tell the format of " + file + " from its extension",
                "name it .safetensors, .pt, .gguf or .svec, or pass --to persona|pt|llama.cpp|repeng|svec");
    }

    /** The format of an existing file, from its first bytes (GGUF files are told apart by their layer_count type). */
    public static VectorFormat detect(Path file) {
        VectorFormat f = sniff(file);
        return f != null ? f : ggufFlavor(GgufFile.read(file));
    }

    /** The GGUF flavour of a parsed control vector: repeng writes layer_count as uint32, llama.cpp as int32. */
    static VectorFormat ggufFlavor(GgufFile g) {
        GgufFile.Value count = g.metadata().get("controlvector.layer_count");
        return count != null && count.type() == 4 ? REPENG : LLAMA_CPP;
    }

    /** The format from the first bytes; null for GGUF, whose flavour needs the parsed metadata. */
    static VectorFormat sniff(Path file) {
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new PersonaException("cannot read vector file " + file + ": " + e.getMessage(), "check the path", e);
        }
        if (n >= 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F') return null;
        if (n >= 2 && head[0] == 'P' && head[1] == 'K') return PT;
        int first = 0;
        while (first < n && Character.isWhitespace(head[first])) first++;
        if (first < n && head[first] == '{') return SVEC;
        if (n >= 9 && head[8] == '{') return PERSONA; // safetensors: u64 header length, then the JSON header
        throw new PersonaException(file + " is not a vector file Persona knows (safetensors, torch .pt, GGUF control vector, .svec)",
                "convert it to one of those formats first");
    }
}
