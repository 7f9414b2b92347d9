package dev.persona.steer;

import dev.persona.model.HookIntervention;
import dev.persona.model.HookPoint;
import dev.persona.model.HookedTransformer;
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
    public record Steer(TraitVector vector, String kind, int layer, double coef, boolean ablate, PositionMask positions) {
        public Steer {
            // the one place every steering path (commands, library, finetuning) passes: a NaN or infinite
            // coefficient would turn every steered activation into NaN and the text into nothing
            if (!Double.isFinite(coef)) {
                throw new PersonaException("steering coefficient " + coef + " for " + vector.metadata().getOrDefault("trait", "the vector")
                        + " is not a finite number", "pass a finite coefficient, e.g. --coef 2");
            }
        }
    }

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

    /**
     * Every steer as a hook, an intervention and a position mask, built all at once (a zero direction
     * to ablate is refused here), for callers that bind them to their own rows (a server's batch).
     */
    public List<HookIntervention> bind() {
        List<HookIntervention> built = new ArrayList<>();
        for (Steer s : steers) {
            float[] dir = s.vector().layer(s.kind(), s.layer());
            if (s.ablate() && isZero(dir)) {
                throw new PersonaException(s.vector().metadata().getOrDefault("trait", "the vector") + " has an all-zero " + s.kind() + " row " + s.layer()
                        + ", which has no direction to ablate", "ablate at a layer the vector holds (a llama.cpp file cannot hold row 1; see `persona vector info`)");
            }
            built.add(new HookIntervention(HookPoint.residPost(s.layer() - 1), s.ablate() ? Interventions.ablate(dir) : Interventions.add(dir, s.coef()), s.positions()));
        }
        return built;
    }

    /**
     * Registers every steer on {@code model}; closing the handle removes them all. All-or-nothing: the
     * interventions are built first ({@link #bind}), and if a registration fails the ones already
     * registered are removed before the error leaves.
     */
    public AutoCloseable apply(HookedTransformer model) {
        List<HookIntervention> built = bind();
        List<AutoCloseable> handles = new ArrayList<>();
        try {
            for (HookIntervention b : built) handles.add(model.intervene(b.hook(), b.intervention(), b.mask()));
        } catch (RuntimeException e) {
            closeAll(handles);
            throw e;
        }
        return () -> closeAll(handles);
    }

    /** Closes every handle, in reverse order, even when one fails; never throws. */
    static void closeAll(List<AutoCloseable> handles) {
        for (int i = handles.size() - 1; i >= 0; i--) {
            try {
                handles.get(i).close();
            } catch (Exception e) {
                // a removal cannot fail in the runtime (it drops a list entry); keep removing the rest
            }
        }
    }

    private static boolean isZero(float[] v) {
        for (float f : v) if (f != 0f) return false;
        return true;
    }
}
