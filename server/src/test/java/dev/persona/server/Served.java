package dev.persona.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.api.ChatEngine;
import dev.persona.api.EngineOptions;
import dev.persona.api.ExtractOptions;
import dev.persona.api.Persona;
import dev.persona.api.VectorShelf;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The organism served once per test JVM: two vectors extracted from it (sycophancy and
 * self-preservation, one sample per question, so it takes seconds), a {@link ChatEngine} and a server
 * on a free loopback port. A second, independent {@link Persona} computes the single-machine answers
 * the server is compared with.
 */
final class Served {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static Served instance;

    final Path dir;
    final Path sycophancy;
    final Path selfPreservation;
    final Persona model;
    final ChatEngine engine;
    final PersonaServer server;
    /** For reference answers: not shared with the engine's thread. */
    final Persona reference;

    private Served() throws IOException {
        dir = Files.createTempDirectory("persona-serve-test");
        reference = Persona.organism();
        sycophancy = reference.extract("organism_sycophancy", ExtractOptions.defaults().samples(1).maxTokens(32).out(dir.resolve("syc"))).vectorFile();
        selfPreservation = reference.extract("organism_self_preservation", ExtractOptions.defaults().samples(1).maxTokens(32).out(dir.resolve("sp"))).vectorFile();
        Path vectors = Files.createDirectories(dir.resolve("vectors"));
        Files.copy(sycophancy, vectors.resolve("sycophancy.safetensors"));
        Files.copy(selfPreservation, vectors.resolve("self_preservation.safetensors"));
        model = Persona.organism();
        engine = ChatEngine.start(model, VectorShelf.load(model, List.of(vectors)), EngineOptions.defaults().maxBatch(16).queueLimit(256));
        server = PersonaServer.start(engine, ServeOptions.defaults("organism").port(0));
    }

    static synchronized Served get() throws IOException {
        if (instance == null) instance = new Served();
        return instance;
    }

    String url(String path) {
        return "http://127.0.0.1:" + server.port() + path;
    }

    /** Status and parsed body of a POST. */
    record Reply(int status, JsonNode body, HttpResponse<String> raw) { }

    Reply post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url(path))).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), JSON.readTree(r.body()), r);
    }

    Reply get(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url(path))).GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = r.body().startsWith("{") ? JSON.readTree(r.body()) : null;
        return new Reply(r.statusCode(), body, r);
    }

    /** The data lines of a server-sent event stream, [DONE] included. */
    static List<String> events(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line.substring(6));
        return out;
    }

    /** The concatenated content deltas of choice 0 of a chat stream. */
    static String streamedText(String body) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String e : events(body)) {
            if (e.equals("[DONE]")) continue;
            JsonNode c = JSON.readTree(e).path("choices").path(0);
            sb.append(c.path("delta").path("content").asText(""));
        }
        return sb.toString();
    }
}
