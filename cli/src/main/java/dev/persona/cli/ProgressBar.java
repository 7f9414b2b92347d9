package dev.persona.cli;

/** A one-line progress bar on stderr: [=====>    ] 42/100 with a free-text status. */
final class ProgressBar {
    private final String label;
    private final int total;
    private long lastPrint;

    ProgressBar(String label, int total) {
        this.label = label;
        this.total = total;
    }

    void update(int done, String status) {
        long now = System.nanoTime();
        if (done < total && now - lastPrint < 200_000_000L) return;
        lastPrint = now;
        int width = 30;
        int filled = total == 0 ? width : (int) ((long) width * done / total);
        StringBuilder bar = new StringBuilder("\r").append(label).append(" [");
        for (int i = 0; i < width; i++) bar.append(i < filled ? '=' : i == filled ? '>' : ' ');
        bar.append("] ").append(done).append('/').append(total).append(' ').append(status).append("   ");
        System.err.print(bar);
        if (done >= total) System.err.println();
        System.err.flush();
    }
}
