package dev.persona.model;

import java.util.Locale;

/**
 * The number format a model's weights and linear layers compute in. Whatever it is, the residual
 * stream, norms, attention softmax and every hook stay float32, so activations, vectors and
 * interventions do not depend on it.
 */
public enum Precision {
    /** Weights and products in float32 (the default; BF16 and F16 checkpoints are widened exactly). */
    F32,
    /**
     * 2-D weights (embeddings, output head, linear layers) held in bfloat16, half the memory of F32;
     * each linear layer rounds its input to BF16, multiplies with float32 accumulation and rounds its
     * output to BF16, as torch's BF16 linear does. Inference only.
     */
    BF16;

    /** Parses {@code f32}/{@code float32} or {@code bf16}/{@code bfloat16}, case-insensitively. */
    public static Precision parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f32", "fp32", "float32" -> F32;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new PersonaException("unknown compute dtype '" + s + "'", "use f32 (default) or bf16");
        };
    }

    /** Bytes per stored weight element. */
    public int weightBytes() {
        return this == F32 ? 4 : 2;
    }
}
