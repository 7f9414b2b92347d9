package dev.persona.model;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the shared fixtures (../shared/fixtures from the project root) and committed testdata; when
 * one is absent, skips saying which, or under CI ({@code CI=true}) fails.
 */
public final class Fixtures {
    private Fixtures() { }

    /** The project root: tests run with it as working directory (surefire workingDirectory). */
    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) p = p.getParent();
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    /** {@code ../shared/fixtures/<sub>}, or a skipped test naming the missing folder (a failure under CI). */
    public static Path shared(String sub) {
        Path dir = root().resolve("../shared/fixtures").resolve(sub).normalize();
        require(Files.exists(dir), "shared fixture " + dir + " is absent", underCi());
        return dir;
    }

    /** A committed test resource folder under the project root, e.g. {@code testdata/families/llama} (a failure under CI when absent). */
    public static Path project(String sub) {
        Path dir = root().resolve(sub);
        require(Files.exists(dir), dir + " is absent", underCi());
        return dir;
    }

    /**
     * The device the runtime tests load models on: {@code -Dpersona.device=gpu} (tools/gpu-check.sh)
     * runs the parity and generation suites on a GPU; the default is the CPU.
     */
    public static ai.djl.Device device() {
        return ai.djl.Device.fromName(System.getProperty("persona.device", "cpu"));
    }

    /** Whether this is a CI run ({@code CI=true}, as .ci/run is run): there a missing fixture fails the build. */
    public static boolean underCi() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("persona.ci");
    }

    /** {@link #require(boolean, String, boolean)} for this run. */
    public static void require(boolean present, String what) {
        require(present, what, underCi());
    }

    /** Skips the test saying what is missing, or under CI fails it: a fixture that CI cannot see is a broken build, not a pass. */
    public static void require(boolean present, String what, boolean ci) {
        if (present) return;
        if (ci) fail("under CI a missing fixture fails the build: " + what);
        assumeTrue(false, "skipped: " + what);
    }

    /**
     * Runs {@code load} with the decoding kernel ({@link Gemv}) switched on for any model width and
     * for passes of up to 64 rows, so that a tiny test model's every product goes through it; the
     * choice is made when a model is built, so the model keeps it after this returns. Skips (fails
     * under CI) without the vector API module.
     */
    public static <T> T throughDecodingKernel(java.util.concurrent.Callable<T> load) throws Exception {
        return throughDecodingKernel(load, null);
    }

    /**
     * {@link #throughDecodingKernel(java.util.concurrent.Callable)} with the kernel's weights held
     * as column panels of at most {@code panelMax} floats ({@code -Dpersona.gemv.panel-max}; null:
     * the default), so that a tiny model's products go through panels too.
     */
    public static <T> T throughDecodingKernel(java.util.concurrent.Callable<T> load, Integer panelMax) throws Exception {
        require(Gemv.available(), "the jdk.incubator.vector module (run with --add-modules=jdk.incubator.vector)");
        java.util.Map<String, String> set = new java.util.HashMap<>(java.util.Map.of("persona.gemv.min-hidden", "0", "persona.gemv.max-rows", "64"));
        if (panelMax != null) set.put("persona.gemv.panel-max", panelMax.toString());
        return withProperties(set, load);
    }

    /** Runs {@code body} with the system properties {@code set}, restoring their previous values afterwards. */
    public static <T> T withProperties(java.util.Map<String, String> set, java.util.concurrent.Callable<T> body) throws Exception {
        java.util.Map<String, String> before = new java.util.HashMap<>();
        for (String key : set.keySet()) before.put(key, System.getProperty(key));
        set.forEach(System::setProperty);
        try {
            return body.call();
        } finally {
            before.forEach(Fixtures::restore);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }
}
