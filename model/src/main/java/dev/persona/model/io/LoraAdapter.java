package dev.persona.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) merged onto a base
 * checkpoint as it is read: every adapted linear weight W [out, in] comes back as
 * {@code W + (B A) * scale}, with A = lora_A [r, in], B = lora_B [out, r] and scale = alpha / r
 * (alpha / sqrt(r) with use_rslora). rank_pattern and alpha_pattern override r and alpha per module
 * with PEFT's matching rule (the pattern matches the module name or a dotted suffix of it);
 * fan_in_fan_out adapters (GPT-2's Conv1D weights, stored [in, out]) add the transposed delta.
 * Adapter features that change more than linear weights (DoRA, trained biases, modules_to_save,
 * embedding adapters, trainable tokens) are refused with a clear error rather than silently dropped.
 */
public final class LoraAdapter implements TensorSource, AutoCloseable {
    /** PEFT prefixes every adapter key with the wrapper path of the base model. */
    private static final String PREFIX = "base_model.model.";

    private final Path dir;
    private final TensorSource base;
    private final SafetensorsFile weights;
    private final JsonNode config;
    private final Map<String, String[]> modules = new LinkedHashMap<>();
    private final Set<String> applied = new LinkedHashSet<>();

    private LoraAdapter(Path dir, TensorSource base, SafetensorsFile weights, JsonNode config) {
        this.dir = dir;
        this.base = base;
        this.weights = weights;
        this.config = config;
    }

    /** Whether {@code dir} is a PEFT adapter directory (it holds adapter_config.json). */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve("adapter_config.json"));
    }

    /**
     * The base model an adapter was trained on: adapter_config.json's base_model_name_or_path as an
     * absolute path or relative to the working directory, the adapter directory, or its parent (the
     * first that holds a config.json).
     */
    public static Path baseOf(Path adapterDir) {
        JsonNode cfg = readConfig(adapterDir);
        String name = cfg.path("base_model_name_or_path").asText("");
        Path p = Path.of(name);
        for (Path candidate : new Path[] {p, adapterDir.resolve(name), adapterDir.toAbsolutePath().getParent().resolve(name)}) {
            if (!name.isEmpty() && Files.isRegularFile(candidate.resolve("config.json"))) return candidate;
        }
        throw new PersonaException(adapterDir.resolve("adapter_config.json") + ": base_model_name_or_path '" + name
                + "' is not a model directory on this disk",
                "pass the base model's directory explicitly (drift: --base DIR), or edit base_model_name_or_path to its path");
    }

    /** Opens the adapter in {@code dir} over the base weights {@code base}; validates its config. */
    public static LoraAdapter open(Path dir, TensorSource base) {
        JsonNode cfg = readConfig(dir);
        Path cfgPath = dir.resolve("adapter_config.json");
        String type = cfg.path("peft_type").asText("LORA");
        if (!"LORA".equals(type)) {
            throw new PersonaException(cfgPath + ": peft_type is " + type + ", Persona merges LORA adapters only",
                    "merge the adapter with PEFT's merge_and_unload() and save_pretrained the merged model");
        }
        refuseIf(cfg.path("use_dora").asBoolean(false), cfgPath, "use_dora is true (DoRA rescales weights by a learned magnitude)");
        refuseIf(!"none".equals(cfg.path("bias").asText("none")), cfgPath, "bias is '" + cfg.path("bias").asText() + "' (the adapter trains biases)");
        refuseIf(cfg.path("lora_bias").asBoolean(false), cfgPath, "lora_bias is true");
        refuseIf(nonEmpty(cfg.get("modules_to_save")), cfgPath, "modules_to_save is " + cfg.get("modules_to_save") + " (whole modules are replaced)");
        refuseIf(nonEmpty(cfg.get("trainable_token_indices")), cfgPath, "trainable_token_indices is set");
        refuseIf(nonEmpty(cfg.get("layer_replication")), cfgPath, "layer_replication is set");
        Path file = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(file)) {
            String bin = Files.isRegularFile(dir.resolve("adapter_model.bin")) ? " (there is an adapter_model.bin: pickled weights)" : "";
            throw new PersonaException(dir + " has adapter_config.json but no adapter_model.safetensors" + bin,
                    "save the adapter with save_pretrained(dir, safe_serialization=True)");
        }
        SafetensorsFile weights = SafetensorsFile.open(file);
        LoraAdapter adapter = new LoraAdapter(dir, base, weights, cfg);
        try {
            adapter.index(file);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
        return adapter;
    }

    private void index(Path file) {
        Pattern key = Pattern.compile(Pattern.quote(PREFIX) + "(.+)\\.lora_([AB])\\.weight");
        for (String name : weights.tensors().keySet()) {
            var m = key.matcher(name);
            if (!m.matches()) {
                throw new PersonaException(file + ": tensor '" + name + "' is not a lora_A/lora_B weight (embedding adapters, "
                        + "magnitude vectors and saved modules are not merged)", "merge the adapter with PEFT's merge_and_unload() and pass the merged model");
            }
            modules.computeIfAbsent(m.group(1), k -> new String[2])["A".equals(m.group(2)) ? 0 : 1] = name;
        }
        for (var e : modules.entrySet()) {
            if (e.getValue()[0] == null || e.getValue()[1] == null) {
                throw new PersonaException(file + ": module '" + e.getKey() + "' has only one of lora_A and lora_B", "re-save the adapter");
            }
        }
    }

    @Override
    public boolean has(String name) {
        return base.has(name);
    }

    @Override
    public long[] shape(String name) {
        return base.shape(name);
    }

    @Override
    public float[] floats(String name, long... expectedShape) {
        float[] w = base.floats(name, expectedShape);
        if (!name.endsWith(".weight")) return w;
        String module = name.substring(0, name.length() - ".weight".length());
        String[] ab = modules.get(module);
        if (ab == null) return w;
        TensorInfo a = weights.tensors().get(ab[0]), b = weights.tensors().get(ab[1]);
        int r = (int) a.shape()[0], in = (int) a.shape()[1], out = (int) b.shape()[0];
        boolean transposed = config.path("fan_in_fan_out").asBoolean(false);
        long[] stored = base.shape(name);
        long[] want = transposed ? new long[] {in, out} : new long[] {out, in};
        if (b.shape()[1] != r || !java.util.Arrays.equals(stored, want)) {
            throw new PersonaException(weights.path() + ": " + module + " has lora_A " + java.util.Arrays.toString(a.shape()) + " and lora_B "
                    + java.util.Arrays.toString(b.shape()) + " but the base weight is " + java.util.Arrays.toString(stored),
                    "check that the adapter belongs to this base model (adapter_config.json base_model_name_or_path)");
        }
        int configured = patternValue("rank_pattern", module, config.path("r").asInt(8));
        if (configured != r) {
            throw new PersonaException(dir.resolve("adapter_config.json") + ": r for " + module + " is " + configured
                    + " but lora_A has rank " + r, "fix r / rank_pattern to match the saved tensors");
        }
        double alpha = patternValue("alpha_pattern", module, config.path("lora_alpha").asDouble(8));
        double scale = config.path("use_rslora").asBoolean(false) ? alpha / Math.sqrt(r) : alpha / r;
        float[] av = weights.readFloats(a), bv = weights.readFloats(b);
        // delta[o][i] = scale * sum_k B[o][k] A[k][i]; added at [i][o] for a transposed (Conv1D) weight
        for (int o = 0; o < out; o++) {
            float[] row = new float[in];
            for (int k = 0; k < r; k++) {
                float bk = (float) (bv[o * r + k] * scale);
                int base0 = k * in;
                for (int i = 0; i < in; i++) row[i] += bk * av[base0 + i];
            }
            if (transposed) for (int i = 0; i < in; i++) w[i * out + o] += row[i];
            else for (int i = 0; i < in; i++) w[o * in + i] += row[i];
        }
        applied.add(module);
        return w;
    }

    /**
     * Fails when some adapted module was never read by the model loader: the adapter targets a
     * weight Persona does not load that way (the LM head, an embedding), so merging silently would
     * leave part of the finetune out.
     */
    public void checkAllApplied() {
        Set<String> missed = new TreeSet<>(modules.keySet());
        missed.removeAll(applied);
        if (!missed.isEmpty()) {
            throw new PersonaException(weights.path() + ": adapter weights for " + missed + " were not merged (not a linear weight of the model)",
                    "merge the adapter with PEFT's merge_and_unload() and pass the merged model");
        }
    }

    /** Number of adapted modules. */
    public int moduleCount() {
        return modules.size();
    }

    private int patternValue(String field, String module, int fallback) {
        JsonNode v = match(field, module);
        return v == null ? fallback : v.asInt();
    }

    private double patternValue(String field, String module, double fallback) {
        JsonNode v = match(field, module);
        return v == null ? fallback : v.asDouble();
    }

    /** PEFT's get_pattern_key: the first pattern that matches the whole module name or a dotted suffix of it. */
    private JsonNode match(String field, String module) {
        JsonNode patterns = config.get(field);
        if (patterns == null || !patterns.isObject()) return null;
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.fields(); it.hasNext(); ) {
            var e = it.next();
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(module).matches()) return e.getValue();
        }
        return null;
    }

    private static JsonNode readConfig(Path dir) {
        Path p = dir.resolve("adapter_config.json");
        try {
            return new ObjectMapper().readTree(p.toFile());
        } catch (IOException e) {
            throw new PersonaException(p + ": cannot parse (" + e.getMessage() + ")", "re-save the adapter with PEFT's save_pretrained", e);
        }
    }

    private static boolean nonEmpty(JsonNode n) {
        return n != null && !n.isNull() && !(n.isContainerNode() && n.isEmpty());
    }

    private static void refuseIf(boolean condition, Path cfg, String what) {
        if (condition) {
            throw new PersonaException(cfg + ": " + what + "; Persona merges plain LoRA (W + B A * alpha / r) only",
                    "merge the adapter with PEFT's merge_and_unload() and save_pretrained the merged model");
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
