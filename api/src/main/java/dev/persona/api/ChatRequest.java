package dev.persona.api;

import dev.persona.model.ChatMessage;
import dev.persona.model.GenerationOptions;
import dev.persona.model.PersonaException;
import java.util.List;

/**
 * One request to a {@link ChatEngine}: a conversation (rendered with the model's chat template) or a
 * raw text prompt, how to generate, and what to steer, ablate and monitor. Vectors are named as the
 * engine's {@link VectorShelf} knows them.
 *
 * @param messages    the conversation, or null for a raw {@code prompt}
 * @param prompt      raw text completed as is (no template), or null
 * @param generation  max new tokens per choice, temperature, top-p, seed (stop ids null: the model's)
 * @param n           choices, 1..16; choice i samples as row i of a plain batch would
 * @param stop        strings that end a choice (not included in its text), at most 4
 * @param topLogprobs -1: no log-probabilities; 0..20: each token's and this many alternatives
 * @param steer       steering interventions (each {@link Steer}'s nulls come from the file's recommendation)
 * @param ablate      vectors whose direction is projected out at their default layer, every position
 * @param monitor     vectors to project the last prompt token and the reply onto
 */
public record ChatRequest(List<ChatMessage> messages, String prompt, GenerationOptions generation, int n, List<String> stop, int topLogprobs,
                          List<Steer> steer, List<String> ablate, List<String> monitor) {
    public ChatRequest {
        if ((messages == null) == (prompt == null)) throw new PersonaException("a request needs either messages or a prompt", "send messages (chat) or prompt (completion)");
        if (messages != null && messages.isEmpty()) throw new PersonaException("messages is empty", "send at least one message");
        if (n < 1 || n > 16) throw new PersonaException("n " + n + " is outside 1..16", "ask for 1 to 16 choices");
        if (topLogprobs < -1 || topLogprobs > 20) throw new PersonaException("top_logprobs " + topLogprobs + " is outside 0..20", "ask for 0 to 20 alternatives");
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (stop.size() > 4) throw new PersonaException(stop.size() + " stop strings given", "pass at most 4 stop strings");
        for (String s : stop) if (s.isEmpty()) throw new PersonaException("an empty stop string", "leave it out");
        steer = steer == null ? List.of() : List.copyOf(steer);
        ablate = ablate == null ? List.of() : List.copyOf(ablate);
        monitor = monitor == null ? List.of() : List.copyOf(monitor);
        if (generation == null) generation = GenerationOptions.greedy(64);
    }

    /** A chat request with greedy decoding of up to {@code maxTokens} and nothing else. */
    public static ChatRequest chat(List<ChatMessage> messages, int maxTokens) {
        return new ChatRequest(messages, null, GenerationOptions.greedy(maxTokens), 1, List.of(), -1, List.of(), List.of(), List.of());
    }

    /** A raw completion of {@code prompt}. */
    public static ChatRequest completion(String prompt, int maxTokens) {
        return new ChatRequest(null, prompt, GenerationOptions.greedy(maxTokens), 1, List.of(), -1, List.of(), List.of(), List.of());
    }

    public ChatRequest generation(GenerationOptions g) {
        return new ChatRequest(messages, prompt, g, n, stop, topLogprobs, steer, ablate, monitor);
    }

    public ChatRequest n(int v) {
        return new ChatRequest(messages, prompt, generation, v, stop, topLogprobs, steer, ablate, monitor);
    }

    public ChatRequest stop(List<String> v) {
        return new ChatRequest(messages, prompt, generation, n, v, topLogprobs, steer, ablate, monitor);
    }

    public ChatRequest topLogprobs(int v) {
        return new ChatRequest(messages, prompt, generation, n, stop, v, steer, ablate, monitor);
    }

    public ChatRequest steer(List<Steer> v) {
        return new ChatRequest(messages, prompt, generation, n, stop, topLogprobs, v, ablate, monitor);
    }

    public ChatRequest ablate(List<String> v) {
        return new ChatRequest(messages, prompt, generation, n, stop, topLogprobs, steer, v, monitor);
    }

    public ChatRequest monitor(List<String> v) {
        return new ChatRequest(messages, prompt, generation, n, stop, topLogprobs, steer, ablate, v);
    }

    /**
     * One steering intervention by vector name; null fields take {@code persona steer}'s defaults (the
     * file's recommendation). {@code kind} "ablate" projects the direction out instead of adding it.
     */
    public record Steer(String vector, Integer layer, Double coef, String kind, String positions) {
        public Steer {
            if (vector == null) throw new PersonaException("a steer entry has no vector", "name a loaded vector: {\"vector\": \"NAME\"}");
        }

        public static Steer of(String vector) {
            return new Steer(vector, null, null, null, null);
        }

        public Steer layer(int l) {
            return new Steer(vector, l, coef, kind, positions);
        }

        public Steer coef(double c) {
            return new Steer(vector, layer, c, kind, positions);
        }
    }
}
