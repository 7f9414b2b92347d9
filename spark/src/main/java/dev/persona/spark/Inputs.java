package dev.persona.spark;

import dev.persona.model.PersonaException;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Chat datasets as Spark reads them: JSONL (one {"messages": [...]} object per line, the format
 * {@code persona screen} reads) or Parquet with a {@code messages} column (array of {role, content}
 * structs; other columns ride along). Every sample gets its id, the 0-based position among the
 * non-blank lines (or rows), which is {@code persona screen}'s sample index.
 */
final class Inputs {
    private Inputs() { }

    /** "jsonl" or "parquet": as given, else from the path's extension. */
    static String format(String data, String format) {
        if (format != null) {
            if (!format.equals("jsonl") && !format.equals("parquet")) throw new PersonaException("--format " + format + " is not jsonl or parquet", "pass --format jsonl or --format parquet");
            return format;
        }
        String d = data.replaceAll("/+$", "");
        if (d.endsWith(".parquet")) return "parquet";
        return "jsonl";
    }

    /** (JSON text of the sample, id) pairs in input order. */
    static JavaPairRDD<String, Long> samples(SparkSession spark, String data, String format) {
        if (format.equals("parquet")) {
            Dataset<Row> df = spark.read().parquet(data);
            if (!java.util.Arrays.asList(df.columns()).contains("messages")) {
                throw new PersonaException(data + " has no messages column (columns: " + String.join(", ", df.columns()) + ")",
                        "store conversations as messages: array<struct<role: string, content: string>>");
            }
            return df.toJSON().javaRDD().zipWithIndex();
        }
        return spark.read().textFile(data).javaRDD().filter(l -> !l.isBlank()).zipWithIndex();
    }

    /** The original Parquet rows with their ids, for writing a filtered copy in the input's own schema. */
    static JavaPairRDD<Row, Long> parquetRows(SparkSession spark, String data) {
        return spark.read().parquet(data).javaRDD().zipWithIndex();
    }

    static <A, B> Tuple2<A, B> pair(A a, B b) {
        return new Tuple2<>(a, b);
    }
}
