package dev.persona.vectors.formats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The subset of Python's pickle machine that {@code torch.save} output uses (protocol 2 to 5 opcodes
 * for tuples, dicts, lists, ints, floats, strings, globals, REDUCE and persistent ids). It never runs
 * code: a GLOBAL becomes a {@link Global} value, REDUCE a {@link Call}, BINPERSID a {@link PersistentId};
 * the caller interprets the handful it understands. Unknown opcodes fail with their byte and offset.
 */
final class Unpickler {
    /** A module-qualified name, e.g. torch._utils._rebuild_tensor_v2. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A call of {@code callable} with {@code args} (REDUCE), left for the caller to interpret. */
    record Call(Object callable, List<Object> args) { }

    /** A persistent id: for torch, ('storage', StorageType, key, location, numel). */
    record PersistentId(List<Object> fields) { }

    private static final Object MARK = new Object();

    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final Map<Integer, Object> memo = new HashMap<>();

    private Unpickler(byte[] data) {
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The object {@code data} pickles. */
    static Object load(byte[] data) throws IOException {
        return new Unpickler(data).run();
    }

    private Object run() throws IOException {
        while (in.hasRemaining()) {
            int at = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> in.get(); // PROTO
                case 0x95 -> in.getLong(); // FRAME
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> stack.add(MARK);
                case ')' -> stack.add(List.of());
                case '}' -> stack.add(new LinkedHashMap<Object, Object>());
                case ']' -> stack.add(new ArrayList<>());
                case 'N' -> stack.add(null);
                case 0x88 -> stack.add(Boolean.TRUE);
                case 0x89 -> stack.add(Boolean.FALSE);
                case 'K' -> stack.add((long) (in.get() & 0xff));
                case 'M' -> stack.add((long) (in.getShort() & 0xffff));
                case 'J' -> stack.add((long) in.getInt());
                case 0x8a -> stack.add(long1(in.get() & 0xff));
                case 'G' -> stack.add(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT is big-endian
                case 'X' -> stack.add(string(in.getInt()));
                case 0x8c -> stack.add(string(in.get() & 0xff));
                case 'c' -> stack.add(new Global(line(), line()));
                case 0x93 -> { // STACK_GLOBAL
                    String name = (String) pop();
                    stack.add(new Global((String) pop(), name));
                }
                case 'q' -> memo.put(in.get() & 0xff, peek());
                case 'r' -> memo.put(in.getInt(), peek());
                case 0x94 -> memo.put(memo.size(), peek()); // MEMOIZE
                case 'h' -> stack.add(memo.get(in.get() & 0xff));
                case 'j' -> stack.add(memo.get(in.getInt()));
                case 't' -> stack.add(frozen(popToMark()));
                case 0x85 -> stack.add(tuple(1));
                case 0x86 -> stack.add(tuple(2));
                case 0x87 -> stack.add(tuple(3));
                case 'a' -> {
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> {
                    List<Object> items = popToMark();
                    list(peek()).addAll(items);
                }
                case 's' -> {
                    Object v = pop(), k = pop();
                    map(peek()).put(k, v);
                }
                case 'u' -> {
                    List<Object> items = popToMark();
                    Map<Object, Object> m = map(peek());
                    for (int i = 0; i + 1 < items.size(); i += 2) m.put(items.get(i), items.get(i + 1));
                }
                case 'R' -> {
                    Object args = pop(), callable = pop();
                    stack.add(reduce(callable, asList(args)));
                }
                case 'Q' -> stack.add(new PersistentId(asList(pop())));
                case 'b' -> pop(); // BUILD: state of an object we keep opaque (e.g. tensor hooks)
                default -> throw new IOException("unsupported pickle opcode 0x" + Integer.toHexString(op) + " at byte " + at);
            }
        }
        throw new IOException("pickle ended without STOP");
    }

    private Object reduce(Object callable, List<Object> args) {
        // an empty OrderedDict (torch's backward-hooks slot) is just a map
        if (callable instanceof Global g && g.qualified().equals("collections.OrderedDict")) return new LinkedHashMap<>();
        return new Call(callable, args);
    }

    private List<Object> tuple(int n) {
        List<Object> t = new ArrayList<>();
        for (int i = 0; i < n; i++) t.add(0, pop());
        return frozen(t);
    }

    /** An unmodifiable copy that, unlike List.copyOf, keeps None (null) elements. */
    private static List<Object> frozen(List<Object> items) {
        return java.util.Collections.unmodifiableList(new ArrayList<>(items));
    }

    private Long long1(int n) {
        long v = 0;
        for (int i = 0; i < n; i++) v |= (long) (in.get() & 0xff) << (8 * i);
        if (n > 0 && n < 8 && (v >> (8 * n - 1) & 1) == 1) v -= 1L << (8 * n);
        return v;
    }

    private String string(int n) {
        byte[] b = new byte[n];
        in.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        for (byte c; (c = in.get()) != '\n'; ) sb.append((char) c);
        return sb.toString();
    }

    private Object pop() {
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        return stack.get(stack.size() - 1);
    }

    private List<Object> popToMark() {
        int m = stack.lastIndexOf(MARK);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> map(Object o) {
        return (Map<Object, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object o) {
        return o instanceof List<?> l ? (List<Object>) l : List.of(o);
    }
}
