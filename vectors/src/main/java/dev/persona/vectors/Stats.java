package dev.persona.vectors;

/** Small statistics used across vectors: norms, cosines, projections, AUROC, Pearson r with its 95% interval. */
public final class Stats {
    private Stats() { }

    public static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    public static double norm(float[] a) {
        return Math.sqrt(dot(a, a));
    }

    public static double cosine(float[] a, float[] b) {
        double na = norm(a), nb = norm(b);
        return na == 0 || nb == 0 ? 0 : dot(a, b) / (na * nb);
    }

    /** Projection of x onto the unit vector of v: x . v / |v|. */
    public static double projection(float[] x, float[] v) {
        double n = norm(v);
        return n == 0 ? 0 : dot(x, v) / n;
    }

    /** Probability that a random positive scores above a random negative (ties count half). */
    public static double auroc(double[] positives, double[] negatives) {
        if (positives.length == 0 || negatives.length == 0) return Double.NaN;
        double wins = 0;
        for (double p : positives) {
            for (double n : negatives) {
                if (p > n) wins += 1;
                else if (p == n) wins += 0.5;
            }
        }
        return wins / ((double) positives.length * negatives.length);
    }

    public static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return x.length == 0 ? Double.NaN : s / x.length;
    }

    public static double std(double[] x) {
        double m = mean(x), s = 0;
        for (double v : x) s += (v - m) * (v - m);
        return x.length < 2 ? 0 : Math.sqrt(s / (x.length - 1));
    }

    /** Pearson correlation. */
    public static double pearson(double[] x, double[] y) {
        double mx = mean(x), my = mean(y), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
    }

    /** 95% confidence interval of a Pearson r over n points (Fisher z), or NaNs for n < 4. */
    public static double[] pearsonInterval(double r, int n) {
        if (n < 4 || Double.isNaN(r)) return new double[] {Double.NaN, Double.NaN};
        double z = 0.5 * Math.log((1 + r) / (1 - r));
        double se = 1 / Math.sqrt(n - 3);
        // the 97.5% quantile of the standard normal, to double precision (scipy's norm.ppf(0.975))
        double q = 1.959963984540054;
        return new double[] {Math.tanh(z - q * se), Math.tanh(z + q * se)};
    }
}
