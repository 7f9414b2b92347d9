package dev.persona.cli;

/** Entry point of the {@code persona} command. */
public final class Main {
    private Main() { }

    public static void main(String[] args) {
        System.exit(PersonaCommand.execute(args));
    }
}
