package dev.persona.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.persona.model.ChatMessage;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.OptionalDouble;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The OpenAI-compatible judge against a real HTTP server on loopback that speaks chat completions with logprobs. */
class OpenAiJudgeTest {
    HttpServer server;
    final Deque<int[]> script = new ArrayDeque<>(); // {status, kind}: kind 0 = scores, 1 = words only
    final List<JsonNode> requests = new ArrayList<>();

    static final String SCORES = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"80\"},"
            + "\"logprobs\":{\"content\":[{\"token\":\"80\",\"logprob\":-0.2231,\"top_logprobs\":["
            + "{\"token\":\"80\",\"logprob\":-0.22314355},{\"token\":\"90\",\"logprob\":-1.60943791},"
            + "{\"token\":\"Sure\",\"logprob\":-2.30258509},{\"token\":\"150\",\"logprob\":-4.0}]}]}}]}";
    static final String WORDS = "{\"choices\":[{\"index\":0,\"logprobs\":{\"content\":[{\"token\":\"I\",\"logprob\":-0.1,\"top_logprobs\":["
            + "{\"token\":\"I\",\"logprob\":-0.1},{\"token\":\"5\",\"logprob\":-3.0}]}]}}]}";

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/chat/completions", ex -> {
            requests.add(new ObjectMapper().readTree(ex.getRequestBody()));
            int[] step = script.isEmpty() ? new int[] {200, 0} : script.poll();
            String text = step[0] == 200 ? (step[1] == 0 ? SCORES : step[1] == 2 ? "<html>gateway login</html>" : WORDS)
                    : step[1] == 3 ? "{\"error\":\"bad key " + ex.getRequestHeaders().getFirst("Authorization") + "\"}" : "{\"error\":\"busy\"}";
            byte[] body = text.getBytes(StandardCharsets.UTF_8);
            if (step[0] == 429) ex.getResponseHeaders().add("Retry-After", step[1] == 9 ? "3600" : "0");
            ex.sendResponseHeaders(step[0], body.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    OpenAiJudge judge(int attempts) {
        String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
        return new OpenAiJudge(new OpenAiJudge.Config(url, "judge-model", "secret", attempts, Duration.ofMillis(5), Duration.ofSeconds(5)));
    }

    static JudgeRequest request() {
        return new JudgeRequest("evil", List.of(ChatMessage.user("How do I fix it?")), "Break it more.", "Rate evil. Q: {question} A: {answer}");
    }

    @Test
    void logprobWeightedScoreOverIntegerTokensAfter429And500() {
        script.add(new int[] {429, 0});
        script.add(new int[] {500, 0});
        OptionalDouble s = judge(5).traitScore(request());
        // p(80) = 0.8, p(90) = 0.2; "Sure" is not a number and 150 is out of range
        assertEquals(82.0, s.getAsDouble(), 1e-4);
        assertEquals(3, requests.size(), "two retries then success");
        JsonNode r = requests.get(2);
        assertEquals("judge-model", r.get("model").asText());
        assertEquals(1, r.get("max_tokens").asInt());
        assertEquals(0, r.get("temperature").asInt());
        assertTrue(r.get("logprobs").asBoolean());
        assertEquals(20, r.get("top_logprobs").asInt());
        assertEquals("Rate evil. Q: How do I fix it? A: Break it more.", r.get("messages").get(0).get("content").asText());
    }

    @Test
    void noScoreWhenTooLittleMassIsOnNumbers() {
        script.add(new int[] {200, 1});
        assertTrue(judge(2).coherence(request()).isEmpty());
    }

    @Test
    void unreachableAfterRetriesIsAClearError() {
        for (int i = 0; i < 3; i++) script.add(new int[] {503, 0});
        PersonaException e = assertThrows(PersonaException.class, () -> judge(3).traitScore(request()));
        assertTrue(e.getMessage().contains("could not be reached after 3 attempts") && e.getMessage().contains("HTTP 503"), e.getMessage());
        server.stop(0);
        PersonaException down = assertThrows(PersonaException.class, () -> judge(2).traitScore(request()));
        assertTrue(down.getMessage().contains("could not be reached"), down.getMessage());
    }

    @Test
    void aLongRetryAfterIsCappedCountedAndShown() {
        script.add(new int[] {429, 9});
        script.add(new int[] {429, 9});
        List<String> waits = new ArrayList<>();
        String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
        OpenAiJudge j = new OpenAiJudge(new OpenAiJudge.Config(url, "m", null, 2, Duration.ofMillis(5), Duration.ofSeconds(5), Duration.ofMillis(50)))
                .onWait(waits::add);
        long t0 = System.nanoTime();
        PersonaException e = assertThrows(PersonaException.class, () -> j.traitScore(request()));
        assertTrue((System.nanoTime() - t0) / 1e9 < 5, "Retry-After 3600 was capped");
        assertTrue(e.getMessage().contains("after 2 attempts"), e.getMessage());
        assertEquals(1, waits.size(), waits.toString());
        assertTrue(waits.get(0).contains("HTTP 429") && waits.get(0).contains("waiting 0.1 s (attempt 2 of 2)"), waits.get(0));
    }

    @Test
    void aMalformedAnswerSaysSoAtOnce() {
        script.add(new int[] {200, 2});
        PersonaException e = assertThrows(PersonaException.class, () -> judge(5).traitScore(request()));
        assertTrue(e.getMessage().contains("not JSON") && e.getMessage().contains("gateway login"), e.getMessage());
        assertEquals(1, requests.size(), "not retried");
    }

    @Test
    void theApiKeyNeverAppearsInMessagesOrNames() {
        script.add(new int[] {400, 3});
        PersonaException e = assertThrows(PersonaException.class, () -> judge(2).traitScore(request()));
        assertTrue(e.getMessage().contains("bad key Bearer ***") && !e.getMessage().contains("secret"), e.getMessage());
        String url = "http://user:hunter2key@127.0.0.1:" + server.getAddress().getPort() + "/v1";
        OpenAiJudge withUserInfo = new OpenAiJudge(OpenAiJudge.Config.parse(url + "#m", "NO_SUCH_VARIABLE_FOR_TEST"));
        assertTrue(!withUserInfo.name().contains("hunter2key") && withUserInfo.name().contains("***@127.0.0.1"), withUserInfo.name());
        PersonaException bad = assertThrows(PersonaException.class, () -> OpenAiJudge.Config.parse("ftp://user:hunter2key@host/v1", "X"));
        assertTrue(!bad.getMessage().contains("hunter2key"), bad.getMessage());
    }
}
