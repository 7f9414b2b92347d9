package dev.persona.vectors;

import dev.persona.model.PersonaException;
import dev.persona.model.io.SafetensorsFile;
import dev.persona.model.io.SafetensorsWriter;
import dev.persona.model.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per-layer trait directions of one model, as in a Persona vector file: for each position kind
 * (response_avg, prompt_avg, prompt_last) a float32 [L+1, d_model] matrix whose row l lives in
 * Hugging Face's hidden_states[l]; plus string metadata (format persona-vectors/1, trait, model,
 * model_fingerprint, method, n_pos, n_neg, d_model, num_layers, recommended_layer, ...).
 */
public record TraitVector(Map<String, float[][]> directions, Map<String, String> metadata) {
    public static final String FORMAT = "persona-vectors/1";

    /** Rows of {@code kind}: [L+1][d_model]. */
    public float[][] rows(String kind) {
        float[][] r = directions.get(kind);
        if (r == null) throw new PersonaException("the vector has no '" + kind + "' directions (it has " + directions.keySet() + ")", "pick one of those position kinds");
        return r;
    }

    /** Row {@code layer} of the default kind, response_avg. */
    public float[] layer(int layer) {
        return layer("response_avg", layer);
    }

    public float[] layer(String kind, int layer) {
        float[][] r = rows(kind);
        if (layer < 0 || layer >= r.length) {
            throw new PersonaException("layer " + layer + " is outside the vector's rows 0.." + (r.length - 1), "pick a layer in range");
        }
        return r[layer];
    }

    public int numRows() {
        return directions.values().iterator().next().length;
    }

    public int dModel() {
        return directions.values().iterator().next()[0].length;
    }

    /** this + c * other, kind by kind (metadata of this, method marked). */
    public TraitVector plus(TraitVector other, double c) {
        Map<String, float[][]> out = new LinkedHashMap<>();
        for (var e : directions.entrySet()) {
            float[][] a = e.getValue(), b = other.rows(e.getKey());
            if (a.length != b.length || a[0].length != b[0].length) {
                throw new PersonaException("vector shapes differ: [" + a.length + ", " + a[0].length + "] vs [" + b.length + ", " + b[0].length + "]", "combine vectors of the same model");
            }
            float[][] r = new float[a.length][a[0].length];
            for (int l = 0; l < a.length; l++) for (int i = 0; i < a[l].length; i++) r[l][i] = (float) (a[l][i] + c * b[l][i]);
            out.put(e.getKey(), r);
        }
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("method", metadata.getOrDefault("method", "?") + " (combined)");
        return new TraitVector(out, meta);
    }

    /** c * this. */
    public TraitVector scaled(double c) {
        Map<String, float[][]> out = new LinkedHashMap<>();
        for (var e : directions.entrySet()) {
            float[][] a = e.getValue();
            float[][] r = new float[a.length][];
            for (int l = 0; l < a.length; l++) {
                r[l] = new float[a[l].length];
                for (int i = 0; i < a[l].length; i++) r[l][i] = (float) (c * a[l][i]);
            }
            out.put(e.getKey(), r);
        }
        return new TraitVector(out, new LinkedHashMap<>(metadata));
    }

    /** Every row scaled to unit L2 norm (zero rows stay zero). */
    public TraitVector normalized() {
        Map<String, float[][]> out = new LinkedHashMap<>();
        for (var e : directions.entrySet()) {
            float[][] a = e.getValue();
            float[][] r = new float[a.length][];
            for (int l = 0; l < a.length; l++) {
                double n = Stats.norm(a[l]);
                r[l] = new float[a[l].length];
                for (int i = 0; i < a[l].length; i++) r[l][i] = n == 0 ? 0 : (float) (a[l][i] / n);
            }
            out.put(e.getKey(), r);
        }
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("normalized", "true");
        return new TraitVector(out, meta);
    }

    /** Cosine similarity of the two vectors' rows at {@code layer} for {@code kind}. */
    public double cosine(TraitVector other, String kind, int layer) {
        return Stats.cosine(layer(kind, layer), other.layer(kind, layer));
    }

    /** Writes NAME.safetensors: one F32 tensor per kind and the metadata. */
    public void save(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        Map<String, String> meta = new TreeMap<>(metadata);
        meta.putIfAbsent("format", FORMAT);
        meta.forEach(w::meta);
        for (var e : directions.entrySet()) {
            float[][] a = e.getValue();
            float[] flat = new float[a.length * a[0].length];
            for (int l = 0; l < a.length; l++) System.arraycopy(a[l], 0, flat, l * a[0].length, a[0].length);
            w.add(e.getKey(), flat, a.length, a[0].length);
        }
        w.write(file);
    }

    /** Reads a Persona vector file. */
    public static TraitVector load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!FORMAT.equals(f.metadata().get("format"))) {
                throw new PersonaException(file + " is not a Persona vector file (format '" + f.metadata().get("format") + "')",
                        "convert it with `persona vector convert` or pass a file written by persona extract");
            }
            Map<String, float[][]> dirs = new LinkedHashMap<>();
            for (TensorInfo t : f.tensors().values()) {
                if (t.shape().length != 2) throw new PersonaException(file + ": tensor " + t.name() + " is not 2-D", "the file is corrupt");
                float[] flat = f.readFloats(t);
                int rows = (int) t.shape()[0], d = (int) t.shape()[1];
                float[][] a = new float[rows][d];
                for (int l = 0; l < rows; l++) System.arraycopy(flat, l * d, a[l], 0, d);
                dirs.put(t.name(), a);
            }
            return new TraitVector(dirs, new LinkedHashMap<>(f.metadata()));
        }
    }
}
