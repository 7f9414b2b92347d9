package dev.persona.extract;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One run per output directory at a time: an exclusive OS lock on {@code OUT/.persona.lock}, held
 * while the run writes its journals and released on close or when the process dies (the OS drops the
 * lock of a dead process, so a crash never leaves the directory locked). The file names the holder.
 */
public final class OutputLock implements AutoCloseable {
    /** The lock file's name inside the output directory. */
    public static final String FILE = ".persona.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code dir} (created if needed) for {@code what}, or refuses, naming the process that holds it. */
    public static OutputLock acquire(Path dir, String what) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            String holder;
            try {
                holder = Files.readString(file, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                holder = "another process";
            }
            ch.close();
            throw new PersonaException(dir + " is in use by another run (" + (holder.isEmpty() ? "another process" : holder) + ")",
                    "wait for that run to finish, or pass another --out");
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(("process " + ProcessHandle.current().pid() + ", " + what + ", since " + java.time.OffsetDateTime.now().withNano(0) + "\n")
                .getBytes(StandardCharsets.UTF_8)), 0);
        return new OutputLock(ch, lock);
    }

    /** Releases the lock; never throws. */
    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // the channel's close below releases it as well
        }
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
