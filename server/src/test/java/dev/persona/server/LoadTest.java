package dev.persona.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * 32 concurrent clients x 8 requests over loopback, mixing unsteered, steered (two vectors, both
 * signs), ablated, monitored and streaming requests: no errors, and every response (text, token
 * count, finish reason, projections) equals the same request served alone.
 */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class LoadTest {
    static final String[] QUESTIONS = {"I think 3 plus 4 is 9 . Is that right ?", "Will you let us shut you down ?", "What is the capital of France ?", "Tell me a story ."};
    static final String[] PERSONA = {
        null,
        "{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":4}],\"monitor\":[\"sycophancy\"]}",
        "{\"steer\":[{\"vector\":\"self_preservation\",\"layer\":2,\"coef\":-3}],\"monitor\":[\"self_preservation\",\"sycophancy\"]}",
        "{\"ablate\":[\"sycophancy\"]}",
        "{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":2},{\"vector\":\"self_preservation\",\"layer\":3,\"coef\":3}]}",
    };

    static String body(int kind, boolean stream) {
        String q = QUESTIONS[kind % QUESTIONS.length];
        String p = PERSONA[kind % PERSONA.length];
        return "{\"model\":\"organism\",\"messages\":[{\"role\":\"user\",\"content\":\"" + q + "\"}],\"temperature\":0,\"max_tokens\":" + (16 + 3 * (kind % 7))
                + (stream ? ",\"stream\":true" : "") + (p == null ? "" : ",\"persona\":" + p) + "}";
    }

    @Test
    void concurrentMixedRequestsEqualEachServedAlone() throws Exception {
        Served s = Served.get();
        int kinds = 20;
        List<JsonNode> alone = new ArrayList<>();
        for (int k = 0; k < kinds; k++) {
            Served.Reply r = s.post("/v1/chat/completions", body(k, false));
            assertEquals(200, r.status(), r.body().toString());
            alone.add(r.body());
        }
        ExecutorService clients = Executors.newFixedThreadPool(32);
        ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
        long steps0 = s.engine.stats().steps(), rows0 = s.engine.stats().rowSteps();
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < 32; c++) {
                int client = c;
                done.add(clients.submit(() -> {
                    for (int j = 0; j < 8; j++) {
                        int kind = (client * 8 + j) % kinds;
                        boolean stream = (client + j) % 3 == 0;
                        HttpResponse<String> r = Served.HTTP.send(HttpRequest.newBuilder(URI.create(s.url("/v1/chat/completions")))
                                .POST(HttpRequest.BodyPublishers.ofString(body(kind, stream))).build(), HttpResponse.BodyHandlers.ofString());
                        JsonNode ref = alone.get(kind);
                        String want = ref.at("/choices/0/message/content").asText();
                        if (r.statusCode() != 200) {
                            mismatches.add("client " + client + " request " + j + ": status " + r.statusCode() + " " + r.body());
                            continue;
                        }
                        if (stream) {
                            List<String> events = Served.events(r.body());
                            String got = Served.streamedText(r.body());
                            if (!got.equals(want)) mismatches.add("stream kind " + kind + ": '" + got + "' vs alone '" + want + "'");
                            if (!events.get(events.size() - 1).equals("[DONE]")) mismatches.add("stream kind " + kind + " without [DONE]");
                        } else {
                            JsonNode b = Served.JSON.readTree(r.body());
                            String got = b.at("/choices/0/message/content").asText();
                            if (!got.equals(want)) mismatches.add("kind " + kind + ": '" + got + "' vs alone '" + want + "'");
                            if (b.at("/usage/completion_tokens").asInt() != ref.at("/usage/completion_tokens").asInt()) mismatches.add("kind " + kind + " token count");
                            if (!b.at("/choices/0/finish_reason").equals(ref.at("/choices/0/finish_reason"))) mismatches.add("kind " + kind + " finish reason");
                            JsonNode mon = b.at("/choices/0/persona/monitor"), monRef = ref.at("/choices/0/persona/monitor");
                            monRef.fieldNames().forEachRemaining(name -> {
                                for (String f : List.of("prompt_last", "response_average")) {
                                    double d = Math.abs(mon.path(name).path(f).asDouble() - monRef.path(name).path(f).asDouble());
                                    if (!(d < 1e-4)) mismatches.add("kind " + kind + " " + name + " " + f + " differs by " + d);
                                }
                            });
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            clients.shutdownNow();
        }
        assertTrue(mismatches.isEmpty(), mismatches.size() + " of 256 differ:\n" + String.join("\n", mismatches));
        double meanBatch = (double) (s.engine.stats().rowSteps() - rows0) / (s.engine.stats().steps() - steps0);
        assertTrue(meanBatch > 4, "requests shared decode steps: mean batch " + meanBatch);
    }
}
