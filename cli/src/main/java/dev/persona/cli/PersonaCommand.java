package dev.persona.cli;

import dev.persona.model.PersonaException;
import dev.persona.model.template.TemplateException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code persona} command. */
@Command(name = "persona", mixinStandardHelpOptions = true, versionProvider = PersonaCommand.Version.class,
        description = {"Persona vectors on the JVM: extract trait directions from a language model's activations, monitor and score checkpoints and data for drift along them, and steer generation with them.", "", "Every --model defaults to the built-in model organism (models/organism). Start with `persona inspect`, then `persona generate --prompt \"Hello\"`."},
        subcommands = {
            InspectCommand.class, ForwardCommand.class, OrganismCommand.class, FinetuneCommand.class, TraitsCommand.class, VectorCommand.class, ExtractCommand.class, SteerCommand.class, SweepCommand.class, MonitorCommand.class, DriftCommand.class, ScreenCommand.class, TemplateCommand.class, GenerateCommand.class, BenchCommand.class, NotebooksCommand.class, ServeCommand.class,
            CommandLine.HelpCommand.class})
public final class PersonaCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The version of this build (from the Maven project, as vector files record it). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"persona " + dev.persona.api.Version.PERSONA};
        }
    }

    /** Runs the command line and returns the exit code; user errors print a message, not a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new PersonaCommand());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof PersonaException || ex instanceof TemplateException) {
                commandLine.getErr().println("error: " + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        return cl.execute(args);
    }
}
