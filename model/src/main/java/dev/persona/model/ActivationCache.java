package dev.persona.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Activations captured at named hook points while it is open. Each forward pass (a prefill or one
 * decode step) adds one {@link FloatTensor} per hook; {@link #get} joins them along the position
 * axis. Values are captured after any intervention at the same hook, i.e. what flows on.
 * Closing it stops the capture; the captured values stay readable.
 *
 * <p>A cache records the passes run on the thread that opened it, so that passes run side by side
 * on other threads (for example {@link ParallelBatches}) each fill their own cache.
 */
public final class ActivationCache implements AutoCloseable {
    private final Set<String> names;
    private final Map<String, List<FloatTensor>> passes = new LinkedHashMap<>();
    private final Runnable onClose;
    private final Thread owner = Thread.currentThread();

    ActivationCache(Set<String> names, Runnable onClose) {
        this.names = names;
        this.onClose = onClose;
    }

    /** The hook names this cache records. */
    public Set<String> names() {
        return Collections.unmodifiableSet(names);
    }

    /** Whether a pass on the calling thread records {@code name} here. */
    boolean wants(String name) {
        return Thread.currentThread() == owner && names.contains(name);
    }

    /** Whether passes on the calling thread record here at all. */
    boolean recordsThisThread() {
        return Thread.currentThread() == owner;
    }

    synchronized void record(String name, FloatTensor value) {
        passes.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
    }

    /** Whether anything was recorded at {@code name}. */
    public synchronized boolean has(String name) {
        return passes.containsKey(name);
    }

    /** Every pass's value at {@code name}, in order. */
    public synchronized List<FloatTensor> passes(String name) {
        List<FloatTensor> p = passes.get(name);
        if (p == null) throw new IllegalArgumentException("nothing captured at hook '" + name + "'; captured: " + passes.keySet());
        return List.copyOf(p);
    }

    /** All passes at {@code name} joined along the position axis (axis 1), e.g. [batch, prompt + new tokens, d_model]. */
    public synchronized FloatTensor get(String name) {
        List<FloatTensor> p = passes(name);
        return p.size() == 1 ? p.get(0) : FloatTensor.concat(p, 1);
    }

    /** Drops everything recorded so far. */
    public synchronized void clear() {
        passes.clear();
    }

    @Override
    public void close() {
        onClose.run();
    }
}
