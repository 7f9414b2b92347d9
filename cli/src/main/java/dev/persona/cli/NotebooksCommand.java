package dev.persona.cli;

import dev.persona.api.PersonaHome;
import dev.persona.cli.notebook.NotebookRunner;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code persona notebooks run}: execute the Java notebooks headless, as a Java kernel would. */
@Command(name = "notebooks", mixinStandardHelpOptions = true, description = "Run the notebooks of notebooks-jvm/ headless.",
        subcommands = NotebooksCommand.Run.class)
final class NotebooksCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Execute each notebook's code cells in order in JShell with Persona's classpath; fail on any exception or compiler error, naming the cell and line. With --write, store the outputs (text and PNG charts) in the .ipynb files.")
    static final class Run implements Callable<Integer> {
        @Parameters(arity = "0..*", paramLabel = "NOTEBOOK", description = "Notebooks to run (default: every notebooks-jvm/*.ipynb).")
        List<Path> files = new ArrayList<>();

        @Option(names = "--write", description = "Write the outputs back into the notebooks.")
        boolean write;

        @Override
        public Integer call() throws IOException {
            List<Path> nbs = new ArrayList<>(files);
            if (nbs.isEmpty()) nbs.addAll(all(PersonaHome.home().resolve("notebooks-jvm")));
            for (Path nb : nbs) {
                if (!Files.isRegularFile(nb)) throw new PersonaException("notebook " + nb + " does not exist", "pass a .ipynb file, or run from the Persona checkout");
                NotebookRunner.Result r = NotebookRunner.run(nb);
                if (write) NotebookRunner.write(r);
                System.out.printf("%s: %d code cells in %.1f s%s%n", nb, r.cells().size(), r.seconds(), write ? " (outputs written)" : "");
            }
            return 0;
        }
    }

    /** The notebooks of a folder, by name. */
    static List<Path> all(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new PersonaException("no notebooks folder at " + dir, "run from the Persona checkout, or pass the notebooks");
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
        }
    }
}
