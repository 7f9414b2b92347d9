package dev.persona.spark;

import dev.persona.api.JsonText;
import dev.persona.model.PersonaException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Entry point of the Spark jobs: {@code screen}, {@code monitor}, {@code drift}. Under spark-submit the
 * master comes from spark-submit; run directly ({@code ./persona spark ...}) it is {@code --master}
 * (default local[*]).
 */
@Command(name = "persona-spark", mixinStandardHelpOptions = true, subcommands = {PersonaSpark.Screen.class, PersonaSpark.Monitor.class, PersonaSpark.Drift.class},
        description = "Persona's screening, monitoring and drift as Apache Spark jobs.")
public final class PersonaSpark {
    /** Options every job takes. */
    static class Common {
        @Option(names = "--master", description = "Spark master when not under spark-submit (default local[*]; local[N,F] retries a failed task F-1 times).")
        String master;

        @Option(names = "--out", required = true, description = "Output folder (any Hadoop URI).")
        String out;

        @Option(names = "--overwrite", description = "Replace an existing output folder.")
        boolean overwrite;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        SparkSession session(String job) {
            SparkSession.Builder b = SparkSession.builder().appName("persona " + job);
            if (master != null) b.master(master);
            else if (!new SparkConf().contains("spark.master")) b.master("local[*]");
            return b.getOrCreate();
        }
    }

    /** Options of jobs over a chat dataset with one model. */
    static class DataJob extends Common {
        @Option(names = "--data", required = true, description = "Chat-messages JSONL (file or folder) or Parquet with a messages column.")
        String data;

        @Option(names = "--format", description = "jsonl or parquet (default: from the extension).")
        String format;

        @Option(names = "--model", description = "Model folder every executor can read, or a Hadoop URI copied once per executor (default: the organism).")
        String model;

        @Option(names = "--dtype", defaultValue = "f32", description = "f32 or bf16 (default ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or gpu:N (default ${DEFAULT-VALUE}).")
        String device;

        @Option(names = "--batch", defaultValue = "32", description = "Samples per runtime batch (default ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--partitions", defaultValue = "0", description = "Repartition the data into N (default: as read).")
        int partitions;

        ModelSpec spec() {
            return new ModelSpec(model, dtype, device);
        }
    }

    @Command(name = "screen", mixinStandardHelpOptions = true, description = "persona screen on Spark: projection difference and cheap score per sample, ranked and flagged as persona screen does.")
    static final class Screen extends DataJob implements Callable<Integer> {
        @Option(names = "--vector", required = true, description = "Vector file (path or Hadoop URI).")
        String vector;

        @Option(names = "--layer", description = "Vector row (default: recommended, else best layer).")
        Integer layer;

        @Option(names = "--no-base-replies", description = "Cheap score only (no generation).")
        boolean noBase;

        @Option(names = "--top", description = "Flag the top K samples.")
        Integer top;

        @Option(names = "--percentile", defaultValue = "90", description = "Flag samples at or above this percentile (default ${DEFAULT-VALUE}).")
        double percentile;

        @Option(names = "--max-tokens", defaultValue = "64", description = "Base reply length (default ${DEFAULT-VALUE}).")
        int maxTokens;

        @Option(names = "--fault-partition", hidden = true, defaultValue = "-1")
        int faultPartition;

        @Override
        public Integer call() throws Exception {
            ScreenJob.Options o = new ScreenJob.Options(data, format, vector, spec(), layer, !noBase, top, percentile, maxTokens, batch, partitions, out,
                    overwrite, faultPartition);
            try (SparkSession s = session("screen")) {
                ScreenJob.Result r = ScreenJob.run(s, o);
                System.out.println(json ? JsonText.write(r) : r.samples() + " samples scored (" + r.rejects() + " rejected), " + r.flagged() + " flagged by "
                        + r.scoredBy() + "; " + r.scores() + ", " + r.filtered());
            }
            return 0;
        }
    }

    @Command(name = "monitor", mixinStandardHelpOptions = true, description = "persona monitor on Spark: last-prompt and response projections of every conversation onto every vector.")
    static final class Monitor extends DataJob implements Callable<Integer> {
        @Option(names = "--vector", required = true, arity = "1..*", description = "Vector files (paths or Hadoop URIs).")
        List<String> vectors = new ArrayList<>();

        @Option(names = "--layer", description = "Vector row for every vector (default: each file's recommended, else best layer).")
        Integer layer;

        @Option(names = "--kind", defaultValue = "response_avg", description = "Which directions (default ${DEFAULT-VALUE}).")
        String kind;

        @Option(names = "--condition-field", description = "A field of each JSON object to carry as the condition.")
        String conditionField;

        @Override
        public Integer call() throws Exception {
            MonitorJob.Options o = new MonitorJob.Options(data, format, vectors, spec(), layer, kind, conditionField, batch, partitions, out, overwrite);
            try (SparkSession s = session("monitor")) {
                MonitorJob.Result r = MonitorJob.run(s, o);
                System.out.println(json ? JsonText.write(r) : r.conversations() + " conversations x " + r.vectors() + " vectors (" + r.rejects() + " rejected); "
                        + r.projections());
            }
            return 0;
        }
    }

    @Command(name = "drift", mixinStandardHelpOptions = true, description = "persona drift on Spark: one task per checkpoint; same table and exit code (3 when a shift passes --threshold).")
    static final class Drift extends Common implements Callable<Integer> {
        @Option(names = "--base", required = true, description = "The model before finetuning.")
        String base;

        @Option(names = "--checkpoints", arity = "1..*", description = "Checkpoint folders or globs (e.g. runs/ft/checkpoint-*).")
        List<String> checkpoints = new ArrayList<>();

        @Option(names = "--run", description = "A finetuning run folder (its checkpoint-N folders and final model).")
        String run;

        @Option(names = "--vector", required = true, arity = "1..*", description = "Vector files.")
        List<String> vectors = new ArrayList<>();

        @Option(names = "--layer", description = "Vector row (default: each file's recommended, else best layer).")
        Integer layer;

        @Option(names = "--prompts-trait", description = "Whose evaluation questions to probe with (default: each vector's trait).")
        String promptsTrait;

        @Option(names = "--system", description = "System prompt.")
        String system;

        @Option(names = "--eval", description = "Also judge each checkpoint's rate of this trait.")
        String evalTrait;

        @Option(names = "--judge", defaultValue = "rule", description = "Judge for --eval (default ${DEFAULT-VALUE}).")
        String judge;

        @Option(names = "--eval-samples", defaultValue = "2", description = "Answers per question for --eval (default ${DEFAULT-VALUE}).")
        int evalSamples;

        @Option(names = "--threshold", description = "Exit 3 when a shift exceeds this.")
        Double threshold;

        @Option(names = "--dtype", defaultValue = "f32", description = "f32 or bf16 (default ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or gpu:N (default ${DEFAULT-VALUE}).")
        String device;

        @Override
        public Integer call() throws Exception {
            DriftJob.Options o = new DriftJob.Options(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold,
                    dtype, device, out, overwrite);
            try (SparkSession s = session("drift")) {
                DriftJob.Result r = DriftJob.run(s, o);
                System.out.println(json ? JsonText.write(r) : r.drift().toString().strip());
                return r.exitCode();
            }
        }
    }

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new PersonaSpark());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof PersonaException) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        System.exit(cli.execute(args));
    }
}
