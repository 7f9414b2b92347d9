package dev.persona.spark;

import dev.persona.api.Compute;
import dev.persona.api.Persona;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Which model every executor loads, as plain strings so it travels to executors: a directory path
 * every executor can read, or a Hadoop-filesystem URI (hdfs://, s3a://, gs://, abfs://...) that is
 * copied to local disk once per executor; null for the built-in organism. With the compute dtype and
 * device ({@code persona --dtype/--device} spellings).
 */
public record ModelSpec(String model, String dtype, String device) implements Serializable {
    public static ModelSpec of(String model) {
        return new ModelSpec(model, "f32", "cpu");
    }

    Compute compute() {
        return Compute.parse(dtype, device);
    }

    /** Loads the model on this JVM (the caller caches it). */
    Persona load() {
        Path dir = model == null ? null : Localize.directory(model);
        return Persona.load(dir, compute());
    }
}
