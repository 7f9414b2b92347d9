package dev.persona.model;

/**
 * The cos and sin of the rotary embedding's angles for the rows of a pass: row r at position
 * {@code positions[r]}, frequency i of {@code half} = headDim / 2, angle = position x frequency in
 * float, each [rows x half] (row-major). Every layer with the same frequencies rotates by the same
 * table, so a pass computes it once instead of twice a layer (a batch-16 decode step of a
 * 24-layer model made 48 tables, 0.9 ms of trigonometry).
 */
record RotaryTable(float[] cos, float[] sin, int half) {
    /** The table for {@code positions} (one per row) and a layer's inverse {@code frequencies} (headDim / 2 of them). */
    static RotaryTable of(long[] positions, float[] frequencies) {
        int half = frequencies.length;
        float[] cos = new float[positions.length * half], sin = new float[positions.length * half];
        for (int r = 0; r < positions.length; r++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) positions[r] * frequencies[i];
                cos[r * half + i] = (float) Math.cos(angle);
                sin[r * half + i] = (float) Math.sin(angle);
            }
        }
        return new RotaryTable(cos, sin, half);
    }

    /**
     * The rotary embedding (rotate-half convention) in place on rows of heads of 2 x half floats
     * ({@code x} [rows, heads x headDim]), rounded as libtorch's route rounds: x * cos + rotated *
     * sin per element.
     */
    void rotate(float[] x) {
        int rows = cos.length / half, width = x.length / rows, headDim = 2 * half;
        for (int r = 0; r < rows; r++) {
            int t = r * half;
            for (int h = r * width; h < (r + 1) * width; h += headDim) {
                for (int i = 0; i < half; i++) {
                    float x1 = x[h + i], x2 = x[h + half + i];
                    x[h + i] = x1 * cos[t + i] + -x2 * sin[t + i];
                    x[h + half + i] = x2 * cos[t + i] + x1 * sin[t + i];
                }
            }
        }
    }
}
