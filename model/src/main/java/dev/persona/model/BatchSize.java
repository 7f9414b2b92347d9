package dev.persona.model;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How many rows (sequences) a command runs through the model together: the most that fit in half the
 * memory the machine has available, capped by the command's default, or exactly what the user passed
 * with {@code --batch}.
 *
 * <p>Memory per row is estimated from the model's shape, not measured: the key/value cache, one
 * block's activations (residual, norm, q/k/v, MLP hidden), the eager attention scores (and their
 * softmax) of the longest pass, the logits copied to Java, and for capture passes every layer's
 * hidden-state rows, each once native and once as a Java copy. The estimate errs high, so a chosen
 * batch leaves room for the weights' own working set and the JVM.
 *
 * @param rows        the batch, at least 1
 * @param bytesPerRow estimated peak native + heap bytes one row of this work needs (0 when given)
 * @param budgetBytes the memory the batch may use: half of the available memory when chosen (0 when given)
 * @param source      {@code "memory"} (chosen) or {@code "--batch"} (given)
 */
public record BatchSize(int rows, long bytesPerRow, long budgetBytes, String source) {
    public BatchSize {
        if (rows < 1) throw new IllegalArgumentException("rows " + rows);
    }

    /** What a row's pass keeps alive. */
    public enum Work {
        /** Sampled or greedy generation: prefill then decode, with a key/value cache, last-position logits. */
        GENERATION,
        /** A forward pass capturing every layer's hidden states (monitor, screen, drift, extraction capture). */
        CAPTURE,
        /** A forward pass reading the last position's logits only (a local judge). */
        LAST_LOGITS
    }

    /** Exactly {@code rows}, as the user asked ({@code --batch}); refuses 0 and below, naming the option. */
    public static BatchSize given(int rows) {
        if (rows < 1) throw new PersonaException("--batch " + rows + " is below 1", "pass --batch 1 or more, or leave it out to choose from memory");
        return new BatchSize(rows, 0, 0, "--batch");
    }

    /** {@code requested} when not null ({@link #given}), otherwise {@link #fromMemory} with this machine's available memory. */
    public static BatchSize resolve(Integer requested, ModelConfig config, Work work, int tokens, int cap) {
        return requested != null ? given(requested) : fromMemory(config, work, tokens, cap, availableBytes());
    }

    /**
     * The largest batch up to {@code cap} whose rows of {@code tokens} tokens each (prompt plus new
     * tokens for generation) fit in half of {@code availableBytes}; at least 1.
     */
    public static BatchSize fromMemory(ModelConfig config, Work work, int tokens, int cap, long availableBytes) {
        if (cap < 1) throw new IllegalArgumentException("cap " + cap);
        long perRow = bytesPerRow(config, work, Math.max(1, tokens));
        long budget = Math.max(0, availableBytes / 2);
        long fit = budget / perRow;
        return new BatchSize((int) Math.max(1, Math.min(cap, fit)), perRow, budget, "memory");
    }

    /** Estimated peak bytes one row of {@code tokens} tokens needs for {@code work} (float32 throughout). */
    public static long bytesPerRow(ModelConfig c, Work work, int tokens) {
        long t = tokens, f = Float.BYTES;
        // one block's live activations: residual and its norm, q, k, v, attention output, gate, up and their product
        long block = t * (3L * c.dModel() + c.qWidth() + 2L * c.kvWidth() + c.qWidth() + 3L * c.dFF()) * f;
        // eager attention: scores and probabilities, [heads, t, t]
        long attention = 2L * c.numHeads() * t * t * f;
        long logitsLast = 2L * c.vocabSize() * f;
        return switch (work) {
            case GENERATION -> 2L * c.numLayers() * c.kvWidth() * t * f + block + attention + logitsLast;
            // every hidden-state row (layers + 1) kept natively and copied to Java, plus the Java summaries
            case CAPTURE -> 2L * (c.numLayers() + 1) * t * c.dModel() * f + block + attention + logitsLast;
            case LAST_LOGITS -> block + attention + logitsLast;
        };
    }

    /**
     * Memory the operating system can give without swapping: MemAvailable of /proc/meminfo, else the
     * JVM's view of free physical memory.
     */
    public static long availableBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through to the JVM's view
        }
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) return sun.getFreeMemorySize();
        return Runtime.getRuntime().maxMemory();
    }

    /** e.g. {@code "64 rows (from memory: 0.4 MB a row, 11.2 GB budget)"} or {@code "16 rows (--batch)"}. */
    public String describe() {
        if (source.equals("--batch")) return rows + " rows (--batch)";
        return String.format(Locale.ROOT, "%d rows (from memory: %.1f MB a row, %.1f GB budget)", rows, bytesPerRow / 1e6, budgetBytes / 1e9);
    }
}
