package dev.persona.model;

/**
 * config.json's {@code rope_scaling}: how rotary inverse frequencies are rescaled for long contexts.
 *
 * @param type                          {@code default}, {@code linear} or {@code llama3}
 * @param factor                        overall scale factor
 * @param lowFreqFactor                 llama3 only
 * @param highFreqFactor                llama3 only
 * @param originalMaxPositionEmbeddings llama3 only: the context length the model was trained on
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
    /** No rescaling. */
    public static final RopeScaling NONE = new RopeScaling("default", 1, 1, 1, 0);

    /**
     * Inverse frequencies for {@code headDim}, computed in float32 as transformers' rope init functions do,
     * then rescaled.
     */
    public float[] inverseFrequencies(int headDim, double theta) {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in float32
            float exponent = (float) (2 * i) / (float) headDim;
            inv[i] = (float) (1.0 / (float) Math.pow(theta, exponent));
        }
        switch (type) {
            case "default" -> { }
            case "linear" -> {
                for (int i = 0; i < half; i++) inv[i] = (float) (inv[i] / factor);
            }
            case "llama3" -> {
                double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
                double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen > lowWavelen) {
                        inv[i] = (float) (inv[i] / factor);
                    } else if (wavelen >= highWavelen) {
                        double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                        inv[i] = (float) ((1 - smooth) * inv[i] / factor + smooth * inv[i]);
                    }
                }
            }
            default -> throw new PersonaException("rope_scaling type '" + type + "' is not supported",
                    "Persona supports rope_scaling types default, linear and llama3");
        }
        return inv;
    }
}
