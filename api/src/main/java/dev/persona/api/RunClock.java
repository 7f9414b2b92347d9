package dev.persona.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The wall time of a resumable run over all its legs: each start of the same run (same id) adds its
 * time to what earlier legs recorded in {@code OUT/run_time-ID.txt}, which is rewritten at most every
 * two seconds while the run makes progress, so a crashed leg still counts up to its last progress.
 */
final class RunClock {
    private final Path file;
    private final double before;
    private final int legs;
    private final long start = System.nanoTime();
    private long lastWrite;

    private RunClock(Path file, double before, int legs) {
        this.file = file;
        this.before = before;
        this.legs = legs;
    }

    static RunClock start(Path out, String runId) {
        Path f = out.resolve("run_time-" + dev.persona.extract.Journal.idOf(runId) + ".txt");
        double before = 0;
        int legs = 1;
        try {
            if (Files.isRegularFile(f)) {
                String[] parts = Files.readString(f, StandardCharsets.UTF_8).trim().split("\\s+");
                before = Double.parseDouble(parts[0]);
                legs = Integer.parseInt(parts[1]) + 1;
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable clock costs only the run-time figure of the report, never the run
        }
        RunClock c = new RunClock(f, before, legs);
        c.write();
        return c;
    }

    /** Records progress (cheap: writes at most every two seconds). */
    void tick() {
        if (System.nanoTime() - lastWrite > 2_000_000_000L) write();
    }

    /** Seconds over every leg, recorded. */
    double finish() {
        write();
        return total();
    }

    int legs() {
        return legs;
    }

    private double total() {
        return before + (System.nanoTime() - start) / 1e9;
    }

    private void write() {
        lastWrite = System.nanoTime();
        try {
            Files.writeString(file, String.format(java.util.Locale.ROOT, "%.3f %d%n", total(), legs), StandardCharsets.UTF_8);
        } catch (IOException e) {
            // as above: the clock is a report figure, not a reason to stop
        }
    }
}
