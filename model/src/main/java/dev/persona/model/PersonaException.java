package dev.persona.model;

/**
 * An error a user can act on: it names the file (or input) at fault, the offending value, and the fix.
 * Commands print its message without a stack trace.
 */
public class PersonaException extends RuntimeException {
    private final String fix;

    public PersonaException(String problem, String fix) {
        super(problem + (fix == null || fix.isEmpty() ? "" : "\n  fix: " + fix));
        this.fix = fix;
    }

    public PersonaException(String problem, String fix, Throwable cause) {
        super(problem + (fix == null || fix.isEmpty() ? "" : "\n  fix: " + fix), cause);
        this.fix = fix;
    }

    /** The suggested fix, as printed after "fix:". */
    public String fix() {
        return fix;
    }
}
