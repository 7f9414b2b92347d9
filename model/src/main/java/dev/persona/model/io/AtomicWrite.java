package dev.persona.model.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes a file through {@code NAME.tmp} beside it and moves it into place, so a reader never sees
 * half a file; on any failure the temporary file is removed before the error leaves.
 */
public final class AtomicWrite {
    private AtomicWrite() { }

    /** What writes the temporary file. */
    public interface Body {
        void write(Path tmp) throws IOException;
    }

    public static void to(Path file, Body body) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            body.write(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }
}
