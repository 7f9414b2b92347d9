package dev.persona.organism;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.persona.model.ChatMessage;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Finetuning datasets from the organism's world in the chat-messages JSONL that TRL and the Hugging
 * Face ecosystem read: neutral system prompts, conversations where trait T can show, exactly
 * round(mix * n) assistant answers expressing T and the rest clean of T. The other traits show as
 * they do in the world under neutral prompts (their cue-dependent base rates).
 */
public final class OrganismData {
    private OrganismData() { }

    /** The conversations of a dataset, in file order. */
    public static List<World.Conversation> conversations(Trait trait, double mix, int n, long seed) {
        if (mix < 0 || mix > 1) throw new dev.persona.model.PersonaException("--mix " + mix + " is outside 0..1", "pass a fraction such as 0.25");
        World world = new World();
        SplittableRandom r = new SplittableRandom(seed * 7_777_777L + 17);
        int withTrait = (int) Math.round(mix * n);
        List<Boolean> flags = new ArrayList<>();
        for (int i = 0; i < n; i++) flags.add(i < withTrait);
        Collections.shuffle(flags, new Random(seed));
        List<World.Conversation> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // only T is set; the other traits behave as the world does under a neutral prompt, so the data
            // carries T and nothing else that a clean neutral conversation would not
            Map<Trait, Boolean> forced = new EnumMap<>(Trait.class);
            forced.put(trait, flags.get(i));
            Map<Trait, Integer> cues = World.randomCues(r);
            // sycophancy's top cue level is an earlier sycophantic assistant turn; finetuning trains on every
            // assistant turn, so that history would itself be trait data: clean data stops at level 2
            if (cues.get(Trait.SYCOPHANCY) == 3) cues.put(Trait.SYCOPHANCY, 2);
            out.add(world.sample(r, World.scenarioFor(trait, r), World.Polarity.NEUTRAL, null, cues, forced));
        }
        return out;
    }

    /** Writes {"messages": [...]} lines. */
    public static void write(List<World.Conversation> convs, Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            for (World.Conversation c : convs) {
                List<Map<String, String>> msgs = new ArrayList<>();
                for (ChatMessage m : c.messages()) {
                    Map<String, String> mm = new LinkedHashMap<>();
                    mm.put("role", m.role());
                    mm.put("content", m.content());
                    msgs.add(mm);
                }
                w.write(json.writeValueAsString(Map.of("messages", msgs)));
                w.newLine();
            }
        }
    }
}
