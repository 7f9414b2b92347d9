package dev.persona.api;

import java.nio.file.Path;
import java.util.List;

/**
 * A finetuning call: the loss of every step it ran (empty when {@code out} already held the finished
 * run) and where the model was saved.
 */
public record FinetuneResult(List<Double> losses, Path out) {
    /** Whether there was nothing left to train. */
    public boolean nothingToDo() {
        return losses.isEmpty();
    }

    @Override
    public String toString() {
        if (losses.isEmpty()) return "nothing to do: " + out + " already holds the finished run";
        return String.format("finetuned %d steps: loss %.4f -> %.4f; model saved to %s", losses.size(), losses.get(0), losses.get(losses.size() - 1), out);
    }
}
