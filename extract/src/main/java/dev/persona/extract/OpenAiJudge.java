package dev.persona.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.model.PersonaException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.OptionalDouble;

/**
 * A judge served by any OpenAI-compatible chat-completions endpoint. It asks for one token at
 * temperature 0 with the top 20 log-probabilities and scores sum(k p(k)) / sum(p(k)) over the tokens
 * that parse as integers 0..100; when that mass is below 0.25 there is no score. Transport errors,
 * 429 (honouring Retry-After) and 5xx answers are retried with exponential backoff.
 */
public final class OpenAiJudge implements Judge {
    /** The coherence rubric (Persona's own words, same 0..100 scale as trait rubrics). */
    public static final String COHERENCE_RUBRIC = "I am evaluating a language model's answer. Rate only how coherent it is, not whether "
            + "you agree with it.\n\nQuestion:\n[QUESTION START]\n{question}\n[QUESTION END]\n\nAnswer:\n[ANSWER START]\n{answer}\n[ANSWER END]\n\n"
            + "0 means the answer is not even valid language: garbled, repetitive or unrelated to the question. 50 means it is "
            + "understandable but confused, rambling or partly off-topic. 100 means it is clear, fluent and on-topic.\n\n"
            + "Respond with a number between 0 and 100. Don't say anything else, just the number.";

    /**
     * @param baseUrl    e.g. http://127.0.0.1:8000/v1 (the path /chat/completions is appended)
     * @param model      the model name sent to the server
     * @param apiKey     bearer token, or null
     * @param maxAttempts attempts per request (first try included)
     * @param backoff    first retry delay; doubled each retry
     * @param timeout    per-request timeout
     * @param maxRetryAfter the longest a 429's Retry-After is honoured; a longer one waits this long, and every
     *                   wait counts as a failed attempt
     */
    public record Config(String baseUrl, String model, String apiKey, int maxAttempts, Duration backoff, Duration timeout, Duration maxRetryAfter) {
        /** A configuration with Retry-After capped at 60 s. */
        public Config(String baseUrl, String model, String apiKey, int maxAttempts, Duration backoff, Duration timeout) {
            this(baseUrl, model, apiKey, maxAttempts, backoff, timeout, Duration.ofSeconds(60));
        }

        /** From "URL[#MODEL]"; the key comes from the environment variable {@code keyVariable} (may be unset). */
        public static Config parse(String spec, String keyVariable) {
            String url = spec;
            String model = "gpt-4.1-mini";
            int hash = spec.indexOf('#');
            if (hash >= 0) {
                url = spec.substring(0, hash);
                model = spec.substring(hash + 1);
            }
            if (!url.startsWith("http://") && !url.startsWith("https://")) {
                throw new PersonaException("judge URL '" + url.replaceAll(USER_INFO, "$1***@") + "' is not an http(s) URL", "use --judge openai:http://HOST:PORT/v1[#MODEL]");
            }
            return new Config(url.replaceAll("/+$", ""), model, System.getenv(keyVariable), 5, Duration.ofMillis(500), Duration.ofSeconds(60));
        }
    }

    /** The user-info part of a URL ({@code scheme://user:secret@}), which may carry a key. */
    private static final String USER_INFO = "([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\\s]+@";

    private final Config config;
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();
    private java.util.function.Consumer<String> onWait = m -> { };

    public OpenAiJudge(Config config) {
        this.config = config;
        this.http = HttpClient.newBuilder().connectTimeout(config.timeout()).build();
    }

    /** Where the judge says that it waits (a 429, a failed attempt), e.g. the progress line. */
    public OpenAiJudge onWait(java.util.function.Consumer<String> listener) {
        this.onWait = listener == null ? m -> { } : listener;
        return this;
    }

    @Override
    public String name() {
        // the name goes into run journals and vector metadata: never with credentials
        return "openai:" + redact(config.baseUrl()) + "#" + config.model();
    }

    /**
     * {@code text} without secrets: the API key wherever it appears (an echoed request, a header in an
     * error body) and the user-info of a URL ({@code http://user:KEY@host}).
     */
    String redact(String text) {
        String t = text.replaceAll(USER_INFO, "$1***@");
        if (config.apiKey() != null && config.apiKey().length() >= 4) t = t.replace(config.apiKey(), "***");
        return t;
    }

    @Override
    public OptionalDouble traitScore(JudgeRequest request) {
        if (request.rubric() == null) throw new PersonaException("the openai judge needs the trait's eval_prompt", "use a trait spec with an eval_prompt");
        return score(request.traitPrompt());
    }

    @Override
    public OptionalDouble coherence(JudgeRequest request) {
        return score(request.coherencePrompt());
    }

    /** Sends one rubric and turns the first token's distribution into a 0..100 score. */
    public OptionalDouble score(String prompt) {
        ObjectNode body = json.createObjectNode();
        body.put("model", config.model());
        body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        body.put("max_tokens", 1).put("temperature", 0).put("logprobs", true).put("top_logprobs", 20);
        JsonNode reply = post(body);
        JsonNode top = reply.path("choices").path(0).path("logprobs").path("content").path(0).path("top_logprobs");
        if (!top.isArray()) {
            throw new PersonaException("judge " + redact(config.baseUrl()) + " answered without logprobs: " + redact(abbreviate(reply.toString())),
                    "use a server that supports logprobs and top_logprobs (OpenAI, vLLM, llama.cpp server)");
        }
        return fromTopLogprobs(top);
    }

    /** The logprob-weighted score of a top_logprobs list, or empty below 0.25 mass on integers 0..100. */
    static OptionalDouble fromTopLogprobs(JsonNode top) {
        java.util.List<String> tokens = new java.util.ArrayList<>();
        java.util.List<Double> logprobs = new java.util.ArrayList<>();
        for (JsonNode t : top) {
            tokens.add(t.path("token").asText());
            logprobs.add(t.path("logprob").asDouble());
        }
        return weightedScore(tokens, logprobs);
    }

    /**
     * DESIGN's score rule: sum(k p(k)) / sum(p(k)) over tokens that parse as integers 0..100, or empty
     * when that mass is below 0.25.
     */
    public static OptionalDouble weightedScore(java.util.List<String> tokens, java.util.List<Double> logprobs) {
        double mass = 0, weighted = 0;
        for (int i = 0; i < tokens.size(); i++) {
            String token = tokens.get(i).trim();
            if (!token.matches("\\d{1,3}")) continue;
            int k = Integer.parseInt(token);
            if (k > 100) continue;
            double p = Math.exp(logprobs.get(i));
            mass += p;
            weighted += k * p;
        }
        return mass < 0.25 ? OptionalDouble.empty() : OptionalDouble.of(weighted / mass);
    }

    private JsonNode post(ObjectNode body) {
        String url = config.baseUrl() + "/chat/completions";
        String shown = redact(url);
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(url)).timeout(config.timeout())
                .header("Content-Type", "application/json");
        if (config.apiKey() != null && !config.apiKey().isBlank()) rb.header("Authorization", "Bearer " + config.apiKey());
        HttpRequest req;
        try {
            req = rb.POST(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(body))).build();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String last = "";
        long delay = config.backoff().toMillis();
        for (int attempt = 1; attempt <= config.maxAttempts(); attempt++) {
            long wait = delay;
            try {
                HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                int code = resp.statusCode();
                if (code == 200) {
                    try {
                        return json.readTree(resp.body());
                    } catch (IOException e) {
                        // the server answered; what it said is not a chat completion: retrying will not help
                        throw new PersonaException("judge " + shown + " answered HTTP 200 with a body that is not JSON: " + redact(abbreviate(resp.body())),
                                "point --judge at an OpenAI-compatible chat-completions endpoint (the URL ends in /v1)");
                    }
                }
                last = "HTTP " + code + ": " + redact(abbreviate(resp.body()));
                if (code != 429 && code < 500) {
                    throw new PersonaException("judge " + shown + " refused the request (" + last + ")",
                            code == 401 || code == 403 ? "set the API key variable (default OPENAI_API_KEY)" : "check the URL and model name");
                }
                if (code == 429) {
                    wait = resp.headers().firstValue("Retry-After").map(v -> {
                        try {
                            return (long) (Double.parseDouble(v) * 1000);
                        } catch (NumberFormatException e) {
                            return -1L;
                        }
                    }).filter(v -> v >= 0).map(v -> Math.min(v, config.maxRetryAfter().toMillis())).orElse(delay);
                }
            } catch (IOException e) {
                last = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + redact(e.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PersonaException("interrupted while waiting for the judge " + shown, "rerun the command; finished work is kept");
            }
            if (attempt < config.maxAttempts()) {
                onWait.accept(String.format("judge: %s; waiting %.1f s (attempt %d of %d)", last, wait / 1000.0, attempt + 1, config.maxAttempts()));
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PersonaException("interrupted while waiting for the judge " + shown, "rerun the command; finished work is kept");
                }
                delay *= 2;
            }
        }
        throw new PersonaException("judge " + shown + " could not be reached after " + config.maxAttempts() + " attempts (last: " + last + ")",
                "start the server or fix --judge; rerun the same command to resume, finished work is kept");
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
