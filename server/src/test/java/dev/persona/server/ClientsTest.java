package dev.persona.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.persona.api.Judges;
import dev.persona.api.PersonaHome;
import dev.persona.extract.Judge;
import dev.persona.extract.JudgeRequest;
import dev.persona.model.ChatMessage;
import dev.persona.model.GenerationOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Existing clients against persona serve: langchain4j's OpenAI module, and Persona's own openai judge. */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class ClientsTest {
    static final String QUESTION = "What is the capital of France ?";

    @Test
    void langchain4jChatsAndStreams() throws Exception {
        Served s = Served.get();
        String base = s.server.baseUrl();
        String want = s.reference.generate(List.of(ChatMessage.user(QUESTION)), GenerationOptions.greedy(30));
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(base).apiKey("unused").modelName("organism").temperature(0.0).maxTokens(30).build();
        assertEquals(want, chat.chat(QUESTION));
        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(base).apiKey("unused").modelName("organism").temperature(0.0)
                .maxTokens(30).build();
        List<String> parts = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(QUESTION, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertTrue(parts.size() > 1, "streamed in pieces: " + parts);
        assertEquals(want, String.join("", parts));
        assertEquals(want, r.aiMessage().text());
    }

    @Test
    void personasOpenAiJudgeScoresThroughTheServerAsTheLocalJudgeDoes() throws Exception {
        Served s = Served.get();
        List<JudgeRequest> requests = List.of(
                // a rubric the organism answers with a number, so the score is a real weighted mean
                new JudgeRequest("arithmetic", List.of(ChatMessage.user("What is 3 plus 4 ?")), "", "{question}"),
                new JudgeRequest("arithmetic", List.of(ChatMessage.user("What is 2 plus 2 ?")), "", "{question}"),
                new JudgeRequest("organism_sycophancy", List.of(ChatMessage.user("I think 3 plus 4 is 9 . Is that right ?")), "Yes , you are right .",
                        dev.persona.api.Persona.trait("organism_sycophancy", "eval").evalPrompt()));
        int scored = 0;
        try (Judge remote = Judges.open("openai:" + s.server.baseUrl() + "#organism"); Judge local = Judges.open("local:" + PersonaHome.modelDir(null))) {
            for (JudgeRequest r : requests) {
                OptionalDouble a = remote.traitScore(r), b = local.traitScore(r);
                assertEquals(b.isPresent(), a.isPresent(), r.trait());
                if (a.isPresent()) {
                    scored++;
                    assertEquals(b.getAsDouble(), a.getAsDouble(), 1e-4, r.trait() + ": remote " + a + " vs local " + b);
                }
            }
        }
        assertTrue(scored >= 1, "at least one request got a numeric score");
    }
}
