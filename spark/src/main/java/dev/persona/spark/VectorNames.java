package dev.persona.spark;

/** How a job names a vector in its tables: the file's stem ("sycophancy" for .../sycophancy.safetensors). */
final class VectorNames {
    private VectorNames() { }

    static String stem(String location) {
        String n = location.replaceAll("/+$", "");
        n = n.substring(n.lastIndexOf('/') + 1);
        int dot = n.indexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
