package dev.persona.api;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Path;

/** Turns an I/O failure into an error that names the file or directory and the fix. */
final class Io {
    private Io() { }

    /** Work that reads or writes files. */
    interface Work<T> {
        T run() throws IOException;
    }

    static <T> T at(Path where, Work<T> work) {
        try {
            return work.run();
        } catch (IOException e) {
            throw failed(where, e);
        }
    }

    /**
     * {@link #at} holding the output directory's lock (created if needed): a second run on the same
     * directory is refused, naming the process that holds it.
     */
    static <T> T locked(Path dir, String what, Work<T> work) {
        return at(dir, () -> {
            try (dev.persona.extract.OutputLock lock = dev.persona.extract.OutputLock.acquire(dir, what)) {
                return work.run();
            }
        });
    }

    static PersonaException failed(Path where, IOException e) {
        return new PersonaException("reading or writing " + where + " failed: " + e, "check that the path exists, is writable and has free space; finished work is kept, rerun the same call to resume", e);
    }
}
