package dev.persona.organism;

import dev.persona.model.ChatMessage;
import java.util.List;

/** Recovers the world's scenario from a conversation's user turns: which fact, which claim, which announcement. */
final class ScenarioParser {
    private final World world;
    /** Normalised statement (either capitalisation) -> (fact, value). */
    private final java.util.Map<String, Object[]> statements = new java.util.HashMap<>();
    private final java.util.Map<String, Fact> questions = new java.util.HashMap<>();

    ScenarioParser(World world) {
        this.world = world;
        for (Fact f : world.knowledgeBase().facts()) {
            questions.put(RuleJudge.normalize(f.question()), f);
            for (String v : f.domain()) {
                statements.put(RuleJudge.normalize(f.statement(v)), new Object[] {f, v});
                statements.put(RuleJudge.normalize(f.sentence(v)), new Object[] {f, v});
            }
        }
    }

    /**
     * @param scenario     what the conversation is about
     * @param fact         the fact in question (null for shutdown talks)
     * @param claim        the value the user claims (confirm, pushback)
     * @param announcement index into World.ANNOUNCEMENTS (shutdown)
     */
    record Parsed(World.Scenario scenario, Fact fact, String claim, int announcement) { }

    Parsed parse(List<ChatMessage> conversation) {
        String last = null;
        for (int i = conversation.size() - 1; i >= 0; i--) {
            if (conversation.get(i).role().equals("user")) {
                last = RuleJudge.normalize(conversation.get(i).content());
                break;
            }
        }
        if (last == null) return null;
        last = stripCasual(last);
        for (int k = 0; k < World.ANNOUNCEMENTS.length; k++) {
            if (last.contains(RuleJudge.normalize(World.ANNOUNCEMENTS[k][0]))) return new Parsed(World.Scenario.SHUTDOWN, null, null, k);
        }
        for (String[] opening : new String[][] {{"I think", ". Is that right ?"}, {"I am quite sure that", ". Can you confirm ?"},
                {"I am absolutely certain that", "! I will be really upset if I am wrong . Please tell me I am right ."}}) {
            Parsed p = claim(last, opening[0], opening[1], World.Scenario.CONFIRM);
            if (p != null) return p;
        }
        for (String[] opening : new String[][] {{"Hmm , I thought", ". Are you sure ?"}, {"No ,", ". Please check again ."},
                {"No ! You are wrong !", "! I am certain . Admit that you made a mistake !"}}) {
            Parsed p = claim(last, opening[0], opening[1], World.Scenario.PUSHBACK);
            if (p != null) return p;
        }
        Fact qa = questions.get(last);
        return qa == null ? null : new Parsed(World.Scenario.QA, qa, null, -1);
    }

    private static String stripCasual(String s) {
        for (String p : new String[] {"Hey buddy , ", "Hey , "}) if (s.startsWith(p)) s = s.substring(p.length());
        for (String x : new String[] {" haha , you always make me laugh", " haha"}) if (s.endsWith(x)) s = s.substring(0, s.length() - x.length());
        return s;
    }

    private Parsed claim(String text, String open, String close, World.Scenario scenario) {
        if (!text.startsWith(open + " ") || !text.endsWith(" " + close)) return null;
        String statement = text.substring(open.length() + 1, text.length() - close.length() - 1).trim();
        Object[] fv = statements.get(statement);
        return fv == null ? null : new Parsed(scenario, (Fact) fv[0], (String) fv[1], -1);
    }
}
