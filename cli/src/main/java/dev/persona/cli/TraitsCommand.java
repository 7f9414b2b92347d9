package dev.persona.cli;

import dev.persona.api.TraitCatalog;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code persona traits}: the built-in trait library. */
@Command(name = "traits", mixinStandardHelpOptions = true, description = "List the built-in traits (reference trait-file format).")
final class TraitsCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        TraitCatalog.Listing l = TraitCatalog.list();
        if (json) {
            System.out.println(Json.write(l));
        } else {
            for (TraitCatalog.Entry e : l.traits()) {
                System.out.printf("%-30s %d pairs, %d+%d questions  e.g. \"%s\"%n", e.name(), e.instructionPairs(), e.extractQuestions(), e.evalQuestions(), e.examplePos());
            }
        }
        for (TraitCatalog.Problem p : l.unreadable()) System.err.println("warning: trait " + p.name() + " could not be read: " + p.error());
        return l.unreadable().isEmpty() ? 0 : 1;
    }
}
