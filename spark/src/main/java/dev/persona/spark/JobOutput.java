package dev.persona.spark;

import dev.persona.model.PersonaException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A job's output folder (any Hadoop filesystem). Each table in it is written by Spark's output
 * committer, which leaves a {@code _SUCCESS} marker per table; the job writes its own
 * {@code _SUCCESS} at the top only after every table and {@code summary.json} are in place, so a
 * folder without it is the partial output of a job that did not finish. An existing folder is
 * refused unless the caller asks to overwrite it.
 */
final class JobOutput {
    final String root;
    private final FileSystem fs;

    private JobOutput(String root, FileSystem fs) {
        this.root = root.replaceAll("/+$", "");
        this.fs = fs;
    }

    static JobOutput prepare(String out, boolean overwrite, Configuration conf) {
        try {
            Path p = new Path(out);
            FileSystem fs = p.getFileSystem(conf);
            if (fs.exists(p) && fs.listStatus(p).length > 0) {
                boolean complete = fs.exists(new Path(p, "_SUCCESS"));
                if (!overwrite) {
                    throw new PersonaException(out + (complete ? " already holds the output of a finished job"
                            : " holds the partial output of a job that did not finish (no _SUCCESS)"), "pass --overwrite to replace it, or choose another --out");
                }
                fs.delete(p, true);
            }
            return new JobOutput(out, fs);
        } catch (IOException e) {
            throw new PersonaException("cannot prepare output " + out + ": " + e.getMessage(), "check the path and permissions", e);
        }
    }

    /** Whether {@code out} holds a finished job's output. */
    static boolean complete(String out, Configuration conf) throws IOException {
        Path p = new Path(out, "_SUCCESS");
        return p.getFileSystem(conf).exists(p);
    }

    String table(String name) {
        return root + "/" + name;
    }

    /** Writes summary.json, then the top-level _SUCCESS marker: the job is complete. */
    void finish(String summaryJson) {
        try {
            try (FSDataOutputStream o = fs.create(new Path(root, "summary.json"), true)) {
                o.write(summaryJson.getBytes(StandardCharsets.UTF_8));
            }
            fs.create(new Path(root, "_SUCCESS"), true).close();
        } catch (IOException e) {
            throw new PersonaException("cannot finish output " + root + ": " + e.getMessage(), "check the path and permissions", e);
        }
    }

    static URI uri(String location) {
        return new Path(location).toUri();
    }
}
