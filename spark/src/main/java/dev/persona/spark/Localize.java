package dev.persona.spark;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * Makes a model directory or vector file named by a Hadoop-filesystem URI readable as a local path:
 * local paths (and file: URIs) are used in place; anything else is copied once per JVM into a
 * temporary folder with Hadoop's FileSystem (whose credentials and settings come from the Spark
 * configuration's Hadoop defaults).
 */
final class Localize {
    private static final Map<String, Path> COPIES = new HashMap<>();

    private Localize() { }

    static boolean isRemote(String location) {
        int colon = location.indexOf(':');
        // a scheme of 2+ letters (a Windows drive letter is one)
        return colon > 1 && location.substring(0, colon).matches("[a-zA-Z][a-zA-Z0-9+.-]*") && !location.startsWith("file:");
    }

    static Path directory(String location) {
        return local(location);
    }

    static Path file(String location) {
        return local(location);
    }

    private static synchronized Path local(String location) {
        if (!isRemote(location)) return location.startsWith("file:") ? Path.of(URI.create(location)) : Path.of(location);
        Path cached = COPIES.get(location);
        if (cached != null) return cached;
        try {
            URI uri = URI.create(location);
            FileSystem fs = FileSystem.get(uri, new Configuration());
            org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(uri);
            Path dst = Files.createTempDirectory("persona-localized");
            fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(dst.toUri()), true);
            Path local = dst.resolve(src.getName());
            COPIES.put(location, local);
            return local;
        } catch (IOException | IllegalArgumentException e) {
            throw new PersonaException("cannot copy " + location + " to local disk: " + e.getMessage(),
                    "check the URI and that every executor can read it (credentials in the Spark/Hadoop configuration)", e);
        }
    }
}
