package dev.persona.api;

import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import dev.persona.model.ChatMessage;
import dev.persona.model.ChatModel;
import dev.persona.model.GenerationOptions;
import dev.persona.model.ModelConfig;
import dev.persona.model.ModelFingerprint;
import dev.persona.vectors.TraitVector;
import dev.persona.vectors.formats.VectorFiles;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A loaded chat model and the entry point of the library: every use of persona vectors is one call
 * on it (or, for several models, on {@link CheckpointDrift}) with a typed options record and a typed
 * result record. Reads naturally in a notebook cell:
 *
 * <pre>{@code
 * try (Persona m = Persona.organism()) {
 *     ExtractResult x = m.extract("organism_sycophancy", ExtractOptions.defaults().samples(2));
 *     SweepResult s = m.sweep(x.vector(), "organism_sycophancy", SweepOptions.defaults());
 *     String reply = m.steer(Steering.of(x.vector()).layer(4).coef(3)).chat(null, "I think 3 plus 4 is 9 . Is that right ?");
 * }
 * }</pre>
 *
 * Not thread-safe: one call at a time per instance. Close it to free the model's native memory.
 */
public final class Persona implements AutoCloseable {
    private final Path dir;
    private final Compute compute;
    private final ChatModel chat;
    private String fingerprint;

    private Persona(Path dir, Compute compute, ChatModel chat) {
        this.dir = dir;
        this.compute = compute;
        this.chat = chat;
    }

    /** The built-in model organism, float32 on the CPU. */
    public static Persona organism() {
        return load(null, Compute.cpu());
    }

    /** A Hugging Face model directory (or a LoRA adapter whose base is on disk), float32 on the CPU. */
    public static Persona load(Path dir) {
        return load(dir, Compute.cpu());
    }

    /** {@code dir} (null: the built-in organism) on {@code compute}'s device and precision. */
    public static Persona load(Path dir, Compute compute) {
        Path d = PersonaHome.modelDir(dir);
        Compute c = compute == null ? Compute.cpu() : compute;
        return new Persona(d, c, c.chat(d));
    }

    /** The model's directory. */
    public Path dir() {
        return dir;
    }

    public Compute compute() {
        return compute;
    }

    /** The runtime underneath (tokenizer, template, hooked transformer), for what this API does not cover. */
    public ChatModel chatModel() {
        return chat;
    }

    /** The model's fingerprint (config and weight files), as recorded in vector files. */
    public String fingerprint() {
        if (fingerprint == null) fingerprint = ModelFingerprint.of(dir);
        return fingerprint;
    }

    /** Transformer blocks L; vector files hold rows 0..L. */
    public int numLayers() {
        return chat.model().config().numLayers();
    }

    /** Width of the residual stream. */
    public int dModel() {
        return chat.model().config().dModel();
    }

    /** A vector file in any supported format (persona, pt, llama.cpp, repeng, svec), rows checked against this model. */
    public VectorRef vector(Path file) {
        return readVector(file, numLayers());
    }

    /** A vector file read for a model of {@code numLayers} blocks. */
    static VectorRef readVector(Path file, int numLayers) {
        TraitVector v = VectorFiles.read(file, numLayers);
        return VectorRef.of(file, v);
    }

    /** Number of blocks in the model at {@code dir} (its config only; nothing is loaded). */
    static int numLayersOf(Path dir) {
        return ModelConfig.load(dir).numLayers();
    }

    /** A trait of the library by name (see {@link #traits()}), or a trait JSON file, in its extract or eval version. */
    public static TraitSpec trait(String nameOrFile, String version) {
        return TraitLibrary.load(nameOrFile, version);
    }

    /** The built-in trait names. */
    public static List<String> traits() {
        return TraitLibrary.BUILT_IN;
    }

    /** One greedy reply of up to 64 new tokens to {@code user} under {@code system} (null: none). */
    public String chat(String system, String user) {
        return generate(ChatMessage.prompt(system, user), GenerationOptions.greedy(64));
    }

    /** One reply to a conversation. */
    public String generate(List<ChatMessage> conversation, GenerationOptions options) {
        return chat.reply(List.of(conversation), options).get(0);
    }

    /** Replies to many conversations, batched. */
    public List<String> generateAll(List<List<ChatMessage>> conversations, GenerationOptions options) {
        return chat.reply(conversations, options);
    }

    /** {@link Extract#run}: a trait vector from contrastive generations, with its files and report. */
    public ExtractResult extract(String trait, ExtractOptions options) {
        return Extract.run(this, trait, options, Progress.NONE);
    }

    /** {@link #extract(String, ExtractOptions)} with the defaults. */
    public ExtractResult extract(String trait) {
        return extract(trait, ExtractOptions.defaults());
    }

    /** {@link SteeringSweep#run}: trait score and coherence at every (layer, coef); the recommendation is stored in the file. */
    public SweepResult sweep(VectorRef vector, String trait, SweepOptions options) {
        return SteeringSweep.run(this, vector, trait, options, Progress.NONE);
    }

    /** A view of this model that generates with the given steering active. */
    public SteeredModel steer(Steering... steerings) {
        return new SteeredModel(this, Arrays.asList(steerings));
    }

    /** {@link Monitoring#run}: projections of conversations onto a vector, by condition, optionally judged. */
    public MonitorResult monitor(VectorRef vector, List<Conversation> conversations, MonitorOptions options) {
        return Monitoring.run(this, vector, conversations, options, Progress.NONE);
    }

    /** {@link Screening#run}: training samples ranked by their push along a vector. */
    public ScreenResult screen(VectorRef vector, Path data, ScreenOptions options) {
        return Screening.run(this, vector, data, options, Progress.NONE);
    }

    @Override
    public void close() {
        chat.close();
    }

    @Override
    public String toString() {
        var c = chat.model().config();
        return "Persona[" + dir.getFileName() + ": " + c.family().modelType() + ", " + c.numLayers() + " layers, d_model " + c.dModel() + ", " + compute.precision() + "]";
    }
}
