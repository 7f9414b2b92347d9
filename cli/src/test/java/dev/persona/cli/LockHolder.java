package dev.persona.cli;

import dev.persona.extract.OutputLock;
import java.nio.file.Path;

/** A separate process for {@link HardeningTest}: locks the directory in its argument, says so, and waits to be killed. */
public final class LockHolder {
    private LockHolder() { }

    public static void main(String[] args) throws Exception {
        OutputLock lock = OutputLock.acquire(Path.of(args[0]), "a process the test kills");
        System.out.println("locked " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(600_000);
        lock.close();
    }
}
