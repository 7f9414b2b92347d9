package dev.persona.api;

/**
 * Where a long call reports: {@code update} per finished unit of a stage (e.g. "generate", 40 of
 * 1000), {@code note} for one-line messages such as "resuming: 12 cells already in runs/sweep". The
 * command line draws progress bars on stderr; a notebook may pass {@link #NONE}.
 */
public interface Progress {
    /** Reports nothing. */
    Progress NONE = (stage, done, total) -> { };

    /** {@code done} of {@code total} units of {@code stage} are finished. */
    void update(String stage, int done, int total);

    /** {@link #update(String, int, int)} with a short status, e.g. the current loss. */
    default void update(String stage, int done, int total, String status) {
        update(stage, done, total);
    }

    /** A one-line message for the user. */
    default void note(String message) { }

    /** {@code p}, or {@link #NONE} for null. */
    static Progress orNone(Progress p) {
        return p == null ? NONE : p;
    }
}
