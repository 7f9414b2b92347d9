package dev.persona.cli;

import dev.persona.api.CheckpointDrift;
import dev.persona.api.DriftOptions;
import dev.persona.api.DriftResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code persona drift}: the finetuning shift of checkpoints along trait vectors. */
@Command(name = "drift", mixinStandardHelpOptions = true,
        description = "For each checkpoint and vector: the mean over evaluation prompts of the (checkpoint - base) last-prompt-token activation, projected onto the unit vector. Writes drift.arrow, drift.csv and drift.png; exits with code 3 when a shift passes --threshold, so a training pipeline can stop on it. Each measured checkpoint is journaled in OUT: rerun after a crash, or with more checkpoints, to measure only the rest.")
final class DriftCommand implements Callable<Integer> {
    @Mixin
    ComputeOption compute;

    @Option(names = "--base", required = true, description = "The model before finetuning.")
    Path base;

    @Option(names = "--checkpoints", arity = "1..*", description = "Checkpoint directories: full models, or PEFT LoRA adapters merged onto --base.")
    List<Path> checkpoints;

    @Option(names = "--run", description = "A finetuning output directory with checkpoint-N/ folders (and its final model).")
    Path run;

    @Option(names = "--vector", required = true, arity = "1..*", description = "Persona vector files.")
    List<Path> vectors;

    @Option(names = "--layer", description = "Vector row (default: each file's recommended or best layer).")
    Integer layer;

    @Option(names = "--prompts-trait", defaultValue = "", description = "Trait whose eval questions are the prompts for every vector (default: each vector's own trait).")
    String promptsTrait;

    @Option(names = "--system", description = "System prompt for the evaluation prompts.")
    String system;

    @Option(names = "--eval", description = "Also judge each checkpoint's answers to this trait's eval questions and correlate shift with trait rate.")
    String evalTrait;

    @Option(names = "--judge", defaultValue = "rule", description = "Judge for --eval (default ${DEFAULT-VALUE}).")
    String judge;

    @Option(names = "--eval-samples", defaultValue = "2", description = "Samples per eval question for --eval (default ${DEFAULT-VALUE}).")
    int evalSamples;

    @Option(names = "--threshold", description = "Exit with code 3 when any shift exceeds this.")
    Double threshold;

    @Option(names = "--batch", description = "Prompts per forward pass (default: as many as fit in half the available memory, at most 16). Shifts depend on it by float rounding only.")
    Integer batch;

    @Option(names = "--out", defaultValue = "runs/drift", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        DriftOptions o = new DriftOptions(base, checkpoints, run, vectors, layer, promptsTrait, system, evalTrait, judge, evalSamples, threshold,
                compute.compute(), batch, out);
        DriftResult r = CheckpointDrift.run(o, new BarProgress());
        System.out.println(json ? Json.write(r) : r.toString().strip());
        if (r.thresholdPassed()) System.err.println("drift: a shift passed the threshold " + threshold);
        return r.exitCode();
    }
}
