package dev.persona.api;

import java.util.List;

/** Steered and unsteered answers side by side, with the steering that was applied. */
public record SteerResult(List<Steering.Applied> steers, List<Row> results) {
    /** One prompt (its last message), the unsteered answer and the steered one. */
    public record Row(String prompt, String unsteered, String steered) { }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Steering.Applied s : steers) sb.append("steer: ").append(s).append('\n');
        for (Row r : results) {
            sb.append("\nprompt:     ").append(r.prompt()).append('\n');
            sb.append("unsteered:  ").append(r.unsteered()).append('\n');
            sb.append("steered:    ").append(r.steered()).append('\n');
        }
        return sb.toString();
    }
}
