package dev.persona.model;

/**
 * Which token positions an intervention touches. Padding is never touched. During generation the
 * prompt is one prefill pass and each new token one decode pass:
 * <ul>
 *   <li>{@link All}: every position of every pass;</li>
 *   <li>{@link Prompt}: every prompt position, prefill only;</li>
 *   <li>{@link Response}: the last prompt token (in prefill) and every generated token (the reference's
 *       "response" semantics); in a plain forward pass, the last position;</li>
 *   <li>{@link Indices}: the listed token positions (0 = first real token of a row, left padding not counted).</li>
 * </ul>
 */
public sealed interface PositionMask {
    /** Every non-padding position. */
    record All() implements PositionMask { }

    /** Prompt positions only (prefill). */
    record Prompt() implements PositionMask { }

    /** Last prompt token and every generated token. */
    record Response() implements PositionMask { }

    /** Explicit token positions. */
    record Indices(int... positions) implements PositionMask { }

    PositionMask ALL = new All();
    PositionMask PROMPT = new Prompt();
    PositionMask RESPONSE = new Response();

    /** Parses {@code all}, {@code prompt}, {@code response} or a comma list of indices. */
    static PositionMask parse(String s) {
        return switch (s) {
            case "all" -> ALL;
            case "prompt" -> PROMPT;
            case "response" -> RESPONSE;
            default -> {
                try {
                    String[] parts = s.split(",");
                    int[] idx = new int[parts.length];
                    for (int i = 0; i < parts.length; i++) idx[i] = Integer.parseInt(parts[i].trim());
                    yield new Indices(idx);
                } catch (NumberFormatException e) {
                    throw new PersonaException("positions '" + s + "' is not all, prompt, response or a list of indices",
                            "use --positions all|prompt|response or e.g. 3,4,5");
                }
            }
        };
    }

    /**
     * Whether this mask touches a token.
     *
     * @param prefill    the pass is the prompt pass (or a plain forward)
     * @param position   the token's position id (0 = first real token)
     * @param isLastInPass the token is the last column of the pass
     */
    default boolean touches(boolean prefill, int position, boolean isLastInPass) {
        if (this instanceof All) return true;
        if (this instanceof Prompt) return prefill;
        if (this instanceof Response) return !prefill || isLastInPass;
        for (int p : ((Indices) this).positions()) if (p == position) return true;
        return false;
    }
}
