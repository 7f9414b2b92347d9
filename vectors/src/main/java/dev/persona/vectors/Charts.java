package dev.persona.vectors;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.statistics.HistogramDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG charts for reports and images for notebooks (JFreeChart, headless), 800 x 480 pixels. */
public final class Charts {
    private Charts() { }

    /** Width and height of every chart, pixels. */
    public static final int WIDTH = 800, HEIGHT = 480;

    /** A line chart: one series per entry, x and y arrays of equal length. */
    public static void lines(Path file, String title, String xLabel, String yLabel, Map<String, double[][]> series) throws IOException {
        ChartUtils.saveChartAsPNG(file.toFile(), lineChart(title, xLabel, yLabel, series, true), WIDTH, HEIGHT);
    }

    /** {@link #lines} as an image (e.g. for a notebook cell). */
    public static BufferedImage lines(String title, String xLabel, String yLabel, Map<String, double[][]> series) {
        return lineChart(title, xLabel, yLabel, series, true).createBufferedImage(WIDTH, HEIGHT);
    }

    /** Points without lines: one series per entry, x and y arrays of equal length. */
    public static BufferedImage scatter(String title, String xLabel, String yLabel, Map<String, double[][]> series) {
        return lineChart(title, xLabel, yLabel, series, false).createBufferedImage(WIDTH, HEIGHT);
    }

    /** Overlaid histograms as an image. */
    public static BufferedImage histograms(String title, String xLabel, Map<String, double[]> samples, int bins, double lo, double hi) {
        return histogramChart(title, xLabel, samples, bins, lo, hi).createBufferedImage(WIDTH, HEIGHT);
    }

    /**
     * A heatmap of {@code values[row][column]} with a grey-to-red scale from {@code lo} to {@code hi};
     * rows and columns are labelled; NaN cells stay white.
     */
    public static BufferedImage heatmap(String title, String rowLabel, List<String> rows, String columnLabel, List<String> columns,
                                        double[][] values, double lo, double hi) {
        DefaultXYZDataset data = new DefaultXYZDataset();
        int n = rows.size() * columns.size();
        double[][] xyz = new double[3][n];
        for (int r = 0, k = 0; r < rows.size(); r++) {
            for (int c = 0; c < columns.size(); c++, k++) {
                xyz[0][k] = c;
                xyz[1][k] = r;
                xyz[2][k] = values[r][c];
            }
        }
        data.addSeries("values", xyz);
        XYBlockRenderer renderer = new XYBlockRenderer();
        LookupPaintScale scale = new LookupPaintScale(lo, hi + 1e-9, Color.WHITE);
        for (int i = 0; i <= 20; i++) {
            float t = i / 20f;
            scale.add(lo + (hi - lo) * t, new Color(0.9f - 0.1f * t, 0.9f - 0.75f * t, 0.9f - 0.75f * t));
        }
        renderer.setPaintScale(scale);
        SymbolAxis x = new SymbolAxis(columnLabel, columns.toArray(String[]::new));
        SymbolAxis y = new SymbolAxis(rowLabel, rows.toArray(String[]::new));
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        // the value of each cell, written on it
        for (int k = 0; k < n; k++) {
            if (Double.isNaN(xyz[2][k])) continue;
            XYTextAnnotation a = new XYTextAnnotation(String.format("%.0f", xyz[2][k]), xyz[0][k], xyz[1][k]);
            a.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            plot.addAnnotation(a);
        }
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, false);
        PaintScaleLegend legend = new PaintScaleLegend(scale, new NumberAxis());
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setMargin(4, 4, 40, 4);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        return chart.createBufferedImage(WIDTH, HEIGHT);
    }

    private static JFreeChart lineChart(String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean linesOn) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (var e : series.entrySet()) {
            XYSeries s = new XYSeries(e.getKey());
            double[] x = e.getValue()[0], y = e.getValue()[1];
            for (int i = 0; i < x.length; i++) if (!Double.isNaN(y[i])) s.add(x[i], y[i]);
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(linesOn, true);
        for (int i = 0; i < series.size(); i++) r.setSeriesStroke(i, new BasicStroke(2f));
        plot.setRenderer(r);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        // a y range that includes the data even when it is flat
        ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        return chart;
    }

    /** Overlaid histograms of several samples on [lo, hi]. */
    public static void histograms(Path file, String title, String xLabel, Map<String, double[]> samples, int bins, double lo, double hi) throws IOException {
        ChartUtils.saveChartAsPNG(file.toFile(), histogramChart(title, xLabel, samples, bins, lo, hi), WIDTH, HEIGHT);
    }

    private static JFreeChart histogramChart(String title, String xLabel, Map<String, double[]> samples, int bins, double lo, double hi) {
        HistogramDataset data = new HistogramDataset();
        for (var e : samples.entrySet()) if (e.getValue().length > 0) data.addSeries(e.getKey(), e.getValue(), bins, lo, hi);
        JFreeChart chart = ChartFactory.createHistogram(title, xLabel, "count", data, PlotOrientation.VERTICAL, true, false, false);
        chart.getXYPlot().setForegroundAlpha(0.6f);
        chart.getXYPlot().setBackgroundPaint(Color.WHITE);
        return chart;
    }

}
