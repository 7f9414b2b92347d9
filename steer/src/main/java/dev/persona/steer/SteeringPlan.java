package dev.persona.steer;

import dev.persona.model.HookPoint;
import dev.persona.model.HookedTransformer;
import dev.persona.model.Intervention;
import dev.persona.model.Interventions;
import dev.persona.model.ModelConfig;
import dev.persona.model.PersonaException;
import dev.persona.model.PositionMask;
import dev.persona.vectors.TraitVector;
import java.util.ArrayList;
import java.util.List;

/**
 * What to add to (or ablate from) the residual stream while a model runs: a list of steers, each a
 * trait vector's row at a layer with a coefficient. "At layer l" follows the reference: the vector row
 * l (hidden_states[l]) is added to the output of block l-1, {@code blocks.{l-1}.hook_resid_post}.
 * Applied with {@link #apply}, undone when the returned handle closes.
 */
public final class SteeringPlan {
    /**
     * One steer.
     *
     * @param vector    the trait vector
     * @param kind      which position kind's directions (response_avg by default)
     * @param layer     vector row, 1..L-1
     * @param coef      coefficient (ignored when ablating)
     * @param ablate    project the direction out instead of adding it
     * @param positions where to act
     */
    public record Steer(TraitVector vector, String kind, int layer, double coef, boolean ablate, PositionMask positions) { }

    private final List<Steer> steers = new ArrayList<>();

    public SteeringPlan add(Steer s) {
        steers.add(s);
        return this;
    }

    public List<Steer> steers() {
        return List.copyOf(steers);
    }

    /**
     * Checks every vector against the model: d_model and layer count must match; the fingerprint
     * must match unless {@code force}.
     */
    public void check(HookedTransformer model, String fingerprint, boolean force) {
        ModelConfig c = model.config();
        for (Steer s : steers) {
            TraitVector v = s.vector();
            String name = v.metadata().getOrDefault("trait", "vector");
            if (v.dModel() != c.dModel()) {
                throw new PersonaException(name + " has d_model " + v.dModel() + " but the model has " + c.dModel(),
                        "use a vector extracted from this model");
            }
            if (v.numRows() != c.numLayers() + 1) {
                throw new PersonaException(name + " has " + (v.numRows() - 1) + " layers but the model has " + c.numLayers(),
                        "use a vector extracted from this model");
            }
            String fp = v.metadata().get("model_fingerprint");
            if (fp != null && !fp.equals(fingerprint) && !force) {
                throw new PersonaException(name + " was extracted from a model with fingerprint " + fp + ", this model's is " + fingerprint,
                        "pass --force if the models share an architecture and you mean it");
            }
            if (s.layer() < 1 || s.layer() > c.numLayers()) {
                throw new PersonaException("layer " + s.layer() + " is outside 1.." + c.numLayers() + " (steering at layer l acts on block l-1's output)",
                        "pick a layer in range");
            }
        }
    }

    /** Registers every steer on {@code model}; closing the handle removes them all. */
    public AutoCloseable apply(HookedTransformer model) {
        List<AutoCloseable> handles = new ArrayList<>();
        for (Steer s : steers) {
            float[] dir = s.vector().layer(s.kind(), s.layer());
            Intervention iv = s.ablate() ? Interventions.ablate(dir) : Interventions.add(dir, s.coef());
            handles.add(model.intervene(HookPoint.residPost(s.layer() - 1), iv, s.positions()));
        }
        return () -> {
            for (AutoCloseable h : handles) h.close();
        };
    }
}
