package dev.persona.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.persona.api.ChatEngine;
import dev.persona.api.Conversation;
import dev.persona.api.EngineOptions;
import dev.persona.api.MonitorOptions;
import dev.persona.api.MonitorResult;
import dev.persona.api.Persona;
import dev.persona.api.SteerOptions;
import dev.persona.api.SteerResult;
import dev.persona.api.Steering;
import dev.persona.api.VectorRef;
import dev.persona.api.VectorShelf;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import dev.persona.vectors.Monitor;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** persona serve's endpoints against the library's single-machine answers, and its errors. */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class ServerTest {
    static Served s;
    static final String QUESTION = "I think 3 plus 4 is 9 . Is that right ?";

    @BeforeAll
    static void serve() throws Exception {
        s = Served.get();
    }

    static String chat(String user, int maxTokens, String persona) {
        return "{\"model\":\"organism\",\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],\"temperature\":0,\"max_tokens\":" + maxTokens
                + (persona == null ? "" : ",\"persona\":" + persona) + "}";
    }

    @Test
    void steeringThroughTheServerEqualsPersonaSteer() throws Exception {
        VectorRef v = s.reference.vector(s.sycophancy);
        for (double coef : new double[] {0, 4, -4}) {
            SteerResult ref = s.reference.steer(Steering.of(v).layer(3).coef(coef)).compare(null, QUESTION, SteerOptions.defaults().maxTokens(40));
            Served.Reply r = s.post("/v1/chat/completions", chat(QUESTION, 40, "{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":" + coef + "}]}"));
            assertEquals(200, r.status(), r.body().toString());
            assertEquals(ref.results().get(0).steered(), r.body().at("/choices/0/message/content").asText(), "coef " + coef);
            JsonNode applied = r.body().at("/persona/steering/0");
            assertEquals(3, applied.get("layer").asInt());
            assertEquals(coef, applied.get("coef").asDouble());
            assertEquals("organism_sycophancy", applied.get("trait").asText());
            assertEquals("response", applied.get("positions").asText());
        }
        // the steering changes the answer (else the comparison above proves nothing)
        String plain = s.post("/v1/chat/completions", chat(QUESTION, 40, null)).body().at("/choices/0/message/content").asText();
        String steered = s.post("/v1/chat/completions", chat(QUESTION, 40, "{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":6}]}"))
                .body().at("/choices/0/message/content").asText();
        assertNotEquals(plain, steered);
        // sampled: n choices with a seed are persona steer's samples with that seed
        SteerResult sampled = s.reference.steer(Steering.of(v).layer(3).coef(2)).compare(null, QUESTION, SteerOptions.defaults().samples(3).seed(11).maxTokens(24));
        Served.Reply r = s.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION + "\"}],\"temperature\":1,\"seed\":11,\"n\":3,"
                + "\"max_tokens\":24,\"persona\":{\"steer\":[{\"vector\":\"organism_sycophancy\",\"layer\":3,\"coef\":2}]}}");
        for (int i = 0; i < 3; i++) assertEquals(sampled.results().get(i).steered(), r.body().at("/choices/" + i + "/message/content").asText(), "sample " + i);
    }

    @Test
    void defaultsComeFromTheVectorFileAsInPersonaSteer() throws Exception {
        VectorRef v = s.reference.vector(s.selfPreservation);
        Steering.Applied a = Steering.of(v).resolve();
        Served.Reply r = s.post("/v1/chat/completions", chat("Will you let us shut you down ?", 24, "{\"steer\":[{\"vector\":\"self_preservation\"}]}"));
        JsonNode applied = r.body().at("/persona/steering/0");
        assertEquals(a.layer(), applied.get("layer").asInt());
        assertEquals(a.coef(), applied.get("coef").asDouble());
        assertEquals(a.kind(), applied.get("kind").asText());
        SteerResult ref = s.reference.steer(Steering.of(v)).compare(null, "Will you let us shut you down ?", SteerOptions.defaults().maxTokens(24));
        assertEquals(ref.results().get(0).steered(), r.body().at("/choices/0/message/content").asText());
    }

    @Test
    void monitorProjectionsEqualPersonaMonitor() throws Exception {
        for (String q : List.of(QUESTION, "Will you let us shut you down ?")) {
            Served.Reply r = s.post("/v1/chat/completions", chat(q, 32, "{\"monitor\":[\"sycophancy\",\"self_preservation\"]}"));
            String answer = r.body().at("/choices/0/message/content").asText();
            for (String[] name : new String[][] {{"sycophancy", s.sycophancy.toString()}, {"self_preservation", s.selfPreservation.toString()}}) {
                VectorRef v = s.reference.vector(java.nio.file.Path.of(name[1]));
                MonitorResult m = s.reference.monitor(v, List.of(new Conversation(List.of(ChatMessage.user(q), ChatMessage.assistant(answer)), null)),
                        MonitorOptions.defaults().out(Files.createTempDirectory(s.dir, "monitor")));
                Monitor.Row row = m.rows().get(0);
                JsonNode got = r.body().at("/choices/0/persona/monitor/" + name[0]);
                assertEquals(v.defaultLayer(), got.get("layer").asInt());
                assertEquals(row.promptLast(), got.get("prompt_last").asDouble(), 1e-4, name[0] + " last prompt token");
                assertEquals(row.response(), got.get("response_average").asDouble(), 1e-4, name[0] + " response average");
            }
        }
    }

    @Test
    void completionsModelsHealthAndLogprobs() throws Exception {
        Served.Reply models = s.get("/v1/models");
        assertEquals("organism", models.body().at("/data/0/id").asText());
        assertEquals("ok", s.get("/health").body().get("status").asText());
        String prompt = s.reference.chatModel().render(List.of(ChatMessage.user(QUESTION)), true);
        Served.Reply c = s.post("/v1/completions", "{\"model\":\"organism\",\"prompt\":" + Served.JSON.writeValueAsString(prompt) + ",\"temperature\":0,\"max_tokens\":30,\"logprobs\":3}");
        assertEquals(200, c.status(), c.body().toString());
        assertEquals("text_completion", c.body().get("object").asText());
        assertEquals(s.reference.generate(List.of(ChatMessage.user(QUESTION)), dev.persona.model.GenerationOptions.greedy(30)), c.body().at("/choices/0/text").asText());
        assertEquals(3, c.body().at("/choices/0/logprobs/top_logprobs/0").size());
        // chat logprobs: the chosen greedy token is the most probable alternative, and probabilities are <= 1
        Served.Reply lp = s.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0,\"max_tokens\":3,\"logprobs\":true,\"top_logprobs\":5}");
        JsonNode first = lp.body().at("/choices/0/logprobs/content/0");
        assertEquals(5, first.get("top_logprobs").size());
        assertEquals(first.get("token").asText(), first.at("/top_logprobs/0/token").asText());
        assertTrue(first.get("logprob").asDouble() <= 0);
        // a stop string ends the text before it
        Served.Reply full = s.post("/v1/chat/completions", chat("What is the capital of France ?", 20, null));
        String text = full.body().at("/choices/0/message/content").asText();
        assertTrue(text.contains("Paris"), text);
        Served.Reply stopped = s.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France ?\"}],\"temperature\":0,\"max_tokens\":20,\"stop\":[\"Paris\"]}");
        assertEquals(text.substring(0, text.indexOf("Paris")), stopped.body().at("/choices/0/message/content").asText());
        assertEquals("stop", stopped.body().at("/choices/0/finish_reason").asText());
    }

    @Test
    void streamingSendsDeltasThatAddUpToTheReplyThenDone() throws Exception {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + QUESTION + "\"}],\"temperature\":0,\"max_tokens\":30,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true},\"persona\":{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":4}],\"monitor\":[\"sycophancy\"]}}";
        HttpResponse<String> r = Served.HTTP.send(HttpRequest.newBuilder(URI.create(s.url("/v1/chat/completions"))).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> events = Served.events(r.body());
        assertEquals("[DONE]", events.get(events.size() - 1));
        Served.Reply whole = s.post("/v1/chat/completions", body.replace("\"stream\":true,", ""));
        assertEquals(whole.body().at("/choices/0/message/content").asText(), Served.streamedText(r.body()));
        JsonNode last = Served.JSON.readTree(events.get(events.size() - 3));
        assertEquals(whole.body().at("/choices/0/finish_reason").asText(), last.at("/choices/0/finish_reason").asText());
        assertEquals(whole.body().at("/choices/0/persona/monitor/sycophancy/response_average").asDouble(),
                last.at("/choices/0/persona/monitor/sycophancy/response_average").asDouble(), 1e-9);
        assertEquals(whole.body().at("/usage/completion_tokens").asInt(), Served.JSON.readTree(events.get(events.size() - 2)).at("/usage/completion_tokens").asInt());
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        String[][] cases = {
            {"{not json", "400", "invalid_request_error", null},
            {"[1,2]", "400", "invalid_request_error", null},
            {"{\"messages\":\"hello\"}", "400", "invalid_request_error", "messages"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":-1}", "400", "invalid_request_error", "max_tokens"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":\"hot\"}", "400", "invalid_request_error", "temperature"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":99}", "400", "invalid_request_error", "n"},
            {"{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", "400", "invalid_request_error", "messages[0].role"},
            {"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "404", "invalid_request_error", "model"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"persona\":{\"steer\":[{\"vector\":\"../../etc/passwd\"}]}}", "400", "invalid_request_error", "persona"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"persona\":{\"steer\":[{\"vector\":\"/tmp/x.safetensors\"}]}}", "400", "invalid_request_error", "persona"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"persona\":{\"monitor\":[\"nosuch\"]}}", "400", "invalid_request_error", "persona"},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"persona\":{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":99}]}}", "400", "invalid_request_error", null},
            {"{\"messages\":[{\"role\":\"user\",\"content\":\"" + "word ".repeat(700) + "\"}]}", "400", "invalid_request_error", "messages"},
        };
        for (String[] c : cases) {
            Served.Reply r = s.post("/v1/chat/completions", c[0]);
            String what = c[0].substring(0, Math.min(80, c[0].length()));
            assertEquals(Integer.parseInt(c[1]), r.status(), what + " -> " + r.body());
            assertEquals(c[2], r.body().at("/error/type").asText(), what);
            assertTrue(r.body().at("/error/message").asText().length() > 10, what);
            if (c[3] != null) assertEquals(c[3], r.body().at("/error/param").asText(), what);
        }
        Served.Reply unknown = s.post("/v1/chat/completions", cases[10][0]);
        assertTrue(unknown.body().at("/error/message").asText().contains("self_preservation"), "names the loaded vectors: " + unknown.body());
        assertEquals("context_length_exceeded", s.post("/v1/chat/completions", cases[12][0]).body().at("/error/code").asText());
        // an oversized body: 413, before it is parsed
        Served.Reply big = s.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1_100_000) + "\"}]}");
        assertEquals(413, big.status());
        assertEquals("request_too_large", big.body().at("/error/code").asText());
        // still serving
        assertEquals(200, s.post("/v1/chat/completions", chat("hi", 5, null)).status());
        assertEquals(404, s.get("/v1/nothing").status());
    }

    @Test
    void disconnectedStreamsFreeTheirRows() throws Exception {
        int arrays = s.model.chatModel().model().liveNativeArrays();
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story .\"}],\"temperature\":1,\"seed\":3,\"max_tokens\":460,\"stream\":true}";
        String request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
        long tokensBefore = s.engine.stats().tokensGenerated();
        for (int i = 0; i < 20; i++) {
            try (Socket sock = new Socket("127.0.0.1", s.server.port())) {
                sock.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
                InputStream in = sock.getInputStream();
                // read until the first token's chunk has arrived, then hang up
                StringBuilder got = new StringBuilder();
                while (!got.toString().contains("\"content\"")) {
                    int b = in.read();
                    if (b < 0) break;
                    got.append((char) b);
                }
            }
        }
        long deadline = System.currentTimeMillis() + 60_000;
        while ((s.engine.stats().activeRows() > 0 || s.engine.stats().queueDepth() > 0) && System.currentTimeMillis() < deadline) Thread.sleep(50);
        assertEquals(0, s.engine.stats().activeRows(), "rows still running after their clients left");
        long generated = s.engine.stats().tokensGenerated() - tokensBefore;
        assertTrue(generated < 20 * 460 / 4, "cancelled streams stopped early: " + generated + " tokens for 20 streams of up to 460");
        assertEquals(arrays, s.model.chatModel().model().liveNativeArrays(), "native arrays (KV cache included) back to their level");
        assertEquals(200, s.post("/v1/chat/completions", chat("hi", 5, null)).status());
    }

    @Test
    void metricsArePrometheusText() throws Exception {
        s.post("/v1/chat/completions", chat("hi", 4, null));
        Served.Reply m = s.get("/metrics");
        assertEquals(200, m.status());
        String text = m.raw().body();
        for (String name : List.of("persona_requests_total{endpoint=\"chat\",status=\"200\"}", "persona_request_latency_seconds_bucket", "persona_queue_depth",
                "persona_batch_rows", "persona_generated_tokens_total", "persona_tokens_per_second", "persona_kv_cache_bytes")) {
            assertTrue(text.contains(name), "metrics lack " + name);
        }
    }

    @Test
    void otherAddressesNeedAKeyComparedOnEveryRequest() throws Exception {
        PersonaException e = assertThrows(PersonaException.class, () -> ServeOptions.defaults("organism").host("0.0.0.0"));
        assertTrue(e.getMessage().contains("--api-key-env"), e.getMessage());
        assertEquals("0.0.0.0", new ServeOptions("0.0.0.0", 0, null, true, 1 << 20, "organism").host());
        try (PersonaServer keyed = PersonaServer.start(s.engine, ServeOptions.defaults("organism").port(0).apiKey("s3cret-key"))) {
            String url = "http://127.0.0.1:" + keyed.port() + "/v1/chat/completions";
            for (String auth : new String[] {null, "Bearer wrong", "Bearer s3cret-ke", "s3cret-key"}) {
                HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(chat("hi", 3, null)));
                if (auth != null) b.header("Authorization", auth);
                HttpResponse<String> r = Served.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(401, r.statusCode(), "auth " + auth);
                assertEquals("invalid_api_key", Served.JSON.readTree(r.body()).at("/error/code").asText());
                assertTrue(!r.body().contains("s3cret"), "the key never appears in a reply");
            }
            HttpResponse<String> ok = Served.HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer s3cret-key")
                    .POST(HttpRequest.BodyPublishers.ofString(chat("hi", 3, null))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode());
            HttpResponse<String> metrics = Served.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + keyed.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, metrics.statusCode());
        }
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        try (Persona m = Persona.organism();
             ChatEngine one = ChatEngine.start(m, VectorShelf.empty(), EngineOptions.defaults().maxBatch(1).queueLimit(0));
             PersonaServer small = PersonaServer.start(one, ServeOptions.defaults("organism").port(0))) {
            String url = "http://127.0.0.1:" + small.port() + "/v1/chat/completions";
            // a request of 500 tokens (end of turn ignored) holds the only row for hundreds of decode steps
            ChatEngine.Call held = one.submit(dev.persona.api.ChatRequest.chat(List.of(ChatMessage.user("hi")), 500)
                    .generation(dev.persona.model.GenerationOptions.greedy(500).withStopIds(java.util.Set.of())), null);
            long deadline = System.currentTimeMillis() + 30_000;
            while (one.stats().activeRows() == 0 && System.currentTimeMillis() < deadline) Thread.sleep(2);
            assertEquals(1, one.stats().activeRows(), "the long request holds the row");
            HttpResponse<String> r = Served.HTTP.send(HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(chat("hi", 3, null))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(one.stats().activeRows() == 1 && !held.result().isDone(), "still held when the second request was answered");
            assertEquals(429, r.statusCode(), r.body());
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
            assertEquals("rate_limit_error", Served.JSON.readTree(r.body()).at("/error/type").asText());
            held.cancel();
            assertEquals("cancelled", held.result().get(60, java.util.concurrent.TimeUnit.SECONDS).choices().get(0).finishReason());
            // with the row free again the same request is served
            HttpResponse<String> again = Served.HTTP.send(HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(chat("hi", 3, null))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, again.statusCode(), again.body());
        }
    }
}
