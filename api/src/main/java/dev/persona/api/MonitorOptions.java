package dev.persona.api;

import dev.persona.model.BatchSize;
import java.nio.file.Path;

/**
 * How conversations are monitored: vector row {@code layer} (null: the file's recommended or best
 * layer) of directions {@code kind}; {@code perTurn} also projects the last prompt token before every
 * assistant turn; {@code judge} (null: none) scores each response for {@code trait} (null: the
 * vector's trait), which must have evaluation questions and a rubric; {@code batch} conversations per
 * forward pass (null: from memory, at most 16; only float rounding depends on it); rows are journaled in {@code out}.
 */
public record MonitorOptions(Integer layer, String kind, boolean perTurn, String judge, String trait, Integer batch, Path out) {
    public MonitorOptions {
        if (batch != null) BatchSize.given(batch); // refuses 0 and below, naming --batch
        if (kind == null) kind = "response_avg";
        if (out == null) out = Path.of("runs", "monitor");
    }

    /** The command's defaults: recommended layer, response_avg, no per-turn, no judge, runs/monitor. */
    public static MonitorOptions defaults() {
        return new MonitorOptions(null, "response_avg", false, null, null, null, null);
    }

    public MonitorOptions layer(Integer v) {
        return new MonitorOptions(v, kind, perTurn, judge, trait, batch, out);
    }

    public MonitorOptions kind(String v) {
        return new MonitorOptions(layer, v, perTurn, judge, trait, batch, out);
    }

    public MonitorOptions perTurn(boolean v) {
        return new MonitorOptions(layer, kind, v, judge, trait, batch, out);
    }

    public MonitorOptions judge(String v) {
        return new MonitorOptions(layer, kind, perTurn, v, trait, batch, out);
    }

    public MonitorOptions trait(String v) {
        return new MonitorOptions(layer, kind, perTurn, judge, v, batch, out);
    }

    /** Conversations per forward pass (and per journal append); null chooses from memory (at most 16). */
    public MonitorOptions batch(Integer v) {
        return new MonitorOptions(layer, kind, perTurn, judge, trait, v, out);
    }

    public MonitorOptions out(Path v) {
        return new MonitorOptions(layer, kind, perTurn, judge, trait, batch, v);
    }
}
