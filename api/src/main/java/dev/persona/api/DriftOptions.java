package dev.persona.api;

import dev.persona.model.BatchSize;
import dev.persona.model.PersonaException;
import java.nio.file.Path;
import java.util.List;

/**
 * A drift measurement: the {@code base} model; {@code checkpoints} (full models or PEFT LoRA adapters
 * merged onto the base) and/or a finetuning {@code run} directory (its checkpoint-N/ folders in step
 * order, then its final model); the {@code vectors} files; vector row {@code layer} (null: each file's
 * recommended or best layer); the prompts: the evaluation questions of {@code promptsTrait} (null:
 * each vector's own trait) under {@code system}; optionally {@code evalTrait}, judged by {@code judge}
 * on {@code evalSamples} answers per question, to correlate shift and trait rate; {@code threshold}
 * (null: none) marks a shift above it; {@code compute} for every model; {@code batch} prompts per
 * forward pass (null: from memory, at most 16; only float rounding depends on it); journaled in {@code out}.
 */
public record DriftOptions(Path base, List<Path> checkpoints, Path run, List<Path> vectors, Integer layer, String promptsTrait,
                           String system, String evalTrait, String judge, int evalSamples, Double threshold, Compute compute, Integer batch, Path out) {
    public DriftOptions {
        if (batch != null) BatchSize.given(batch); // refuses 0 and below, naming --batch
        if (base == null) throw new PersonaException("no base model given", "pass --base DIR (the model before finetuning)");
        checkpoints = checkpoints == null ? List.of() : List.copyOf(checkpoints);
        vectors = vectors == null ? List.of() : List.copyOf(vectors);
        if (vectors.isEmpty()) throw new PersonaException("no vectors given", "pass --vector FILE (one or more)");
        if (evalSamples < 1) throw new PersonaException("--eval-samples " + evalSamples + " is below 1", "use --eval-samples 1 or more");
        if (threshold != null && Double.isNaN(threshold)) throw new PersonaException("--threshold is NaN", "pass a number");
        if (judge == null) judge = "rule";
        if (compute == null) compute = Compute.cpu();
        if (out == null) out = Path.of("runs", "drift");
    }

    /** {@code checkpoints} measured against {@code base} along {@code vectors}, with the command's defaults. */
    public static DriftOptions of(Path base, List<Path> checkpoints, List<Path> vectors) {
        return new DriftOptions(base, checkpoints, null, vectors, null, null, null, null, "rule", 2, null, null, null, null);
    }

    public DriftOptions checkpoints(List<Path> v) {
        return new DriftOptions(base, v, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions run(Path v) {
        return new DriftOptions(base, checkpoints, v, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions layer(Integer v) {
        return new DriftOptions(base, checkpoints, run, vectors, v, promptsTrait, system, evalTrait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions promptsTrait(String v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, v, system, evalTrait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions system(String v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, v, evalTrait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions eval(String trait) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, trait, judge, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions judge(String v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, v, evalSamples, threshold, compute, batch, out);
    }

    public DriftOptions evalSamples(int v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, v, threshold, compute, batch, out);
    }

    public DriftOptions threshold(Double v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, v, compute, batch, out);
    }

    public DriftOptions compute(Compute v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold, v, batch, out);
    }

    /** Prompts per forward pass; null chooses from memory (at most 16). */
    public DriftOptions batch(Integer v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold, compute, v, out);
    }

    public DriftOptions out(Path v) {
        return new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold, compute, batch, v);
    }
}
