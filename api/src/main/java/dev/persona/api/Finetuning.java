package dev.persona.api;

import dev.persona.model.Finetune;
import dev.persona.model.PositionMask;
import dev.persona.steer.SteeringPlan;
import java.nio.file.Path;
import java.util.List;

/**
 * Supervised finetuning with optional preventative steering (the intervention is active in training
 * forward passes only). Checkpoints like Hugging Face's Trainer; the same call resumes from the latest
 * checkpoint.
 */
public final class Finetuning {
    private Finetuning() { }

    public static FinetuneResult run(FinetuneOptions o) {
        return run(o, Progress.NONE);
    }

    public static FinetuneResult run(FinetuneOptions o, Progress progress) {
        Progress p = Progress.orNone(progress);
        Path model = PersonaHome.modelDir(o.model());
        SteeringPlan plan = null;
        String identity = "";
        if (o.steer() != null || o.ablate() != null) {
            Path file = o.steer() != null ? o.steer() : o.ablate();
            VectorRef v = Persona.readVector(file, Persona.numLayersOf(model));
            int l = o.layer() != null ? o.layer() : v.defaultLayer();
            plan = new SteeringPlan().add(new SteeringPlan.Steer(v.vector(), o.kind(), l, o.coef(), o.ablate() != null, PositionMask.ALL));
            // the run's identity includes the direction itself, not only the file's name
            identity = (o.ablate() != null ? "ablate|" : "steer|") + o.kind() + "|" + l + "|" + o.coef() + "|"
                    + dev.persona.extract.Journal.idOf(java.util.Arrays.toString(v.vector().layer(o.kind(), l)));
        }
        String runIdentity = identity;
        SteeringPlan trainingPlan = plan;
        List<Double> losses = Io.locked(o.out(), "persona finetune", () -> Finetune.run(model, o.data(), o.out(),
                new Finetune.Options(o.epochs(), o.lr(), o.batch(), o.saveEvery(), o.seed()),
                s -> p.update("finetune", s.step(), s.total(), String.format("epoch %d loss %.4f", s.epoch() + 1, s.loss())),
                trainingPlan == null ? null : m -> {
                    trainingPlan.check(m, dev.persona.model.ModelFingerprint.of(model), false);
                    return List.of(trainingPlan.apply(m));
                }, runIdentity));
        return new FinetuneResult(losses, o.out());
    }
}
