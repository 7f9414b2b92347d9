package dev.persona.api;

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
 * Vector files loaded once and addressed by name: each file answers to its file stem and to the trait
 * in its metadata (when no other file claims that name). A server's requests name vectors only, so
 * a path or an unknown name is refused with the list of names there are.
 */
public final class VectorShelf {
    private final Map<String, VectorRef> byName;
    private final List<String> stems;

    private VectorShelf(Map<String, VectorRef> byName, List<String> stems) {
        this.byName = byName;
        this.stems = stems;
    }

    /** No vectors. */
    public static VectorShelf empty() {
        return new VectorShelf(Map.of(), List.of());
    }

    /**
     * Reads every vector file in {@code sources} (files, or folders whose vector files are read, not
     * recursively), each checked against {@code model}'s layers and width.
     */
    public static VectorShelf load(Persona model, List<Path> sources) {
        List<Path> files = new ArrayList<>();
        for (Path s : sources) {
            if (Files.isDirectory(s)) {
                try (Stream<Path> list = Files.list(s)) {
                    list.filter(VectorShelf::looksLikeVector).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new PersonaException("cannot list vector folder " + s + ": " + e.getMessage(), "check the path and its permissions");
                }
            } else {
                files.add(s);
            }
        }
        Map<String, VectorRef> byName = new LinkedHashMap<>();
        List<String> stems = new ArrayList<>();
        for (Path f : files) {
            VectorRef v = model.vector(f);
            if (v.vector().dModel() != model.dModel()) {
                throw new PersonaException(f + " has d_model " + v.vector().dModel() + " but the model has " + model.dModel(), "load vectors extracted from this model");
            }
            String stem = stem(f);
            if (byName.containsKey(stem)) {
                throw new PersonaException("two vector files are both named '" + stem + "' (" + byName.get(stem).file() + " and " + f + ")",
                        "rename one of them: requests address vectors by file stem");
            }
            byName.put(stem, v);
            stems.add(stem);
        }
        // the trait name is an alias where it is unambiguous and not some file's stem
        Map<String, List<VectorRef>> byTrait = new LinkedHashMap<>();
        for (String s : stems) byTrait.computeIfAbsent(byName.get(s).trait(), k -> new ArrayList<>()).add(byName.get(s));
        byTrait.forEach((trait, refs) -> {
            if (!trait.isEmpty() && refs.size() == 1 && !byName.containsKey(trait)) byName.put(trait, refs.get(0));
        });
        return new VectorShelf(byName, List.copyOf(stems));
    }

    private static boolean looksLikeVector(Path p) {
        String n = p.getFileName().toString();
        return Files.isRegularFile(p) && (n.endsWith(".safetensors") || n.endsWith(".gguf") || n.endsWith(".pt") || n.endsWith(".svec")
                || n.endsWith(".npy") || n.endsWith(".json") && !n.endsWith("report.json"));
    }

    /** A vector file's name in requests: its file name up to the first dot ("sycophancy" for sycophancy.safetensors). */
    public static String stem(Path f) {
        String n = f.getFileName().toString();
        int dot = n.indexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    /** A request named a vector that is not loaded (or gave a path instead of a name). */
    public static final class UnknownVectorException extends PersonaException {
        UnknownVectorException(String problem, String fix) {
            super(problem, fix);
        }
    }

    /** The vector called {@code name}; a path-like or unknown name is refused, naming the loaded vectors. */
    public VectorRef get(String name) {
        if (name == null || name.isEmpty() || name.contains("/") || name.contains("\\") || name.contains("..")) {
            throw new UnknownVectorException("vector '" + name + "' is not a name: vectors are referenced by name, not by path; loaded: " + names(),
                    "use one of the loaded names");
        }
        VectorRef v = byName.get(name);
        if (v == null) throw new UnknownVectorException("no vector named '" + name + "' is loaded; loaded: " + names(), "use one of the loaded names, or start the server with --vectors FILE");
        return v;
    }

    /** Every name a request may use: file stems first, then trait aliases. */
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    /** One entry per file: its stem and vector. */
    public Map<String, VectorRef> files() {
        Map<String, VectorRef> m = new LinkedHashMap<>();
        for (String s : stems) m.put(s, byName.get(s));
        return m;
    }
}
