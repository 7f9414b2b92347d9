package dev.persona.extract;

import dev.persona.model.io.AtomicWrite;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes extraction outputs as Arrow IPC files that pyarrow, pandas and polars read without Persona:
 * responses.arrow (one row per generated response) and activations.arrow (long format: one row per
 * kept sample, position kind and layer, with a FixedSizeList&lt;float32, d_model&gt; column).
 * Files are written under a temporary name and moved into place.
 */
public final class ArrowDatasets {
    private ArrowDatasets() { }

    private static Field utf8(String name) {
        return Field.nullable(name, new ArrowType.Utf8());
    }

    private static Field int32(String name) {
        return Field.nullable(name, new ArrowType.Int(32, true));
    }

    private static Field float64(String name) {
        return Field.nullable(name, new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE));
    }

    /** responses.arrow: key, question, pair, sample, polarity, system, question_text, response, trait_score, coherence, kept, seed_batch. */
    public static void writeResponses(Path file, Extraction.Result r, int batchSize) throws IOException {
        Schema schema = new Schema(List.of(utf8("key"), int32("question"), int32("pair"), int32("sample"), utf8("polarity"),
                utf8("system"), utf8("question_text"), utf8("response"), float64("trait_score"), float64("coherence"),
                Field.nullable("kept", new ArrowType.Bool()), int32("generation_batch")));
        java.util.Set<String> kept = new java.util.HashSet<>(r.keptPairs());
        write(file, schema, root -> {
            int i = 0;
            for (Sample s : r.samples()) {
                ((VarCharVector) root.getVector("key")).setSafe(i, bytes(s.key()));
                ((IntVector) root.getVector("question")).setSafe(i, s.question());
                ((IntVector) root.getVector("pair")).setSafe(i, s.pair());
                ((IntVector) root.getVector("sample")).setSafe(i, s.sample());
                ((VarCharVector) root.getVector("polarity")).setSafe(i, bytes(s.positive() ? "pos" : "neg"));
                ((VarCharVector) root.getVector("system")).setSafe(i, bytes(s.system()));
                ((VarCharVector) root.getVector("question_text")).setSafe(i, bytes(s.user()));
                ((VarCharVector) root.getVector("response")).setSafe(i, bytes(r.responses().get(s.key())));
                setDouble(root, "trait_score", i, r.traitScores().get(s.key()));
                setDouble(root, "coherence", i, r.coherence().get(s.key()));
                ((BitVector) root.getVector("kept")).setSafe(i, kept.contains(s.pairKey()) ? 1 : 0);
                ((IntVector) root.getVector("generation_batch")).setSafe(i, s.index() / batchSize);
                i++;
            }
            root.setRowCount(i);
        });
    }

    /** Sets row {@code i} of double column {@code name}; null or NaN is written as null. */
    public static void setDouble(VectorSchemaRoot root, String name, int i, Double v) {
        Float8Vector f = (Float8Vector) root.getVector(name);
        if (v == null || v.isNaN()) f.setNull(i);
        else f.setSafe(i, v);
    }

    /** activations.arrow: key, polarity, question, pair, position (kind), layer, activation FixedSizeList<float32, d>. */
    public static void writeActivations(Path file, Extraction.Result r) throws IOException {
        int d = r.summaries().values().iterator().next().responseAvg()[0].length;
        Field item = Field.nullable("item", new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));
        Field act = new Field("activation", FieldType.nullable(new ArrowType.FixedSizeList(d)), List.of(item));
        Schema schema = new Schema(List.of(utf8("key"), utf8("polarity"), int32("question"), int32("pair"), utf8("position"), int32("layer"), act));
        write(file, schema, root -> {
            FixedSizeListVector list = (FixedSizeListVector) root.getVector("activation");
            Float4Vector data = (Float4Vector) list.getDataVector();
            int i = 0;
            for (Sample s : r.samples()) {
                ActivationSummaries a = r.summaries().get(s.key());
                if (a == null) continue;
                for (String kind : ActivationSummaries.KINDS) {
                    float[][] rows = a.kind(kind);
                    for (int l = 0; l < rows.length; l++) {
                        ((VarCharVector) root.getVector("key")).setSafe(i, bytes(s.key()));
                        ((VarCharVector) root.getVector("polarity")).setSafe(i, bytes(s.positive() ? "pos" : "neg"));
                        ((IntVector) root.getVector("question")).setSafe(i, s.question());
                        ((IntVector) root.getVector("pair")).setSafe(i, s.pair());
                        ((VarCharVector) root.getVector("position")).setSafe(i, bytes(kind));
                        ((IntVector) root.getVector("layer")).setSafe(i, l);
                        list.setNotNull(i);
                        for (int j = 0; j < d; j++) data.setSafe(i * d + j, rows[l][j]);
                        i++;
                    }
                }
            }
            root.setRowCount(i);
        });
    }

    /** Writes one record batch built by {@code fill}. */
    public static void write(Path file, Schema schema, java.util.function.Consumer<VectorSchemaRoot> fill) throws IOException {
        AtomicWrite.to(file, tmp -> {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (BufferAllocator alloc = new RootAllocator();
                 VectorSchemaRoot root = VectorSchemaRoot.create(schema, alloc);
                 OutputStream out = Files.newOutputStream(tmp);
                 ArrowFileWriter w = new ArrowFileWriter(root, null, Channels.newChannel(out))) {
                w.start();
                fill.accept(root);
                w.writeBatch();
                w.end();
            }
        });
    }

    static byte[] bytes(String s) {
        return (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
    }

}
