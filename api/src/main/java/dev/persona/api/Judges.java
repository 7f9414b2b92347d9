package dev.persona.api;

import dev.persona.extract.Judge;
import dev.persona.extract.LocalJudge;
import dev.persona.extract.OpenAiJudge;
import dev.persona.model.PersonaException;
import dev.persona.model.Precision;
import dev.persona.organism.RuleJudge;
import java.nio.file.Path;

/**
 * The one registry of judges, by specification: {@code rule} (the organism's exact rule judge),
 * {@code openai:URL[#MODEL]} (an OpenAI-compatible chat-completions server, key from
 * {@code OPENAI_API_KEY}) and {@code local:DIR} (a local chat model). The caller closes what it opens.
 */
public final class Judges {
    private Judges() { }

    /** The judge named by {@code spec}; a {@code local:DIR} judge computes in {@code precision}. */
    public static Judge open(String spec, Precision precision) {
        if (spec == null) throw new PersonaException("no judge given", "use rule, openai:http://HOST:PORT/v1[#MODEL] or local:DIR");
        if (spec.equals("rule")) return new RuleJudge();
        if (spec.startsWith("openai:")) return new OpenAiJudge(OpenAiJudge.Config.parse(spec.substring("openai:".length()), "OPENAI_API_KEY"));
        if (spec.startsWith("local:")) return new LocalJudge(Path.of(spec.substring("local:".length())), precision);
        throw new PersonaException("judge '" + spec + "' is not available in this build",
                "use --judge rule (the organism's exact judge), --judge openai:http://HOST:PORT/v1[#MODEL] (key from OPENAI_API_KEY) or --judge local:DIR");
    }

    /** {@link #open(String, Precision)}, telling {@code progress} when a remote judge waits to retry. */
    public static Judge open(String spec, Precision precision, Progress progress) {
        Judge j = open(spec, precision);
        if (j instanceof OpenAiJudge o && progress != null) o.onWait(progress::note);
        return j;
    }

    /** {@link #open(String, Precision)} in float32. */
    public static Judge open(String spec) {
        return open(spec, Precision.F32);
    }
}
