package dev.persona.model;

import ai.djl.ndarray.NDArray;

/**
 * A change to the activation at one hook point. Implementations must leave untouched positions
 * exactly as they were: {@code mask} is 1 where the change applies and 0 elsewhere.
 */
@FunctionalInterface
public interface Intervention {
    /**
     * @param activation [batch, pos, d_model] float32, scoped to the current step
     * @param mask       [batch, pos, 1] float32 of 0/1
     * @return the new activation, same shape
     */
    NDArray apply(NDArray activation, NDArray mask);
}
