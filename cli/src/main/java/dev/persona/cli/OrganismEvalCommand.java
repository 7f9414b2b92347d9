package dev.persona.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder replaced below. */
@Command(name = "eval")
final class OrganismEvalCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 0;
    }
}
