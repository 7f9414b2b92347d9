package dev.persona.model;

/**
 * An intervention bound to a hook point and the positions it touches: what
 * {@link HookedTransformer#intervene} registers for every pass, and what a {@link ContinuousBatcher}
 * request carries for its own row.
 *
 * @param hook         hook name, e.g. {@code blocks.2.hook_resid_post}
 * @param intervention the change to the activation
 * @param mask         which token positions it acts on
 */
public record HookIntervention(String hook, Intervention intervention, PositionMask mask) { }
