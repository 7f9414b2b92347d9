package dev.persona.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A named place in the forward pass where activations can be read and changed. Names follow
 * TransformerLens so researchers feel at home; {@code shape} is written as in docs/DESIGN.md.
 *
 * @param name  e.g. {@code blocks.3.hook_resid_post}
 * @param shape symbolic shape, e.g. {@code [batch, pos, d_model]}
 * @param captureOnly true for hooks whose value cannot be replaced (attention patterns)
 */
public record HookPoint(String name, String shape, boolean captureOnly) {
    static final String RESID = "[batch, pos, d_model]";

    public static final String EMBED = "hook_embed";
    public static final String POS_EMBED = "hook_pos_embed";
    public static final String FINAL_NORM = "ln_final.hook_normalized";

    public static String residPre(int l) {
        return "blocks." + l + ".hook_resid_pre";
    }

    public static String attnOut(int l) {
        return "blocks." + l + ".hook_attn_out";
    }

    public static String residMid(int l) {
        return "blocks." + l + ".hook_resid_mid";
    }

    public static String mlpOut(int l) {
        return "blocks." + l + ".hook_mlp_out";
    }

    public static String residPost(int l) {
        return "blocks." + l + ".hook_resid_post";
    }

    public static String pattern(int l) {
        return "blocks." + l + ".attn.hook_pattern";
    }

    /**
     * The hook whose value is Hugging Face's {@code hidden_states[row]} (row 0 = embeddings, row L =
     * final norm output). For learned-position families row 0 is embed + pos_embed, which no single
     * hook holds; this returns {@code blocks.0.hook_resid_pre}, which equals it.
     */
    public static String hiddenStateRow(int row, int numLayers) {
        if (row < 0 || row > numLayers) {
            throw new PersonaException("layer row " + row + " is outside 0.." + numLayers, "use a row between 0 and the number of layers");
        }
        if (row == 0) return residPre(0);
        if (row == numLayers) return FINAL_NORM;
        return residPost(row - 1);
    }

    /** Every hook point of a model, in forward order. */
    public static List<HookPoint> all(ModelConfig c) {
        List<HookPoint> out = new ArrayList<>();
        out.add(new HookPoint(EMBED, RESID, false));
        if (c.family().positions() == FamilySpec.PositionKind.LEARNED) out.add(new HookPoint(POS_EMBED, RESID, false));
        for (int l = 0; l < c.numLayers(); l++) {
            out.add(new HookPoint(residPre(l), RESID, false));
            out.add(new HookPoint(pattern(l), "[batch, head, q_pos, k_pos]", true));
            out.add(new HookPoint(attnOut(l), RESID, false));
            out.add(new HookPoint(residMid(l), RESID, false));
            out.add(new HookPoint(mlpOut(l), RESID, false));
            out.add(new HookPoint(residPost(l), RESID, false));
        }
        out.add(new HookPoint(FINAL_NORM, RESID, false));
        return out;
    }
}
