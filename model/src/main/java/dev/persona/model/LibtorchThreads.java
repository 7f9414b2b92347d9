package dev.persona.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * libtorch's intra-op threads for the calling thread set to one until closed (the setting is per
 * calling thread in OpenMP, so other threads keep theirs). Used where Persona runs the parallelism
 * itself: passes whose products run on {@link Gemv}'s threads, where OpenMP's workers would spin
 * after each parallel region on the very cores those threads need (measured: 0.5B batch-1 decode
 * 4.7 tok/s with them spinning, 12.8 without), and {@link ParallelBatches}, whose threads each run
 * whole batches.
 */
public final class LibtorchThreads implements AutoCloseable {
    private final int before;

    private LibtorchThreads(int before) {
        this.before = before;
    }

    /** One intra-op thread for the calling thread until {@link #close}. */
    public static LibtorchThreads one() {
        int before = JniUtils.getNumThreads();
        if (before != 1) JniUtils.setNumThreads(1);
        return new LibtorchThreads(before);
    }

    @Override
    public void close() {
        if (before != 1) JniUtils.setNumThreads(before);
    }
}
