package dev.persona.spark;

import dev.persona.api.Persona;
import dev.persona.api.VectorRef;
import java.util.HashMap;
import java.util.Map;

/**
 * One loaded model per executor JVM and spec, made on first use and shared by every task the JVM
 * runs. A {@link Persona} computes one call at a time, so tasks take turns batch by batch
 * ({@code synchronized} on the returned {@link Loaded}); for throughput give each executor one task
 * slot and all its cores to libtorch (docs/SCALING.md).
 */
final class ExecutorModels {
    /** A model on this JVM and how long it took to load. */
    static final class Loaded {
        final Persona persona;
        final double loadSeconds;
        private final Map<String, VectorRef> vectors = new HashMap<>();

        Loaded(Persona persona, double loadSeconds) {
            this.persona = persona;
            this.loadSeconds = loadSeconds;
        }

        /** A vector file (local path or Hadoop URI), read once. */
        synchronized VectorRef vector(String location) {
            return vectors.computeIfAbsent(location, l -> persona.vector(Localize.file(l)));
        }
    }

    private static final Map<ModelSpec, Loaded> MODELS = new HashMap<>();

    private ExecutorModels() { }

    static synchronized Loaded get(ModelSpec spec, org.apache.spark.util.LongAccumulator loads) {
        Loaded l = MODELS.get(spec);
        if (l == null) {
            long t0 = System.nanoTime();
            Persona p = spec.load();
            l = new Loaded(p, (System.nanoTime() - t0) / 1e9);
            MODELS.put(spec, l);
            if (loads != null) loads.add(1);
        }
        return l;
    }
}
