package dev.persona.model.template;

/**
 * An error while parsing or rendering a chat template. For {@code raise_exception(msg)} inside the
 * template, {@link #getMessage()} is exactly {@code msg}, as transformers reports it.
 */
public class TemplateException extends RuntimeException {
    private final boolean raisedByTemplate;

    public TemplateException(String message) {
        this(message, false);
    }

    TemplateException(String message, boolean raisedByTemplate) {
        super(message);
        this.raisedByTemplate = raisedByTemplate;
    }

    /** True when the template itself called {@code raise_exception}. */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
