package dev.persona.model;

import dev.persona.model.io.Checkpoint;
import dev.persona.model.io.TensorInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.TreeSet;

/**
 * Identifies a model for vector files: SHA-256 over config.json's bytes and the weight index (every
 * tensor's name, dtype and shape, in name order), truncated to 16 hex digits. Cheap: no weight bytes are read.
 * Finetuned checkpoints and adapters of a model share its fingerprint: vectors carry over.
 */
public final class ModelFingerprint {
    private ModelFingerprint() { }

    /** The fingerprint of model directory {@code dir}; for a LoRA adapter directory, that of its base model. */
    public static String of(Path dir) {
        if (dev.persona.model.io.LoraAdapter.isAdapter(dir)) return of(dev.persona.model.io.LoraAdapter.baseOf(dir));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Files.readAllBytes(dir.resolve("config.json")));
            for (String name : new TreeSet<>(ckpt.names())) {
                TensorInfo t = ckpt.info(name);
                md.update((name + "|" + t.dtype() + "|" + Arrays.toString(t.shape()) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (IOException e) {
            throw new PersonaException("cannot read " + dir.resolve("config.json") + ": " + e.getMessage(), "check the model directory", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
