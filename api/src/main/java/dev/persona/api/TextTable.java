package dev.persona.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A small table that prints with aligned columns (a notebook shows it as text/plain). Floating-point
 * numbers are written with {@code %.3f}, integers as they are; numbers align right.
 */
public record TextTable(List<String> header, List<List<Object>> rows) {
    public TextTable {
        header = List.copyOf(header);
        List<List<Object>> copy = new ArrayList<>();
        for (List<Object> r : rows) {
            if (r.size() != header.size()) throw new IllegalArgumentException("row " + r + " has " + r.size() + " cells, the header " + header.size());
            copy.add(new ArrayList<>(r));
        }
        rows = List.copyOf(copy);
    }

    /** A table with these column names; add rows with {@link #row}. */
    public static TextTable of(String... header) {
        return new TextTable(Arrays.asList(header), List.of());
    }

    /** This table with one more row. */
    public TextTable row(Object... cells) {
        List<List<Object>> r = new ArrayList<>(rows);
        r.add(Arrays.asList(cells));
        return new TextTable(header, r);
    }

    private static String cell(Object o) {
        if (o == null) return "";
        if (o instanceof Double d) return d.isNaN() ? "NaN" : String.format(Locale.ROOT, "%.3f", d);
        if (o instanceof Float f) return cell((double) f);
        return o.toString();
    }

    @Override
    public String toString() {
        int[] w = new int[header.size()];
        for (int c = 0; c < w.length; c++) {
            w[c] = header.get(c).length();
            for (List<Object> r : rows) w[c] = Math.max(w[c], cell(r.get(c)).length());
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header.stream().map(h -> (Object) h).toList(), w);
        for (int c = 0; c < w.length; c++) sb.append(c == 0 ? "" : "  ").append("-".repeat(w[c]));
        sb.append('\n');
        for (List<Object> r : rows) line(sb, r, w);
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<Object> cells, int[] w) {
        for (int c = 0; c < w.length; c++) {
            String s = cell(cells.get(c));
            boolean numeric = cells.get(c) instanceof Number;
            if (c > 0) sb.append("  ");
            sb.append(numeric ? " ".repeat(w[c] - s.length()) + s : s + (c == w.length - 1 ? "" : " ".repeat(w[c] - s.length())));
        }
        sb.append('\n');
    }
}
