package dev.persona.model.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Hugging Face tokenizer (tokenizer.json through DJL's binding of the Rust tokenizers library) with
 * the special tokens of tokenizer_config.json. Encoding adds no special tokens: chat templates write
 * BOS and friends themselves, as {@code apply_chat_template} assumes. No truncation is applied.
 */
public final class Tokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer hf;
    private final Map<String, String> specialTokens;
    private final Path dir;

    private Tokenizer(Path dir, HuggingFaceTokenizer hf, Map<String, String> specialTokens) {
        this.dir = dir;
        this.hf = hf;
        this.specialTokens = specialTokens;
    }

    /** Loads {@code dir/tokenizer.json} and, when present, {@code dir/tokenizer_config.json}. */
    public static Tokenizer load(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new PersonaException("no tokenizer.json in " + dir,
                    "copy the model's tokenizer.json (and tokenizer_config.json) into " + dir
                            + "; a model saved with save_pretrained writes them when its tokenizer is saved too");
        }
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false",
                "modelMaxLength", String.valueOf(Integer.MAX_VALUE));
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(file, options);
        } catch (IOException | RuntimeException e) {
            throw new PersonaException(file + ": cannot load tokenizer (" + e.getMessage() + ")",
                    "check that it is a Hugging Face tokenizers JSON file", e);
        }
        return new Tokenizer(dir, hf, readSpecialTokens(dir.resolve("tokenizer_config.json")));
    }

    private static Map<String, String> readSpecialTokens(Path config) {
        Map<String, String> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(config)) return out;
        try {
            JsonNode c = new ObjectMapper().readTree(config.toFile());
            for (String k : new String[] {"bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token"}) {
                JsonNode v = c.get(k);
                if (v == null || v.isNull()) continue;
                out.put(k, v.isTextual() ? v.asText() : v.path("content").asText());
            }
        } catch (IOException e) {
            throw new PersonaException(config + " is not valid JSON: " + e.getMessage(), "fix or regenerate tokenizer_config.json", e);
        }
        return out;
    }

    /** Token ids of {@code text}, no special tokens added. */
    public int[] encode(String text) {
        Encoding e = hf.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
        return out;
    }

    /** Text of {@code ids}; special tokens are dropped when {@code skipSpecial}. */
    public String decode(int[] ids, boolean skipSpecial) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return hf.decode(l, skipSpecial);
    }

    /** The id of a token string if it is a single token of the vocabulary, else -1. */
    public int tokenId(String token) {
        if (token == null) return -1;
        int[] ids = encode(token);
        return ids.length == 1 ? ids[0] : -1;
    }

    /** bos_token, eos_token, pad_token, ... as strings, from tokenizer_config.json. */
    public Map<String, String> specialTokens() {
        return specialTokens;
    }

    /** The directory it was loaded from. */
    public Path directory() {
        return dir;
    }

    @Override
    public void close() {
        hf.close();
    }
}
