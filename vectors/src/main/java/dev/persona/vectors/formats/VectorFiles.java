package dev.persona.vectors.formats;

import dev.persona.model.io.AtomicWrite;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.model.PersonaException;
import dev.persona.vectors.TraitVector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Reads any {@link VectorFormat} into a {@link TraitVector} and writes one out in any format, with the
 * row mapping stated there. Formats that store only some layers come back with the others as zero
 * rows and the stored ones listed in metadata {@code rows_present}.
 */
public final class VectorFiles {
    /** Persona's position kinds, in the order a multi-tensor .pt dict is searched. */
    private static final List<String> KINDS = List.of("response_avg", "prompt_avg", "prompt_last");

    private VectorFiles() { }

    /**
     * What to write: the position {@code kind} (response_avg when null), the rows (null = every row the
     * format can express), and a factor baked into the values (1 = unchanged).
     */
    public record WriteOptions(String kind, TreeSet<Integer> rows, double coef) {
        public static WriteOptions defaults() {
            return new WriteOptions(null, null, 1.0);
        }
    }

    /** Reads {@code file} in whatever format it is; GGUF and .svec get max(stored row) + 1 rows. */
    public static TraitVector read(Path file) {
        return read(file, null);
    }

    /**
     * Reads {@code file}; {@code numLayers} (when not null) fixes the row count of formats that store
     * only some layers, and is checked against the rows the file holds.
     */
    public static TraitVector read(Path file, Integer numLayers) {
        VectorFormat format = VectorFormat.sniff(file);
        if (format == null) {
            // GGUF: parsed once, for its flavour and its tensors
            GgufFile g = GgufFile.read(file);
            return readGguf(file, g, VectorFormat.ggufFlavor(g), numLayers);
        }
        return switch (format) {
            case PERSONA -> TraitVector.load(file);
            case PT -> readTorch(file);
            case LLAMA_CPP, REPENG -> throw new IllegalStateException("sniff returns null for GGUF");
            case SVEC -> readSvec(file, numLayers);
        };
    }

    private static Map<String, String> importedMetadata(Path file, VectorFormat format) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", TraitVector.FORMAT);
        meta.put("trait", file.getFileName().toString().replaceFirst("\\.[^.]*$", ""));
        meta.put("method", "imported");
        meta.put("source_format", format.id());
        meta.put("source_file", file.toString());
        return meta;
    }

    private static TraitVector readTorch(Path file) {
        Map<String, TorchFile.Tensor> tensors = TorchFile.read(file);
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            // a bare tensor or a dict's only tensor is response_avg (the reference's default); a dict names its kinds
            String kind = KINDS.contains(e.getKey()) ? e.getKey() : tensors.size() == 1 ? "response_avg" : null;
            if (kind == null) continue;
            TorchFile.Tensor t = e.getValue();
            if (t.shape().length != 2) {
                throw new PersonaException(file + ": tensor " + (e.getKey().isEmpty() ? "" : "'" + e.getKey() + "' ") + "has shape "
                        + java.util.Arrays.toString(t.shape()) + ", not [L+1, d_model]", "save the per-layer matrix (the reference's *_diff.pt layout)");
            }
            dirs.put(kind, rows(t.data(), (int) t.shape()[0], (int) t.shape()[1]));
        }
        if (dirs.isEmpty()) {
            throw new PersonaException(file + " holds a dict of tensors " + tensors.keySet() + " without any of " + KINDS,
                    "save one tensor, or name the dict entries response_avg / prompt_avg / prompt_last");
        }
        return new TraitVector(dirs, importedMetadata(file, VectorFormat.PT));
    }

    private static TraitVector readGguf(Path file, GgufFile g, VectorFormat format, Integer numLayers) {
        GgufFile.Value arch = g.metadata().get("general.architecture");
        if (arch != null && !"controlvector".equals(arch.value())) {
            throw new PersonaException(file + " is a GGUF of architecture '" + arch.value() + "', not a control vector",
                    "pass a control-vector GGUF (general.architecture = controlvector)");
        }
        Map<Integer, float[]> byRow = new LinkedHashMap<>();
        for (var e : g.tensors().entrySet()) {
            if (!e.getKey().startsWith("direction.")) continue;
            int n;
            try {
                n = Integer.parseInt(e.getKey().substring("direction.".length()));
            } catch (NumberFormatException ex) {
                throw new PersonaException(file + ": tensor '" + e.getKey() + "' has no layer number", "name tensors direction.N");
            }
            if (e.getValue().dims().length != 1) {
                throw new PersonaException(file + ": " + e.getKey() + " is not 1-D", "control-vector directions are [d_model] vectors");
            }
            byRow.put(n + 1, e.getValue().data());
        }
        if (byRow.isEmpty()) throw new PersonaException(file + " has no direction.N tensors", "pass a control-vector GGUF");
        Map<String, String> meta = importedMetadata(file, format);
        GgufFile.Value hint = g.metadata().get("controlvector.model_hint");
        if (hint != null) meta.put("model_hint", String.valueOf(hint.value()));
        return fromRows(file, byRow, numLayers, meta);
    }

    private static TraitVector readSvec(Path file, Integer numLayers) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new PersonaException(file + ": not valid JSON (" + e.getMessage() + ")", "pass an activation-steering .svec file", e);
        }
        JsonNode dirs = root.get("directions");
        if (dirs == null || !dirs.isObject()) throw new PersonaException(file + " has no 'directions' object", "pass an activation-steering .svec file");
        Map<Integer, float[]> byRow = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = dirs.fields(); it.hasNext(); ) {
            var e = it.next();
            float[] v = new float[e.getValue().size()];
            for (int i = 0; i < v.length; i++) v[i] = (float) e.getValue().get(i).asDouble();
            byRow.put(Integer.parseInt(e.getKey()) + 1, v);
        }
        Map<String, String> meta = importedMetadata(file, VectorFormat.SVEC);
        if (root.hasNonNull("model_type")) meta.put("model_hint", root.get("model_type").asText());
        if (root.has("explained_variances")) meta.put("svec_explained_variances", root.get("explained_variances").toString());
        return fromRows(file, byRow, numLayers, meta);
    }

    private static TraitVector fromRows(Path file, Map<Integer, float[]> byRow, Integer numLayers, Map<String, String> meta) {
        int maxRow = byRow.keySet().stream().max(Integer::compare).orElseThrow();
        int d = byRow.values().iterator().next().length;
        int rows = numLayers != null ? numLayers + 1 : maxRow + 1;
        if (maxRow >= rows) {
            throw new PersonaException(file + " holds a direction for row " + maxRow + " (block " + (maxRow - 1) + ") but the model has "
                    + numLayers + " layers", "use a vector made for this model");
        }
        float[][] out = new float[rows][d];
        for (var e : byRow.entrySet()) {
            if (e.getValue().length != d) throw new PersonaException(file + ": directions differ in length", "the file is inconsistent; re-export it");
            out[e.getKey()] = e.getValue();
        }
        meta.put("rows_present", new TreeSet<>(byRow.keySet()).toString().replace(" ", ""));
        meta.put("d_model", Integer.toString(d));
        meta.put("num_layers", Integer.toString(rows - 1));
        Map<String, float[][]> dirs = new LinkedHashMap<>();
        dirs.put("response_avg", out);
        return new TraitVector(dirs, meta);
    }

    private static float[][] rows(float[] flat, int n, int d) {
        float[][] r = new float[n][d];
        for (int i = 0; i < n; i++) System.arraycopy(flat, i * d, r[i], 0, d);
        return r;
    }

    /**
     * Writes {@code v} to {@code file} in {@code format}; returns the Persona rows written (formats
     * holding every row, persona and pt, write rows left out by {@code o.rows()} as zeros).
     */
    public static List<Integer> write(TraitVector v, Path file, VectorFormat format, WriteOptions o) throws IOException {
        String kind = o.kind() == null ? (v.directions().containsKey("response_avg") ? "response_avg" : v.directions().keySet().iterator().next()) : o.kind();
        float[][] all = v.rows(kind);
        int firstExpressible = switch (format) {
            case PERSONA, PT -> 0;
            case LLAMA_CPP -> 2;
            case REPENG, SVEC -> 1;
        };
        TreeSet<Integer> rows = new TreeSet<>();
        if (o.rows() == null) {
            // formats with every row keep them all; layer-keyed formats store the rows that hold a direction
            for (int r = firstExpressible; r < all.length; r++) if (firstExpressible == 0 || nonZero(all[r])) rows.add(r);
        } else {
            for (int r : o.rows()) {
                if (r < firstExpressible || r >= all.length) {
                    throw new PersonaException("row " + r + " cannot be written to " + format.id() + " (it holds rows " + firstExpressible + ".." + (all.length - 1)
                            + (format == VectorFormat.LLAMA_CPP ? "; llama.cpp has no direction.0, so block 0's output, row 1, is not expressible" : "") + ")",
                            "pick --layers within that range");
                }
                rows.add(r);
            }
        }
        if (rows.isEmpty()) {
            throw new PersonaException("the vector's " + kind + " directions are zero in every row " + format.id() + " can hold (" + firstExpressible + ".." + (all.length - 1) + ")",
                    "check the input with `persona vector info`, or pick another --kind");
        }
        float[][] scaled = select(all, rows, o.coef());
        Files.createDirectories(file.toAbsolutePath().getParent());
        switch (format) {
            case PERSONA -> {
                // every kind unless one was asked for, each with the same rows and factor
                Map<String, float[][]> dirs = new LinkedHashMap<>();
                for (var e : v.directions().entrySet()) {
                    if (o.kind() == null || e.getKey().equals(kind)) dirs.put(e.getKey(), select(e.getValue(), rows, o.coef()));
                }
                Map<String, String> meta = new LinkedHashMap<>(v.metadata());
                if (o.coef() != 1.0) meta.put("baked_coef", Double.toString(o.coef()));
                new TraitVector(dirs, meta).save(file);
            }
            case PT -> TorchFile.write(file, scaled);
            case LLAMA_CPP, REPENG -> {
                Map<String, GgufFile.Value> meta = new LinkedHashMap<>();
                meta.put("general.architecture", GgufFile.Value.string("controlvector"));
                String hint = modelHint(v, format);
                meta.put("controlvector.model_hint", GgufFile.Value.string(hint));
                meta.put("controlvector.layer_count", format == VectorFormat.LLAMA_CPP ? GgufFile.Value.int32(rows.size()) : GgufFile.Value.uint32(rows.size()));
                Map<String, GgufFile.Tensor> tensors = new LinkedHashMap<>();
                for (int r : rows) tensors.put("direction." + (r - 1), new GgufFile.Tensor(new long[] {scaled[r].length}, scaled[r]));
                new GgufFile(meta, tensors).write(file);
            }
            case SVEC -> writeSvec(v, file, scaled, rows);
        }
        return new ArrayList<>(rows);
    }

    private static void writeSvec(TraitVector v, Path file, float[][] scaled, TreeSet<Integer> rows) throws IOException {
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        root.put("model_type", modelHint(v, VectorFormat.SVEC));
        ObjectNode dirs = root.putObject("directions");
        ObjectNode variances = root.putObject("explained_variances");
        JsonNode imported = null;
        if (v.metadata().containsKey("svec_explained_variances")) imported = om.readTree(v.metadata().get("svec_explained_variances"));
        for (int r : rows) {
            var arr = dirs.putArray(Integer.toString(r - 1));
            for (float x : scaled[r]) arr.add(x);
            // activation-steering itself writes 1.0 for methods without an explained variance (its mean_diff)
            JsonNode ev = imported == null ? null : imported.get(Integer.toString(r - 1));
            variances.put(Integer.toString(r - 1), ev == null ? 1.0 : ev.asDouble());
        }
        AtomicWrite.to(file, tmp -> {
            om.writeValue(tmp.toFile(), root);
        });
    }

    /**
     * The model name a GGUF or .svec file records: an imported file's own hint, else the model_type of
     * the model directory named in the vector's metadata (llama.cpp's architecture name for
     * llama.cpp files: Mistral is "llama" there), else "unknown".
     */
    static String modelHint(TraitVector v, VectorFormat format) {
        String hint = v.metadata().get("model_hint");
        if (hint == null) {
            String model = v.metadata().get("model");
            Path config = model == null ? null : Path.of(model).resolve("config.json");
            if (config != null && Files.isRegularFile(config)) {
                try {
                    hint = new ObjectMapper().readTree(config.toFile()).path("model_type").asText("unknown");
                } catch (IOException e) {
                    hint = "unknown";
                }
            } else {
                hint = "unknown";
            }
        }
        return format == VectorFormat.LLAMA_CPP && hint.equals("mistral") ? "llama" : hint;
    }

    /** coef * the rows in {@code keep}, zeros elsewhere. */
    private static float[][] select(float[][] all, TreeSet<Integer> keep, double coef) {
        float[][] out = new float[all.length][all[0].length];
        for (int r : keep) for (int i = 0; i < all[r].length; i++) out[r][i] = (float) (coef * all[r][i]);
        return out;
    }

    private static boolean nonZero(float[] row) {
        for (float x : row) if (x != 0) return true;
        return false;
    }

    /** Parses a layer list: "3", "2-4", "1,3,5" or "all" (null). */
    public static TreeSet<Integer> parseRows(String spec) {
        if (spec == null || spec.isBlank() || spec.equals("all")) return null;
        TreeSet<Integer> rows = new TreeSet<>();
        try {
            for (String part : spec.split(",")) {
                String p = part.trim();
                int dash = p.indexOf('-', 1);
                if (dash > 0) {
                    for (int r = Integer.parseInt(p.substring(0, dash)); r <= Integer.parseInt(p.substring(dash + 1)); r++) rows.add(r);
                } else {
                    rows.add(Integer.parseInt(p));
                }
            }
        } catch (NumberFormatException e) {
            throw new PersonaException("--layers '" + spec + "' is not a layer list", "write e.g. 3, 2-4 or 1,3,5 (Persona rows), or all");
        }
        return rows;
    }
}
