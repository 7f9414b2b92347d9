package dev.persona.api;

import dev.persona.model.ChatMessage;
import dev.persona.model.GenerationOptions;
import dev.persona.steer.SteeringPlan;
import java.util.ArrayList;
import java.util.List;

/**
 * A model with steering interventions that are active only inside its calls: every method
 * registers the hooks, generates, and removes them, so the {@link Persona} stays unsteered.
 */
public final class SteeredModel {
    private final Persona model;
    private final List<Steering> steerings;

    SteeredModel(Persona model, List<Steering> steerings) {
        this.model = model;
        this.steerings = List.copyOf(steerings);
    }

    /** The interventions with their defaults filled in. */
    public List<Steering.Applied> applied() {
        return steerings.stream().map(Steering::resolve).toList();
    }

    /** The runtime plan, checked against the model (d_model, layers, and the fingerprint unless {@code force}). */
    SteeringPlan plan(boolean force) {
        SteeringPlan plan = new SteeringPlan();
        for (Steering s : steerings) plan.add(s.toSteer());
        plan.check(model.chatModel().model(), model.fingerprint(), force);
        return plan;
    }

    /** One greedy steered reply of up to 64 tokens. */
    public String chat(String system, String user) {
        return generate(List.of(ChatMessage.prompt(system, user)), GenerationOptions.greedy(64), false).get(0);
    }

    /** Steered replies to many conversations. */
    public List<String> generate(List<List<ChatMessage>> conversations, GenerationOptions options, boolean force) {
        return reply(plan(force), conversations, options);
    }

    /** Replies with {@code plan}'s interventions registered for this call only. */
    private List<String> reply(SteeringPlan plan, List<List<ChatMessage>> conversations, GenerationOptions options) {
        try (AutoCloseable h = plan.apply(model.chatModel().model())) {
            return model.chatModel().reply(conversations, options);
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    /**
     * What {@code persona steer} prints: each prompt (a trailing assistant turn is dropped) answered
     * {@code samples} times unsteered and steered, with the same generation options.
     */
    public SteerResult compare(List<List<ChatMessage>> prompts, SteerOptions o) {
        SteeringPlan plan = plan(o.force());
        List<List<ChatMessage>> expanded = new ArrayList<>();
        for (List<ChatMessage> c : prompts) {
            List<ChatMessage> prompt = new ArrayList<>(c);
            while (!prompt.isEmpty() && prompt.get(prompt.size() - 1).role().equals("assistant")) prompt.remove(prompt.size() - 1);
            for (int s = 0; s < o.samples(); s++) expanded.add(prompt);
        }
        GenerationOptions g = o.generation();
        List<String> base = model.chatModel().reply(expanded, g);
        List<String> steered = reply(plan, expanded, g);
        List<SteerResult.Row> rows = new ArrayList<>();
        for (int i = 0; i < expanded.size(); i++) {
            List<ChatMessage> c = expanded.get(i);
            rows.add(new SteerResult.Row(c.get(c.size() - 1).content(), base.get(i), steered.get(i)));
        }
        return new SteerResult(applied(), rows);
    }

    /** {@link #compare} of one prompt under {@code system}. */
    public SteerResult compare(String system, String user, SteerOptions o) {
        return compare(List.of(ChatMessage.prompt(system, user)), o);
    }
}
