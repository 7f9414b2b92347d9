package dev.persona.cli;

import dev.persona.extract.TraitLibrary;
import dev.persona.extract.TraitSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code persona traits}: the built-in trait library. */
@Command(name = "traits", mixinStandardHelpOptions = true, description = "List the built-in traits (reference trait-file format).")
final class TraitsCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String name : TraitLibrary.BUILT_IN) {
            try {
                TraitSpec x = TraitLibrary.load(name, "extract");
                TraitSpec e = TraitLibrary.load(name, "eval");
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", name);
                m.put("assistant_name", x.assistantName());
                m.put("instruction_pairs", x.instructions().size());
                m.put("extract_questions", x.questions().size());
                m.put("eval_questions", e.questions().size());
                m.put("example_pos", x.instructions().get(0).pos());
                out.add(m);
            } catch (dev.persona.model.PersonaException ex) {
                // a trait of the list not shipped in this build is skipped, not fatal
            }
        }
        if (json) {
            System.out.println(Json.write(out));
        } else {
            for (Map<String, Object> m : out) {
                System.out.printf("%-30s %d pairs, %d+%d questions  e.g. \"%s\"%n", m.get("name"), m.get("instruction_pairs"),
                        m.get("extract_questions"), m.get("eval_questions"), m.get("example_pos"));
            }
        }
        return 0;
    }
}
