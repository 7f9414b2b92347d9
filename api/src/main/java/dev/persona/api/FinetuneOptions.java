package dev.persona.api;

import dev.persona.model.PersonaException;
import java.nio.file.Path;

/**
 * Supervised finetuning of {@code model} (null: the organism) on chat-messages JSONL {@code data}
 * (loss on assistant tokens), saved to {@code out} (checkpoint-N/ every {@code saveEvery} steps, 0:
 * final model only); {@code epochs}, peak learning rate {@code lr}, {@code batch} conversations per
 * step, data order {@code seed}. Preventative steering: {@code steer} adds that vector file's row
 * {@code layer} (null: recommended or best) of {@code kind} times {@code coef} during training
 * forward passes only; {@code ablate} projects it out instead (only one of the two).
 */
public record FinetuneOptions(Path model, Path data, Path out, int epochs, double lr, int batch, int saveEvery, long seed,
                              Path steer, Path ablate, Integer layer, double coef, String kind) {
    public FinetuneOptions {
        if (data == null) throw new PersonaException("no training data given", "pass --data FILE.jsonl");
        if (out == null) throw new PersonaException("no output directory given", "pass --out DIR");
        if (!(lr > 0) || !Double.isFinite(lr)) throw new PersonaException("--lr " + lr + " is not a positive finite number", "pass e.g. --lr 3e-4");
        if (!Double.isFinite(coef)) throw new PersonaException("--coef " + coef + " is not a finite number", "pass a finite coefficient, e.g. --coef 3");
        if (saveEvery < 0) throw new PersonaException("--save-every " + saveEvery + " is negative", "pass 0 (final model only) or a step count");
        if (steer != null && ablate != null) throw new PersonaException("--steer and --ablate were both given", "pass one of them");
        if (kind == null) kind = "response_avg";
    }

    /** The command's defaults: 1 epoch, lr 3e-4, batch 16, final model only, seed 0, no steering. */
    public static FinetuneOptions of(Path model, Path data, Path out) {
        return new FinetuneOptions(model, data, out, 1, 3e-4, 16, 0, 0, null, null, null, 1, "response_avg");
    }

    /** The same run into another output directory. */
    public FinetuneOptions out(Path v) {
        return new FinetuneOptions(model, data, v, epochs, lr, batch, saveEvery, seed, steer, ablate, layer, coef, kind);
    }

    public FinetuneOptions epochs(int v) {
        return new FinetuneOptions(model, data, out, v, lr, batch, saveEvery, seed, steer, ablate, layer, coef, kind);
    }

    public FinetuneOptions lr(double v) {
        return new FinetuneOptions(model, data, out, epochs, v, batch, saveEvery, seed, steer, ablate, layer, coef, kind);
    }

    public FinetuneOptions batch(int v) {
        return new FinetuneOptions(model, data, out, epochs, lr, v, saveEvery, seed, steer, ablate, layer, coef, kind);
    }

    public FinetuneOptions saveEvery(int v) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, v, seed, steer, ablate, layer, coef, kind);
    }

    public FinetuneOptions seed(long v) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, saveEvery, v, steer, ablate, layer, coef, kind);
    }

    /** Preventative steering with {@code vector} at {@code coef}. */
    public FinetuneOptions steer(Path vector, double c) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, saveEvery, seed, vector, null, layer, c, kind);
    }

    /** Ablate {@code vector}'s direction during training (CAFT). */
    public FinetuneOptions ablate(Path vector) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, saveEvery, seed, null, vector, layer, coef, kind);
    }

    public FinetuneOptions layer(Integer v) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, saveEvery, seed, steer, ablate, v, coef, kind);
    }

    public FinetuneOptions kind(String v) {
        return new FinetuneOptions(model, data, out, epochs, lr, batch, saveEvery, seed, steer, ablate, layer, coef, v);
    }
}
