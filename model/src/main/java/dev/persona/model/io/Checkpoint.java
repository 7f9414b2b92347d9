package dev.persona.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The weights of a Hugging Face model directory: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}, or any set of {@code *.safetensors} files. Looks tensors up by
 * name across shards.
 */
public final class Checkpoint implements TensorSource, AutoCloseable {
    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();

    private Checkpoint(Path dir, List<SafetensorsFile> files) {
        this.dir = dir;
        this.files = files;
        for (SafetensorsFile f : files) {
            for (String name : f.tensors().keySet()) byTensor.put(name, f);
        }
    }

    /** Opens the weights of model directory {@code dir}. */
    public static Checkpoint open(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<Path> paths = new ArrayList<>();
        if (Files.isRegularFile(index)) {
            try {
                JsonNode map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
                if (map == null) {
                    throw new PersonaException(index + ": no 'weight_map' object", "regenerate the index with save_pretrained");
                }
                map.fields().forEachRemaining(e -> {
                    Path p = dir.resolve(e.getValue().asText());
                    if (!paths.contains(p)) paths.add(p);
                });
            } catch (IOException e) {
                throw new PersonaException(index + ": cannot parse (" + e.getMessage() + ")", "regenerate the index with save_pretrained", e);
            }
            for (Path p : paths) {
                if (!Files.isRegularFile(p)) {
                    throw new PersonaException(index + " names shard " + p.getFileName() + ", which is missing",
                            "copy every shard listed in the index into " + dir);
                }
            }
        } else if (Files.isRegularFile(single)) {
            paths.add(single);
        } else {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(paths::add);
            } catch (IOException e) {
                throw new PersonaException("cannot list model directory " + dir + ": " + e.getMessage(), "check the --model path", e);
            }
        }
        if (paths.isEmpty()) {
            throw new PersonaException(dir + " holds no model.safetensors (nor an index or any *.safetensors file)",
                    "point --model at a Hugging Face model directory; convert .bin checkpoints with safetensors' convert script");
        }
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            for (Path p : paths) files.add(SafetensorsFile.open(p));
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new Checkpoint(dir, files);
    }

    @Override
    public long[] shape(String name) {
        return info(name).shape();
    }

    /** Whether a tensor of that name exists in any shard. */
    @Override
    public boolean has(String name) {
        return byTensor.containsKey(name);
    }

    /** The header entry of tensor {@code name}; a clear error when missing. */
    public TensorInfo info(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new PersonaException("tensor '" + name + "' is missing from the checkpoint in " + dir,
                    "the checkpoint is incomplete or of another architecture than config.json says; check model_type and the files");
        }
        return f.tensors().get(name);
    }

    /** Reads tensor {@code name} as float32, checking its shape when {@code expectedShape} is not null. */
    @Override
    public float[] floats(String name, long... expectedShape) {
        TensorInfo t = info(name);
        checkShape(t, expectedShape);
        return byTensor.get(name).readFloats(t);
    }

    /**
     * Tensor {@code name} as a float32 NDArray. A matrix of any float dtype is filled a few rows at a
     * time into libtorch's array ({@link SafetensorsFile#createWidened}); a float32 vector (norms,
     * biases) goes from its file mapping straight into libtorch and the mapping is released at once. So
     * loading never holds a weight on the Java heap (which the JVM keeps as resident memory after the
     * garbage is gone) nor more than a step of the file's pages; small vectors of other dtypes are
     * converted through {@link #floats}.
     */
    @Override
    public ai.djl.ndarray.NDArray create(ai.djl.ndarray.NDManager manager, String name, long... shape) {
        TensorInfo t = info(name);
        boolean big = t.end() - t.begin() > SafetensorsFile.chunkBytes;
        if (shape.length == 2 && t.dtype().isFloat()) {
            checkShape(t, shape);
            return byTensor.get(name).createWidened(manager, t, new ai.djl.ndarray.types.Shape(shape));
        }
        if (t.dtype() != DType.F32 || big) {
            return manager.create(floats(name, shape), new ai.djl.ndarray.types.Shape(shape));
        }
        checkShape(t, shape);
        return byTensor.get(name).createF32(manager, t, new ai.djl.ndarray.types.Shape(shape));
    }

    /** A float matrix a few rows at a time ({@link SafetensorsFile#readRows}); other tensors as one part. */
    @Override
    public void readRows(ai.djl.ndarray.NDManager manager, String name, long[] shape, Rows rows) {
        TensorInfo t = info(name);
        if (shape.length != 2 || !t.dtype().isFloat()) {
            TensorSource.super.readRows(manager, name, shape, rows);
            return;
        }
        checkShape(t, shape);
        byTensor.get(name).readRows(manager, t, new ai.djl.ndarray.types.Shape(shape), rows);
    }

    private static void checkShape(TensorInfo t, long[] expectedShape) {
        if (expectedShape != null && expectedShape.length > 0 && !java.util.Arrays.equals(t.shape(), expectedShape)) {
            throw new PersonaException(t.file() + ": tensor '" + t.name() + "' has shape " + java.util.Arrays.toString(t.shape())
                    + " but config.json implies " + java.util.Arrays.toString(expectedShape),
                    "check that config.json belongs to these weights");
        }
    }

    /** All tensor names across shards. */
    public java.util.Set<String> names() {
        return byTensor.keySet();
    }

    /** The dtype most weights are stored in (that of the first tensor). */
    public DType storedDType() {
        return files.get(0).tensors().values().stream().findFirst().map(TensorInfo::dtype).orElse(DType.F32);
    }

    /** Number of stored elements over all tensors. */
    public long parameterCount() {
        long n = 0;
        for (SafetensorsFile f : files) for (TensorInfo t : f.tensors().values()) n += t.numel();
        return n;
    }

    /** The files read, in order. */
    public List<Path> paths() {
        return files.stream().map(SafetensorsFile::path).toList();
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
