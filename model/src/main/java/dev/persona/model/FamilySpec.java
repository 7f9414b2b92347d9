package dev.persona.model;

/**
 * What distinguishes one transformer family from another, as data: the forward pass reads these
 * switches and never branches on a family name.
 *
 * @param modelType   config.json's {@code model_type}
 * @param norm        RMSNorm (weight only) or LayerNorm (weight and bias)
 * @param positions   rotary embeddings in the attention, or learned absolute positions added to the embedding
 * @param gatedMlp    {@code down(act(gate(x)) * up(x))} rather than {@code down(act(up(x)))}
 * @param activation  the MLP nonlinearity
 * @param qkvBias     q, k and v projections carry a bias
 * @param outBias     the attention output projection carries a bias
 * @param mlpBias     MLP projections carry biases
 * @param qkNorm      RMSNorm over head_dim on queries and keys before rotary (Qwen3)
 * @param normOffset  RMSNorm multiplies by (normOffset + weight): 0, or 1 for Gemma's zero-centred weights
 * @param embedScale  token embeddings are multiplied by sqrt(d_model) (Gemma)
 * @param sandwichNorms attention and MLP outputs pass through their own RMSNorm before the residual add (Gemma 2)
 * @param layout      how canonical weight names map to the checkpoint's tensor names
 */
public record FamilySpec(
        String modelType,
        NormKind norm,
        PositionKind positions,
        boolean gatedMlp,
        Activation activation,
        boolean qkvBias,
        boolean outBias,
        boolean mlpBias,
        boolean qkNorm,
        double normOffset,
        boolean embedScale,
        boolean sandwichNorms,
        WeightLayout layout) {

    /** Normalisation layer kind. */
    public enum NormKind { RMS, LAYER }

    /** How token positions enter the model. */
    public enum PositionKind { ROTARY, LEARNED }

    /** MLP nonlinearity. */
    public enum Activation {
        /** x * sigmoid(x) */
        SILU,
        /** GPT-2's tanh approximation of GELU ({@code gelu_new}, {@code gelu_pytorch_tanh}) */
        GELU_TANH,
        /** exact erf GELU */
        GELU
    }
}
