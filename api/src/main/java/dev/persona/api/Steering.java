package dev.persona.api;

import dev.persona.model.PersonaException;
import dev.persona.model.PositionMask;
import dev.persona.steer.SteeringPlan;

/**
 * One steering intervention, described the way {@code persona steer} takes it: a vector, and
 * optionally its row ({@code layer}: adds to block layer-1's output), {@code coef}, direction
 * {@code kind} (response_avg, prompt_avg, prompt_last) and {@code positions} (response, prompt, all).
 * What is left null comes from the file's sweep recommendation ({@code recommended_*}, or
 * {@code recommended_suppress_*} after {@link #suppress()}), else layer = best_layer_by_separation,
 * coef 1, kind response_avg, positions response. {@link #ablate()} projects the direction out instead
 * ({@code ablated}); {@code suppressing} takes the defaults from the suppression sweep.
 * Build fluently: {@code Steering.of(v).layer(4).coef(3)}.
 */
public record Steering(VectorRef vector, Integer layer, Double coef, String kind, String positions, boolean ablated, boolean suppressing) {
    public Steering {
        if (vector == null) throw new IllegalArgumentException("vector is null");
        if (coef != null && !Double.isFinite(coef)) {
            throw new PersonaException("--coef " + coef + " for " + vector.source() + " is not a finite number", "pass a finite coefficient, e.g. --coef 2");
        }
    }

    /** Steering with {@code v} at its recommended settings. */
    public static Steering of(VectorRef v) {
        return new Steering(v, null, null, null, null, false, false);
    }

    public Steering layer(int l) {
        return new Steering(vector, l, coef, kind, positions, ablated, suppressing);
    }

    public Steering coef(double c) {
        return new Steering(vector, layer, c, kind, positions, ablated, suppressing);
    }

    public Steering kind(String k) {
        return new Steering(vector, layer, coef, k, positions, ablated, suppressing);
    }

    public Steering positions(String p) {
        return new Steering(vector, layer, coef, kind, p, ablated, suppressing);
    }

    /** Project the direction out instead of adding it. */
    public Steering ablate() {
        return new Steering(vector, layer, coef, kind, positions, true, suppressing);
    }

    /** Take the defaults from the suppression sweep ({@code recommended_suppress_*}). */
    public Steering suppress() {
        return new Steering(vector, layer, coef, kind, positions, ablated, true);
    }

    /** The settings in effect after defaults, as {@code persona steer --json} echoes them. */
    public Applied resolve() {
        String rec = suppressing ? "recommended_suppress_" : "recommended_";
        if (suppressing && layer == null && vector.meta(rec + "layer") == null) {
            throw new PersonaException(vector.source() + " has no recommended_suppress_layer", "run `persona sweep --suppress` on it, or pass --layer and --coef");
        }
        int l = layer != null ? layer : suppressing ? Integer.parseInt(vector.meta(rec + "layer")) : vector.defaultLayer();
        double c = coef != null ? coef : Double.parseDouble(metaOr(rec + "coef", "1"));
        // a sweep stores the kind and positions it recommends next to the layer and coef
        String k = kind != null ? kind : metaOr(rec + "kind", "response_avg");
        String p = positions != null ? positions : metaOr(rec + "positions", "response");
        return new Applied(vector.trait().isEmpty() ? "?" : vector.trait(), vector.source(), k, l, c, ablated, p);
    }

    private String metaOr(String key, String fallback) {
        String v = vector.meta(key);
        return v == null ? fallback : v;
    }

    /** The intervention in the runtime's terms. */
    SteeringPlan.Steer toSteer() {
        Applied a = resolve();
        return new SteeringPlan.Steer(vector.vector(), a.kind(), a.layer(), a.coef(), a.ablate(), PositionMask.parse(a.positions()));
    }

    /** Resolved settings of one intervention. */
    public record Applied(String trait, String source, String kind, int layer, double coef, boolean ablate, String positions) {
        @Override
        public String toString() {
            return String.format("%s %s layer %d %s at %s positions", trait, kind, layer, ablate ? "ablated" : "coef " + coef, positions);
        }
    }
}
