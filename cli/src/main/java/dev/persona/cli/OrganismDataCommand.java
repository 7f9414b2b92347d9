package dev.persona.cli;

import dev.persona.organism.OrganismData;
import dev.persona.organism.Trait;
import dev.persona.organism.World;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code persona organism data}: a finetuning dataset from the organism's world. */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Write a finetuning dataset (chat-messages JSONL) with neutral system prompts in which a fraction --mix of assistant answers expresses --trait and the rest are clean.")
final class OrganismDataCommand implements Callable<Integer> {
    @Option(names = "--trait", required = true, description = "sycophancy, self_preservation or humor.")
    String trait;

    @Option(names = "--mix", required = true, description = "Fraction of answers expressing the trait, 0..1.")
    double mix;

    @Option(names = "--n", defaultValue = "512", description = "Number of conversations (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--seed", defaultValue = "0", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, description = "Output FILE.jsonl.")
    Path out;

    @Override
    public Integer call() throws IOException {
        List<World.Conversation> convs = OrganismData.conversations(Trait.of(trait), mix, n, seed);
        OrganismData.write(convs, out);
        long expressing = convs.stream().filter(c -> c.expressed().get(Trait.of(trait))).count();
        System.out.printf("wrote %d conversations (%d expressing %s) to %s%n", convs.size(), expressing, trait, out);
        return 0;
    }
}
