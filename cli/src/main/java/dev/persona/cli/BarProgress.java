package dev.persona.cli;

import dev.persona.api.Progress;
import java.util.LinkedHashMap;
import java.util.Map;

/** The library's progress drawn as one bar per stage on stderr; notes go to stderr as lines. */
final class BarProgress implements Progress {
    private final Map<String, ProgressBar> bars = new LinkedHashMap<>();

    @Override
    public void update(String stage, int done, int total) {
        update(stage, done, total, "");
    }

    @Override
    public void update(String stage, int done, int total, String status) {
        bars.computeIfAbsent(stage, s -> new ProgressBar(s, total)).update(done, status);
    }

    @Override
    public void note(String message) {
        System.err.println(message);
    }
}
