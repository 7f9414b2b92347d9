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
        return new PersonaException("reading or writing " + where + " failed: " + describe(e),
                "check that the path exists, is writable and has free space; finished work is kept, rerun the same call to resume", e);
    }

    /** The failure in words, with the file the system named. */
    static String describe(IOException e) {
        if (e instanceof java.nio.file.FileAlreadyExistsException f) return f.getFile() + " already exists and is not a directory";
        if (e instanceof java.nio.file.AccessDeniedException f) return f.getFile() + ": permission denied";
        if (e instanceof java.nio.file.NoSuchFileException f) return f.getFile() + " does not exist";
        if (e instanceof java.nio.file.NotDirectoryException f) return f.getFile() + " is not a directory";
        if (e instanceof java.nio.file.FileSystemException f) {
            return f.getFile() + (f.getReason() == null ? "" : ": " + f.getReason()) + (f.getOtherFile() == null ? "" : " (" + f.getOtherFile() + ")");
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
