package dev.persona.model;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.util.Optional;

/**
 * Hands the C allocator's free memory back to the operating system (glibc's {@code malloc_trim(0)}).
 *
 * <p>Loading a model allocates and frees many temporaries of a few megabytes between the weights it
 * keeps (BF16 rounding steps, float32 parts); glibc keeps the freed ones in its arenas, where they
 * count as resident memory although nothing uses them: 0.28 GB after loading a 0.5B model in BF16
 * (0.99 GB of weights). {@link #trim} returns them.
 *
 * <p>The call goes through Java 17's incubating foreign linker, looked up reflectively so that
 * nothing needs it to compile: it runs when the JVM has {@code --add-modules=jdk.incubator.foreign
 * --enable-native-access=ALL-UNNAMED} (as {@code ./persona} and the tests pass) and is a no-op
 * otherwise, or off glibc.
 */
public final class NativeMemory {
    private static final MethodHandle MALLOC_TRIM = lookUp();

    private NativeMemory() { }

    /** Whether {@link #trim} can call {@code malloc_trim} in this JVM. */
    public static boolean available() {
        return MALLOC_TRIM != null;
    }

    /** Returns free allocator memory to the system; true when some was returned. Costs 10-40 ms after a load. */
    public static boolean trim() {
        if (MALLOC_TRIM == null) return false;
        try {
            return (int) MALLOC_TRIM.invokeExact(0L) == 1;
        } catch (Throwable e) {
            return false;
        }
    }

    private static MethodHandle lookUp() {
        if (Boolean.getBoolean("persona.trim.off")) return null;
        try {
            Class<?> linker = Class.forName("jdk.incubator.foreign.CLinker");
            Class<?> symbols = Class.forName("jdk.incubator.foreign.SymbolLookup");
            Class<?> addressable = Class.forName("jdk.incubator.foreign.Addressable");
            Class<?> layout = Class.forName("jdk.incubator.foreign.MemoryLayout");
            Class<?> descriptor = Class.forName("jdk.incubator.foreign.FunctionDescriptor");
            Object lookup = linker.getMethod("systemLookup").invoke(null);
            Optional<?> symbol = (Optional<?>) symbols.getMethod("lookup", String.class).invoke(lookup, "malloc_trim");
            if (symbol.isEmpty()) return null;
            Object args = Array.newInstance(layout, 1);
            Array.set(args, 0, linker.getField("C_LONG").get(null));
            Object signature = descriptor.getMethod("of", layout, args.getClass()).invoke(null, linker.getField("C_INT").get(null), args);
            // getInstance is where a JVM without native access refuses (IllegalCallerException)
            Object instance = linker.getMethod("getInstance").invoke(null);
            return (MethodHandle) linker.getMethod("downcallHandle", addressable, MethodType.class, descriptor)
                    .invoke(instance, symbol.get(), MethodType.methodType(int.class, long.class), signature);
        } catch (Throwable e) {
            // no incubating foreign module, no native access, or no glibc: nothing to trim with
            return null;
        }
    }
}
