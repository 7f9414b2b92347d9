package dev.persona.cli.notebook;

/**
 * Hands the value of a cell's last expression from the JShell snippet to the runner. The snippets run
 * in this JVM (JShell's local execution) and their class loader delegates to the one that loaded this
 * class, so the object itself crosses over, not its text.
 */
public final class Display {
    private static Object value;
    private static boolean present;

    private Display() { }

    /** Called by the runner's own snippet after a cell: keeps {@code v} for {@link #take()}. */
    public static void capture(Object v) {
        value = v;
        present = true;
    }

    /** The captured value (once), or a marker that there was none. */
    static Object take() {
        Object v = present ? value : NONE;
        value = null;
        present = false;
        return v;
    }

    /** No value was captured. */
    static final Object NONE = new Object();
}
