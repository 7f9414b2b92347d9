package dev.persona.vectors.formats;

import dev.persona.model.io.AtomicWrite;
import dev.persona.model.PersonaException;
import dev.persona.model.io.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * {@code torch.save} files (the zip format of torch >= 1.6) without Python: reads a tensor, or a dict
 * of named tensors, of float32, float16, bfloat16 or float64 with any strides; writes one float32
 * tensor exactly as torch lays it out (archive/data.pkl, archive/data/0, archive/version,
 * archive/byteorder), loadable with {@code torch.load(f, weights_only=True)}.
 */
public final class TorchFile {
    private TorchFile() { }

    /** A dense row-major tensor read from a .pt file. */
    public record Tensor(long[] shape, float[] data) { }

    /** The tensors of {@code file}: key "" for a bare tensor, else the dict's keys. */
    public static Map<String, Tensor> read(Path file) {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pkl = zip.stream().filter(e -> e.getName().endsWith("/data.pkl") || e.getName().equals("data.pkl")).findFirst()
                    .orElseThrow(() -> new PersonaException(file + " is a zip without data.pkl, not a torch.save file",
                            "save the vector with torch.save(tensor, path)"));
            String root = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            Object top = Unpickler.load(zip.getInputStream(pkl).readAllBytes());
            Map<String, Tensor> out = new LinkedHashMap<>();
            if (top instanceof Map<?, ?> m) {
                for (var e : m.entrySet()) {
                    if (isTensor(e.getValue())) out.put(String.valueOf(e.getKey()), tensor(zip, root, (Unpickler.Call) e.getValue(), file));
                }
            } else if (isTensor(top)) {
                out.put("", tensor(zip, root, (Unpickler.Call) top, file));
            }
            if (out.isEmpty()) {
                throw new PersonaException(file + " holds no tensor (nor a dict of tensors) at its top level",
                        "save the vector itself: torch.save(vector_tensor, path)");
            }
            return out;
        } catch (ClassCastException | IndexOutOfBoundsException | java.nio.BufferUnderflowException | NullPointerException e) {
            // a pickle this reader does not understand (or a damaged one) is an input error, not a crash
            throw new PersonaException(file + ": data.pkl is not the pickle torch.save writes for tensors (" + e + ")",
                    "save the vector itself as float32: torch.save(v.float().contiguous(), path)", e);
        } catch (java.util.zip.ZipException e) {
            throw new PersonaException(file + " is not a zip archive: a legacy (pre-1.6) torch.save file or not a .pt at all",
                    "re-save it with a current torch: torch.save(torch.load(path), path)", e);
        } catch (IOException e) {
            throw new PersonaException(file + ": cannot read (" + e.getMessage() + ")", "check that the file is a torch.save output", e);
        }
    }

    private static boolean isTensor(Object o) {
        return o instanceof Unpickler.Call c && c.callable() instanceof Unpickler.Global g
                && g.qualified().equals("torch._utils._rebuild_tensor_v2");
    }

    private static Tensor tensor(ZipFile zip, String root, Unpickler.Call call, Path file) throws IOException {
        List<Object> a = call.args();
        if (!(a.get(0) instanceof Unpickler.PersistentId pid) || pid.fields().size() < 5) {
            throw new PersonaException(file + ": a tensor without a storage reference", "re-save the tensor with torch.save");
        }
        String storage = ((Unpickler.Global) pid.fields().get(1)).name();
        DType dtype = switch (storage) {
            case "FloatStorage" -> DType.F32;
            case "HalfStorage" -> DType.F16;
            case "BFloat16Storage" -> DType.BF16;
            case "DoubleStorage" -> DType.F64;
            default -> throw new PersonaException(file + ": tensor storage " + storage + " is not a floating-point type",
                    "save the vector as float32: torch.save(v.float(), path)");
        };
        String key = String.valueOf(pid.fields().get(2));
        long offset = ((Number) a.get(1)).longValue();
        long[] shape = longs(a.get(2)), stride = longs(a.get(3));
        ZipEntry entry = zip.getEntry(root + "data/" + key);
        if (entry == null) throw new PersonaException(file + ": storage data/" + key + " is missing", "the file is truncated; re-save it");
        byte[] raw = zip.getInputStream(entry).readAllBytes();
        ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        float[] all = new float[(int) (raw.length / dtype.bytes())];
        dtype.toFloat(buf, all, 0, all.length);
        long n = 1;
        for (long s : shape) n *= s;
        float[] data = new float[(int) n];
        long[] idx = new long[shape.length];
        for (int i = 0; i < n; i++) {
            long at = offset;
            for (int k = 0; k < shape.length; k++) at += idx[k] * stride[k];
            data[i] = all[(int) at];
            for (int k = shape.length - 1; k >= 0 && ++idx[k] == shape[k]; k--) idx[k] = 0;
        }
        return new Tensor(shape, data);
    }

    private static long[] longs(Object tuple) {
        List<?> l = (List<?>) tuple;
        long[] r = new long[l.size()];
        for (int i = 0; i < r.length; i++) r[i] = ((Number) l.get(i)).longValue();
        return r;
    }

    /** Writes {@code rows} ([n][d], float32) as a torch.save file whose archive is named after the file. */
    public static void write(Path file, float[][] rows) throws IOException {
        int n = rows.length, d = rows[0].length;
        String name = file.getFileName().toString().replaceFirst("\\.[^.]*$", "").replaceAll("[^A-Za-z0-9_]", "_");
        ByteBuffer data = ByteBuffer.allocate(n * d * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] r : rows) for (float x : r) data.putFloat(x);
        AtomicWrite.to(file, tmp -> {
            try (OutputStream os = Files.newOutputStream(tmp); ZipOutputStream zip = new ZipOutputStream(os)) {
                stored(zip, name + "/data.pkl", pickle(n, d));
                stored(zip, name + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
                stored(zip, name + "/data/0", data.array());
                stored(zip, name + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
            }
        });
    }

    /** torch's pickle of a contiguous float32 [n, d] tensor over storage "0". */
    private static byte[] pickle(int n, int d) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2);
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.write('(');
        p.write('(');
        unicode(p, "storage");
        global(p, "torch", "FloatStorage");
        unicode(p, "0");
        unicode(p, "cpu");
        integer(p, (long) n * d);
        p.write('t');
        p.write('Q');
        integer(p, 0);
        integer(p, n);
        integer(p, d);
        p.write(0x86);
        integer(p, d);
        integer(p, 1);
        p.write(0x86);
        p.write(0x89);
        global(p, "collections", "OrderedDict");
        p.write(')');
        p.write('R');
        p.write('t');
        p.write('R');
        p.write('.');
        return p.toByteArray();
    }

    private static void global(ByteArrayOutputStream p, String module, String name) {
        p.write('c');
        p.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void unicode(ByteArrayOutputStream p, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        p.write('X');
        p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
        p.writeBytes(b);
    }

    private static void integer(ByteArrayOutputStream p, long v) {
        if (v >= 0 && v < 256) {
            p.write('K');
            p.write((int) v);
        } else {
            p.write('J');
            p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
        }
    }

    private static void stored(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(bytes.length);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        e.setCrc(crc.getValue());
        e.setTime(0); // reproducible bytes: the same vector always makes the same file
        zip.putNextEntry(e);
        zip.write(bytes);
        zip.closeEntry();
    }
}
