package dev.persona.model;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Independent batches of model work (generations, capture passes) run side by side, one batch per
 * thread, each thread with one libtorch intra-op thread; results come back in batch order on the
 * calling thread, so journals and outputs are written as a one-at-a-time run writes them.
 *
 * <p>For models whose passes cost per operation rather than per multiply-add (narrower than 512,
 * such as the organism: a 64-row decode step of tiny products spends its time in dispatch, on one
 * core), two batches at once use both cores where libtorch's two intra-op threads mostly wait on
 * each other. libtorch with one intra-op thread sums as it does with two here (the organism's
 * extraction vector is byte-identical either way, measured), and each batch draws from its own
 * seed, so the results do not depend on the number of threads.
 */
public final class ParallelBatches {
    private ParallelBatches() { }

    /** One batch's work; its result goes to {@link Done} in batch order. */
    public interface Work<T> {
        T run(int batch) throws Exception;
    }

    /** Receives each batch's result, in batch order, on the calling thread (journals append here). */
    public interface Done<T> {
        void accept(int batch, T result) throws IOException;
    }

    /**
     * The threads worth running {@code model}'s batches on: every core for a model on the CPU
     * narrower than 512 (passes bound by per-operation cost), else 1 (libtorch's own threads, or
     * Persona's kernel, already use every core, and a second batch would only double the memory).
     */
    public static int threadsFor(HookedTransformer model) {
        boolean cpu = ai.djl.Device.Type.CPU.equals(model.manager().getDevice().getDeviceType());
        return cpu && model.config().dModel() < 512 ? Math.max(1, Runtime.getRuntime().availableProcessors()) : 1;
    }

    /**
     * Runs {@code work} for batches [0, n) on up to {@code threads} threads, at most {@code
     * threads} batches ahead of the oldest unfinished one, and hands each result to {@code done}
     * in batch order. A failing batch stops the run after the batches before it are handed over;
     * its exception is rethrown as it is (unchecked and I/O exceptions) or wrapped in an
     * IllegalStateException (other checked ones).
     */
    public static <T> void run(int n, int threads, Work<T> work, Done<T> done) throws IOException {
        if (threads <= 1 || n <= 1) {
            for (int b = 0; b < n; b++) {
                T result;
                try {
                    result = work.run(b);
                } catch (Exception e) {
                    throw rethrown(e);
                }
                done.accept(b, result);
            }
            return;
        }
        AtomicInteger names = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, n), r -> {
            Thread t = new Thread(r, "persona-batch-" + names.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            ArrayDeque<Future<T>> ahead = new ArrayDeque<>();
            int next = 0;
            for (int b = 0; b < n; b++) {
                while (next < n && ahead.size() < threads) {
                    int batch = next++;
                    ahead.add(pool.submit(() -> {
                        try (LibtorchThreads one = LibtorchThreads.one()) {
                            return work.run(batch);
                        }
                    }));
                }
                T result;
                try {
                    result = ahead.poll().get();
                } catch (ExecutionException e) {
                    throw rethrown(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while batch " + b + " ran", e);
                }
                done.accept(b, result);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code t} as {@link #run} throws it: I/O exceptions as they are, others unchecked. */
    private static IOException rethrown(Throwable t) {
        if (t instanceof IOException io) return io;
        if (t instanceof RuntimeException r) throw r;
        if (t instanceof Error err) throw err;
        throw new IllegalStateException(t);
    }
}
