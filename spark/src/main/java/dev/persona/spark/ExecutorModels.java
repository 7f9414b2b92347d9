package dev.persona.spark;

import dev.persona.api.Persona;
import dev.persona.api.VectorRef;
import java.util.HashMap;
import java.util.Map;

/**
 * One loaded model per executor JVM and spec, made on first use and shared by every task the JVM
 * runs. A {@link Persona} computes one call at a time, so the tasks' batches run one after another
 * on the model's own thread ({@link Loaded#call}): libtorch then keeps one pool of worker threads
 * instead of one per calling task, which on 2 cores made two tasks 46% slower than one
 * (docs/SCALING.md).
 */
final class ExecutorModels {
    /** A model on this JVM and how long it took to load. */
    static final class Loaded {
        final Persona persona;
        final double loadSeconds;
        private final Map<String, VectorRef> vectors = new HashMap<>();
        private final java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "persona-model");
            t.setDaemon(true);
            return t;
        });

        Loaded(Persona persona, double loadSeconds) {
            this.persona = persona;
            this.loadSeconds = loadSeconds;
        }

        /** Runs {@code work} on the model's thread, after the batches queued before it; rethrows its failure. */
        <T> T call(java.util.function.Function<Persona, T> work) {
            try {
                return thread.submit(() -> work.apply(persona)).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the model", e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
            }
        }

        /** A vector file (local path or Hadoop URI), read once. */
        synchronized VectorRef vector(String location) {
            return vectors.computeIfAbsent(location, l -> persona.vector(Localize.file(l)));
        }
    }

    private static final Map<ModelSpec, Loaded> MODELS = new HashMap<>();

    private ExecutorModels() { }

    static synchronized Loaded get(ModelSpec spec, org.apache.spark.util.LongAccumulator loads, org.apache.spark.util.DoubleAccumulator loadSeconds) {
        Loaded l = MODELS.get(spec);
        if (l == null) {
            long t0 = System.nanoTime();
            Persona p = spec.load();
            l = new Loaded(p, (System.nanoTime() - t0) / 1e9);
            MODELS.put(spec, l);
            if (loads != null) loads.add(1);
            if (loadSeconds != null) loadSeconds.add(l.loadSeconds);
        }
        return l;
    }
}
