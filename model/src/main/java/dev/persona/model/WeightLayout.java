package dev.persona.model;

/**
 * Maps Persona's canonical weight names to a checkpoint's tensor names. Canonical linear weights are
 * in PyTorch {@code nn.Linear} layout {@code [out, in]}; a layout whose checkpoint stores
 * {@code Conv1D} {@code [in, out]} weights (GPT-2) says so with {@link #conv1d()}, and one that fuses
 * q, k and v into one tensor names the fused tensor with {@link #fusedQkv(int)}.
 */
public interface WeightLayout {
    /** Canonical names: the part after {@code blocks.{l}.} or the global name. */
    enum Name {
        EMBED, POS_EMBED, FINAL_NORM_W, FINAL_NORM_B, LM_HEAD,
        ATTN_NORM_W, ATTN_NORM_B, Q_W, Q_B, K_W, K_B, V_W, V_B, O_W, O_B, Q_NORM_W, K_NORM_W,
        MLP_NORM_W, MLP_NORM_B, GATE_W, GATE_B, UP_W, UP_B, DOWN_W, DOWN_B,
        /** Gemma 2's norms on the attention and MLP outputs (before the residual add). */
        POST_ATTN_NORM_W, POST_MLP_NORM_W;

        /** Whether this is the weight of an RMSNorm (or LayerNorm) rather than of a linear map or an embedding. */
        public boolean isNormWeight() {
            return this == FINAL_NORM_W || this == ATTN_NORM_W || this == MLP_NORM_W || this == Q_NORM_W || this == K_NORM_W
                    || this == POST_ATTN_NORM_W || this == POST_MLP_NORM_W;
        }
    }

    /** The checkpoint's tensor name for canonical {@code name} at layer {@code layer} (ignored for globals), or null if this layout has none. */
    String tensor(Name name, int layer);

    /** The fused q/k/v weight and bias names, or null when q, k, v are separate. */
    default String[] fusedQkv(int layer) {
        return null;
    }

    /** True when linear weights are stored {@code [in, out]} (Hugging Face Conv1D). */
    default boolean conv1d() {
        return false;
    }

    /** Llama, Mistral, Qwen2, Qwen3 and most decoder-only families: {@code model.layers.{l}.self_attn.q_proj.weight} and so on. */
    static WeightLayout llamaStyle(String prefix) {
        return (name, l) -> {
            String b = prefix + "layers." + l + ".";
            return switch (name) {
                case EMBED -> prefix + "embed_tokens.weight";
                case POS_EMBED, FINAL_NORM_B, ATTN_NORM_B, MLP_NORM_B, POST_ATTN_NORM_W, POST_MLP_NORM_W -> null;
                case FINAL_NORM_W -> prefix + "norm.weight";
                case LM_HEAD -> "lm_head.weight";
                case ATTN_NORM_W -> b + "input_layernorm.weight";
                case Q_W -> b + "self_attn.q_proj.weight";
                case Q_B -> b + "self_attn.q_proj.bias";
                case K_W -> b + "self_attn.k_proj.weight";
                case K_B -> b + "self_attn.k_proj.bias";
                case V_W -> b + "self_attn.v_proj.weight";
                case V_B -> b + "self_attn.v_proj.bias";
                case O_W -> b + "self_attn.o_proj.weight";
                case O_B -> b + "self_attn.o_proj.bias";
                case Q_NORM_W -> b + "self_attn.q_norm.weight";
                case K_NORM_W -> b + "self_attn.k_norm.weight";
                case MLP_NORM_W -> b + "post_attention_layernorm.weight";
                case GATE_W -> b + "mlp.gate_proj.weight";
                case GATE_B -> b + "mlp.gate_proj.bias";
                case UP_W -> b + "mlp.up_proj.weight";
                case UP_B -> b + "mlp.up_proj.bias";
                case DOWN_W -> b + "mlp.down_proj.weight";
                case DOWN_B -> b + "mlp.down_proj.bias";
            };
        };
    }

    /**
     * Gemma 2: Llama's names, except that {@code post_attention_layernorm} is the norm on the attention
     * output, {@code pre_feedforward_layernorm} the MLP's input norm and {@code post_feedforward_layernorm}
     * the norm on the MLP output.
     */
    static WeightLayout gemma2Style(String prefix) {
        WeightLayout llama = llamaStyle(prefix);
        return (name, l) -> {
            String b = prefix + "layers." + l + ".";
            return switch (name) {
                case MLP_NORM_W -> b + "pre_feedforward_layernorm.weight";
                case POST_ATTN_NORM_W -> b + "post_attention_layernorm.weight";
                case POST_MLP_NORM_W -> b + "post_feedforward_layernorm.weight";
                default -> llama.tensor(name, l);
            };
        };
    }

    /** GPT-2: {@code transformer.h.{l}.attn.c_attn.weight} (fused, Conv1D) and so on. */
    static WeightLayout gpt2Style(String prefix) {
        return new WeightLayout() {
            @Override
            public String tensor(Name name, int l) {
                String b = prefix + "h." + l + ".";
                return switch (name) {
                    case EMBED -> prefix + "wte.weight";
                    case POS_EMBED -> prefix + "wpe.weight";
                    case FINAL_NORM_W -> prefix + "ln_f.weight";
                    case FINAL_NORM_B -> prefix + "ln_f.bias";
                    case LM_HEAD -> "lm_head.weight";
                    case ATTN_NORM_W -> b + "ln_1.weight";
                    case ATTN_NORM_B -> b + "ln_1.bias";
                    case O_W -> b + "attn.c_proj.weight";
                    case O_B -> b + "attn.c_proj.bias";
                    case MLP_NORM_W -> b + "ln_2.weight";
                    case MLP_NORM_B -> b + "ln_2.bias";
                    case UP_W -> b + "mlp.c_fc.weight";
                    case UP_B -> b + "mlp.c_fc.bias";
                    case DOWN_W -> b + "mlp.c_proj.weight";
                    case DOWN_B -> b + "mlp.c_proj.bias";
                    default -> null;
                };
            }

            @Override
            public String[] fusedQkv(int l) {
                return new String[] {prefix + "h." + l + ".attn.c_attn.weight", prefix + "h." + l + ".attn.c_attn.bias"};
            }

            @Override
            public boolean conv1d() {
                return true;
            }
        };
    }
}
