package dev.persona.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.persona.api.ChatReply;
import dev.persona.api.ChatRequest;
import dev.persona.api.Steering;
import dev.persona.model.ChatMessage;
import dev.persona.model.GenerationOptions;
import dev.persona.model.PersonaException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * OpenAI's chat-completions and completions shapes, both ways: a request body to a {@link ChatRequest}
 * (types checked field by field, unknown fields ignored as OpenAI clients expect) and replies, stream
 * chunks and errors to JSON. The {@code persona} object of a request carries steer, ablate and
 * monitor; replies echo the steering applied and carry each choice's projections.
 */
final class OpenAiProtocol {
    static final ObjectMapper JSON = new ObjectMapper();
    /** The default reply length when a request names none. */
    static final int DEFAULT_MAX_TOKENS = 256;

    private OpenAiProtocol() { }

    /** What a request asked for beyond the {@link ChatRequest}: streaming and usage in the stream. */
    record Parsed(ChatRequest request, boolean stream, boolean includeUsage, boolean chat) { }

    static JsonNode parseBody(byte[] body) {
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || !n.isObject()) throw ApiError.invalid(null, "the request body must be a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiError.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiError.invalid(null, "the request body could not be read: " + e.getMessage());
        }
    }

    static Parsed parse(JsonNode b, boolean chat, String servedModel) {
        JsonNode model = b.get("model");
        if (model != null && !model.isNull()) {
            if (!model.isTextual()) throw ApiError.wrongType("model", "a string");
            if (!model.asText().equals(servedModel)) {
                throw new ApiError(404, "invalid_request_error", "model", "model_not_found",
                        "The model '" + model.asText() + "' does not exist; this server serves '" + servedModel + "'");
            }
        }
        List<ChatMessage> messages = null;
        String prompt = null;
        if (chat) {
            JsonNode ms = b.get("messages");
            if (ms == null || !ms.isArray()) throw ApiError.wrongType("messages", "an array of {role, content} objects");
            if (ms.isEmpty()) throw ApiError.invalid("messages", "'messages' must hold at least one message");
            messages = new ArrayList<>();
            for (int i = 0; i < ms.size(); i++) messages.add(message(ms.get(i), "messages[" + i + "]"));
        } else {
            JsonNode p = b.get("prompt");
            if (p != null && p.isArray() && p.size() == 1 && p.get(0).isTextual()) p = p.get(0);
            if (p == null || !p.isTextual()) throw ApiError.wrongType("prompt", "a string");
            prompt = p.asText();
            if (prompt.isEmpty()) throw ApiError.invalid("prompt", "'prompt' is empty");
        }
        double temperature = number(b, "temperature", 1.0, 0, 2);
        double topP = number(b, "top_p", 1.0, Double.MIN_VALUE, 1);
        Integer maxTokens = integer(b, "max_completion_tokens");
        if (maxTokens == null) maxTokens = integer(b, "max_tokens");
        if (maxTokens != null && maxTokens < 0) throw ApiError.invalid(b.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", "max_tokens must be 0 or more, got " + maxTokens);
        Integer seed = integer(b, "seed");
        Integer n = integer(b, "n");
        if (n != null && (n < 1 || n > 16)) throw ApiError.invalid("n", "'n' must be between 1 and 16, got " + n);
        List<String> stop = new ArrayList<>();
        JsonNode s = b.get("stop");
        if (s != null && !s.isNull()) {
            if (s.isTextual()) stop.add(s.asText());
            else if (s.isArray()) {
                for (JsonNode x : s) {
                    if (!x.isTextual()) throw ApiError.wrongType("stop", "a string or an array of strings");
                    stop.add(x.asText());
                }
            } else throw ApiError.wrongType("stop", "a string or an array of strings");
            if (stop.size() > 4) throw ApiError.invalid("stop", "at most 4 stop sequences, got " + stop.size());
            if (stop.stream().anyMatch(String::isEmpty)) throw ApiError.invalid("stop", "stop sequences must not be empty");
        }
        int top = -1;
        if (chat) {
            boolean logprobs = bool(b, "logprobs", false);
            Integer tl = integer(b, "top_logprobs");
            if (tl != null && (tl < 0 || tl > 20)) throw ApiError.invalid("top_logprobs", "'top_logprobs' must be between 0 and 20, got " + tl);
            if (tl != null && !logprobs) throw ApiError.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            if (logprobs) top = tl == null ? 0 : tl;
        } else {
            Integer lp = integer(b, "logprobs");
            if (lp != null && (lp < 0 || lp > 5)) throw ApiError.invalid("logprobs", "'logprobs' must be between 0 and 5, got " + lp);
            if (lp != null) top = lp;
        }
        boolean stream = bool(b, "stream", false);
        boolean usage = false;
        JsonNode so = b.get("stream_options");
        if (so != null && so.isObject()) usage = bool(so, "include_usage", false);
        long sd = seed != null ? seed : ThreadLocalRandom.current().nextInt();
        // ignore_eos (as vLLM takes it): generate max_tokens whatever the model says, for benchmarks
        GenerationOptions g = new GenerationOptions(maxTokens == null ? DEFAULT_MAX_TOKENS : maxTokens, temperature, topP, 0, sd,
                bool(b, "ignore_eos", false) ? java.util.Set.of() : null);
        ChatRequest r = new ChatRequest(messages, prompt, g, n == null ? 1 : n, stop, top, List.of(), List.of(), List.of());
        JsonNode p = b.get("persona");
        if (p != null && !p.isNull()) {
            if (!p.isObject()) throw ApiError.wrongType("persona", "an object with steer, ablate and monitor");
            r = r.steer(steers(p.get("steer"))).ablate(names(p.get("ablate"), "persona.ablate")).monitor(names(p.get("monitor"), "persona.monitor"));
        }
        return new Parsed(r, stream, usage, chat);
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (m == null || !m.isObject()) throw ApiError.wrongType(where, "an object with role and content");
        JsonNode role = m.get("role");
        if (role == null || !role.isTextual()) throw ApiError.wrongType(where + ".role", "a string");
        String r = role.asText();
        if (r.equals("developer")) r = "system";
        if (!List.of("system", "user", "assistant").contains(r)) throw ApiError.invalid(where + ".role", "role '" + r + "' is not system, developer, user or assistant");
        JsonNode c = m.get("content");
        String text;
        if (c == null || c.isNull()) text = "";
        else if (c.isTextual()) text = c.asText();
        else if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiError.invalid(where + ".content", "only text content parts are supported");
                }
                sb.append(part.get("text").asText());
            }
            text = sb.toString();
        } else throw ApiError.wrongType(where + ".content", "a string or an array of text parts");
        return new ChatMessage(r, text);
    }

    private static List<ChatRequest.Steer> steers(JsonNode s) {
        List<ChatRequest.Steer> out = new ArrayList<>();
        if (s == null || s.isNull()) return out;
        if (!s.isArray()) throw ApiError.wrongType("persona.steer", "an array of {vector, layer?, coef?, kind?, positions?}");
        for (int i = 0; i < s.size(); i++) {
            JsonNode e = s.get(i);
            String w = "persona.steer[" + i + "]";
            if (!e.isObject()) throw ApiError.wrongType(w, "an object");
            JsonNode v = e.get("vector");
            if (v == null || !v.isTextual()) throw ApiError.wrongType(w + ".vector", "a vector name");
            Integer layer = integer(e, "layer", w + ".layer");
            Double coef = null;
            JsonNode c = e.get("coef");
            if (c != null && !c.isNull()) {
                if (!c.isNumber() || !Double.isFinite(c.asDouble())) throw ApiError.wrongType(w + ".coef", "a finite number");
                coef = c.asDouble();
            }
            String kind = text(e, "kind", w + ".kind");
            if (kind != null && !List.of("response_avg", "prompt_avg", "prompt_last", "ablate").contains(kind)) {
                throw ApiError.invalid(w + ".kind", "kind '" + kind + "' is not response_avg, prompt_avg, prompt_last or ablate");
            }
            String positions = text(e, "positions", w + ".positions");
            if (positions != null && !List.of("response", "prompt", "all").contains(positions)) {
                throw ApiError.invalid(w + ".positions", "positions '" + positions + "' is not response, prompt or all");
            }
            out.add(new ChatRequest.Steer(v.asText(), layer, coef, kind, positions));
        }
        return out;
    }

    private static List<String> names(JsonNode n, String where) {
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) return out;
        if (!n.isArray()) throw ApiError.wrongType(where, "an array of vector names");
        for (JsonNode x : n) {
            if (!x.isTextual()) throw ApiError.wrongType(where, "an array of vector names");
            out.add(x.asText());
        }
        return out;
    }

    private static double number(JsonNode b, String field, double fallback, double lo, double hi) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw ApiError.wrongType(field, "a number");
        double v = n.asDouble();
        if (!(v >= lo && v <= hi)) throw ApiError.invalid(field, "'" + field + "' must be between " + (lo == Double.MIN_VALUE ? "0 (exclusive)" : fmt(lo)) + " and " + fmt(hi) + ", got " + n.asText());
        return v;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static Integer integer(JsonNode b, String field) {
        return integer(b, field, field);
    }

    private static Integer integer(JsonNode b, String field, String where) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw ApiError.wrongType(where, "an integer");
        return n.asInt();
    }

    private static boolean bool(JsonNode b, String field, boolean fallback) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isBoolean()) throw ApiError.wrongType(field, "true or false");
        return n.asBoolean();
    }

    private static String text(JsonNode b, String field, String where) {
        JsonNode n = b.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw ApiError.wrongType(where, "a string");
        return n.asText();
    }

    // ---------------------------------------------------------------- replies

    /** What every reply and stream chunk of one request repeats: its id, creation time (s), model and kind. */
    record Header(String id, long created, String model, boolean chat) {
        ObjectNode start(boolean chunk) {
            ObjectNode o = JSON.createObjectNode();
            String object = !chat ? "text_completion" : chunk ? "chat.completion.chunk" : "chat.completion";
            o.put("id", id).put("object", object).put("created", created).put("model", model);
            o.putArray("choices");
            return o;
        }
    }

    /** A stream chunk extending choice {@code choice} by {@code text} (the chat role on the choice's first chunk). */
    static ObjectNode deltaChunk(Header h, int choice, boolean first, String text, ChatReply.TokenLogprob logprob) {
        ObjectNode chunk = h.start(true);
        ObjectNode ch = ((ArrayNode) chunk.get("choices")).addObject().put("index", choice);
        if (h.chat()) {
            ObjectNode delta = ch.putObject("delta");
            if (first) delta.put("role", "assistant");
            delta.put("content", text);
            if (logprob != null) ch.putObject("logprobs").putArray("content").add(tokenLogprob(logprob));
            else ch.putNull("logprobs");
        } else {
            ch.put("text", text);
            if (logprob != null) ch.set("logprobs", completionLogprobs(List.of(logprob)));
            else ch.putNull("logprobs");
        }
        ch.putNull("finish_reason");
        return chunk;
    }

    /** The last chunk of a choice: its finish reason and monitor projections, and the steering applied. */
    static ObjectNode finalChunk(Header h, ChatReply r, ChatReply.Choice c, boolean first) {
        ObjectNode chunk = h.start(true);
        ObjectNode ch = ((ArrayNode) chunk.get("choices")).addObject().put("index", c.index());
        if (h.chat()) {
            ObjectNode delta = ch.putObject("delta");
            if (first) delta.put("role", "assistant").put("content", "");
        } else {
            ch.put("text", "");
        }
        ch.putNull("logprobs");
        ch.put("finish_reason", reason(c.finishReason()));
        ch.set("persona", choicePersona(c));
        chunk.set("persona", persona(r.applied()));
        return chunk;
    }

    /** The usage chunk (stream_options.include_usage). */
    static ObjectNode usageChunk(Header h, ChatReply r) {
        ObjectNode chunk = h.start(true);
        chunk.set("usage", usage(r));
        return chunk;
    }

    static ObjectNode reply(Header h, ChatReply r) {
        boolean chat = h.chat();
        ObjectNode o = h.start(false);
        ArrayNode choices = (ArrayNode) o.get("choices");
        for (ChatReply.Choice c : r.choices()) {
            ObjectNode ch = choices.addObject();
            ch.put("index", c.index());
            if (chat) {
                ch.putObject("message").put("role", "assistant").put("content", c.text());
                if (c.logprobs() != null) ch.set("logprobs", chatLogprobs(c.logprobs()));
                else ch.putNull("logprobs");
            } else {
                ch.put("text", c.text());
                if (c.logprobs() != null) ch.set("logprobs", completionLogprobs(c.logprobs()));
                else ch.putNull("logprobs");
            }
            ch.put("finish_reason", reason(c.finishReason()));
            ch.set("persona", choicePersona(c));
        }
        o.set("usage", usage(r));
        o.set("persona", persona(r.applied()));
        return o;
    }

    static String reason(String finish) {
        return finish.equals("cancelled") ? "stop" : finish;
    }

    static ObjectNode usage(ChatReply r) {
        ObjectNode u = JSON.createObjectNode();
        u.put("prompt_tokens", r.promptTokens()).put("completion_tokens", r.completionTokens()).put("total_tokens", r.promptTokens() + r.completionTokens());
        return u;
    }

    static ObjectNode persona(List<Steering.Applied> applied) {
        ObjectNode p = JSON.createObjectNode();
        ArrayNode a = p.putArray("steering");
        for (Steering.Applied s : applied) {
            ObjectNode x = a.addObject();
            x.put("trait", s.trait()).put("vector", s.source() == null ? null : java.nio.file.Path.of(s.source()).getFileName().toString())
                    .put("kind", s.kind()).put("layer", s.layer()).put("coef", s.coef()).put("ablate", s.ablate()).put("positions", s.positions());
        }
        return p;
    }

    static ObjectNode choicePersona(ChatReply.Choice c) {
        ObjectNode p = JSON.createObjectNode();
        ObjectNode m = p.putObject("monitor");
        for (Map.Entry<String, ChatReply.Projection> e : c.monitor().entrySet()) {
            ObjectNode x = m.putObject(e.getKey());
            x.put("layer", e.getValue().layer());
            putNumber(x, "prompt_last", e.getValue().promptLast());
            putNumber(x, "response_average", e.getValue().responseAverage());
        }
        return p;
    }

    private static void putNumber(ObjectNode o, String k, double v) {
        if (Double.isFinite(v)) o.put(k, v);
        else o.putNull(k);
    }

    static ObjectNode chatLogprobs(List<ChatReply.TokenLogprob> lps) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode content = o.putArray("content");
        for (ChatReply.TokenLogprob t : lps) content.add(tokenLogprob(t));
        return o;
    }

    static ObjectNode tokenLogprob(ChatReply.TokenLogprob t) {
        ObjectNode x = JSON.createObjectNode();
        x.put("token", t.token()).put("logprob", t.logprob());
        bytes(x, t.token());
        ArrayNode top = x.putArray("top_logprobs");
        for (ChatReply.Alternative a : t.top()) {
            ObjectNode y = top.addObject().put("token", a.token()).put("logprob", a.logprob());
            bytes(y, a.token());
        }
        return x;
    }

    private static void bytes(ObjectNode o, String token) {
        ArrayNode b = o.putArray("bytes");
        for (byte x : token.getBytes(StandardCharsets.UTF_8)) b.add(x & 0xff);
    }

    static ObjectNode completionLogprobs(List<ChatReply.TokenLogprob> lps) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode tokens = o.putArray("tokens"), lp = o.putArray("token_logprobs"), top = o.putArray("top_logprobs"), off = o.putArray("text_offset");
        int offset = 0;
        for (ChatReply.TokenLogprob t : lps) {
            tokens.add(t.token());
            lp.add(t.logprob());
            ObjectNode alt = top.addObject();
            for (ChatReply.Alternative a : t.top()) alt.put(a.token(), a.logprob());
            off.add(offset);
            offset += t.token().length();
        }
        return o;
    }

    static ObjectNode error(ApiError e) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode x = o.putObject("error");
        x.put("message", e.getMessage()).put("type", e.type);
        if (e.param != null) x.put("param", e.param);
        else x.putNull("param");
        if (e.code != null) x.put("code", e.code);
        else x.putNull("code");
        return o;
    }

    /** A library error as the API error a client can act on. */
    static ApiError of(PersonaException e) {
        String msg = e.getMessage().replace("\n  fix: ", " (fix: ") + (e.fix() == null || e.fix().isEmpty() ? "" : ")");
        if (e instanceof dev.persona.model.ContinuousBatcher.QueueFullException) return new ApiError(429, "rate_limit_error", null, "queue_full", msg);
        if (e instanceof dev.persona.model.ContinuousBatcher.ContextExceededException) {
            return new ApiError(400, "invalid_request_error", "messages", "context_length_exceeded", msg);
        }
        if (e instanceof dev.persona.api.VectorShelf.UnknownVectorException) return new ApiError(400, "invalid_request_error", "persona", "unknown_vector", msg);
        return new ApiError(400, "invalid_request_error", null, null, msg);
    }
}
