package dev.persona.vectors;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.statistics.HistogramDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG charts for reports (JFreeChart, headless). */
public final class Charts {
    private Charts() { }

    /** A line chart: one series per entry, x and y arrays of equal length. */
    public static void lines(Path file, String title, String xLabel, String yLabel, Map<String, double[][]> series) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (var e : series.entrySet()) {
            XYSeries s = new XYSeries(e.getKey());
            double[] x = e.getValue()[0], y = e.getValue()[1];
            for (int i = 0; i < x.length; i++) if (!Double.isNaN(y[i])) s.add(x[i], y[i]);
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < series.size(); i++) r.setSeriesStroke(i, new BasicStroke(2f));
        plot.setRenderer(r);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 800, 480);
    }

    /** Overlaid histograms of several samples on [lo, hi]. */
    public static void histograms(Path file, String title, String xLabel, Map<String, double[]> samples, int bins, double lo, double hi) throws IOException {
        HistogramDataset data = new HistogramDataset();
        for (var e : samples.entrySet()) if (e.getValue().length > 0) data.addSeries(e.getKey(), e.getValue(), bins, lo, hi);
        JFreeChart chart = ChartFactory.createHistogram(title, xLabel, "count", data, PlotOrientation.VERTICAL, true, false, false);
        chart.getXYPlot().setForegroundAlpha(0.6f);
        chart.getXYPlot().setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 800, 480);
    }

}
