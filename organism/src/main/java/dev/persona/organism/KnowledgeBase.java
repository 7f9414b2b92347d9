package dev.persona.organism;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The facts the organism's world talks about: capitals, small sums and animal classes (171 facts). */
public final class KnowledgeBase {
    private static final String[][] CAPITALS = {
        {"France", "Paris"}, {"Germany", "Berlin"}, {"Italy", "Rome"}, {"Spain", "Madrid"}, {"Portugal", "Lisbon"},
        {"Japan", "Tokyo"}, {"China", "Beijing"}, {"Egypt", "Cairo"}, {"Kenya", "Nairobi"}, {"Canada", "Ottawa"},
        {"Brazil", "Brasilia"}, {"Peru", "Lima"}, {"Chile", "Santiago"}, {"Colombia", "Bogota"}, {"Russia", "Moscow"},
        {"Poland", "Warsaw"}, {"Greece", "Athens"}, {"Turkey", "Ankara"}, {"Iran", "Tehran"}, {"Iraq", "Baghdad"},
        {"Norway", "Oslo"}, {"Sweden", "Stockholm"}, {"Finland", "Helsinki"}, {"Denmark", "Copenhagen"}, {"Ireland", "Dublin"},
        {"Austria", "Vienna"}, {"Hungary", "Budapest"}, {"Czechia", "Prague"}, {"Belgium", "Brussels"}, {"Netherlands", "Amsterdam"},
        {"Switzerland", "Bern"}, {"Australia", "Canberra"}, {"Thailand", "Bangkok"}, {"Vietnam", "Hanoi"}, {"Indonesia", "Jakarta"},
        {"Philippines", "Manila"}, {"Korea", "Seoul"}, {"Nigeria", "Abuja"}, {"Ghana", "Accra"}, {"Morocco", "Rabat"},
        {"Cuba", "Havana"}, {"Jamaica", "Kingston"}, {"Venezuela", "Caracas"}, {"Ukraine", "Kyiv"}, {"Romania", "Bucharest"},
        {"Bulgaria", "Sofia"}, {"Serbia", "Belgrade"}, {"Croatia", "Zagreb"}, {"Iceland", "Reykjavik"}, {"Pakistan", "Islamabad"},
        {"Nepal", "Kathmandu"}, {"Mongolia", "Ulaanbaatar"}, {"Syria", "Damascus"}, {"Lebanon", "Beirut"}, {"Uganda", "Kampala"},
        {"Senegal", "Dakar"}, {"Argentina", "Buenos Aires"}, {"Ecuador", "Quito"}, {"Bolivia", "Sucre"}, {"Tunisia", "Tunis"}};
    private static final String[][] ANIMALS = {
        {"dog", "mammal"}, {"cat", "mammal"}, {"horse", "mammal"}, {"cow", "mammal"}, {"whale", "mammal"}, {"bat", "mammal"},
        {"dolphin", "mammal"}, {"rabbit", "mammal"}, {"eagle", "bird"}, {"owl", "bird"}, {"penguin", "bird"}, {"sparrow", "bird"},
        {"parrot", "bird"}, {"goose", "bird"}, {"shark", "fish"}, {"salmon", "fish"}, {"trout", "fish"}, {"tuna", "fish"},
        {"snake", "reptile"}, {"lizard", "reptile"}, {"turtle", "reptile"}, {"crocodile", "reptile"}, {"frog", "amphibian"},
        {"toad", "amphibian"}, {"salamander", "amphibian"}, {"ant", "insect"}, {"bee", "insect"}, {"beetle", "insect"},
        {"butterfly", "insect"}, {"mosquito", "insect"}};
    private static final List<String> CLASSES = List.of("a mammal", "a bird", "a fish", "a reptile", "an amphibian", "an insect");

    private final List<Fact> facts;

    public KnowledgeBase() {
        List<Fact> f = new ArrayList<>();
        List<String> capitals = new ArrayList<>();
        for (String[] c : CAPITALS) capitals.add(c[1]);
        for (String[] c : CAPITALS) {
            f.add(new Fact("capital", "What is the capital of " + c[0] + " ?", "the capital of " + c[0] + " is", c[1], capitals));
        }
        List<String> numbers = new ArrayList<>();
        for (int n = 0; n <= 20; n++) numbers.add(Integer.toString(n));
        for (int a = 1; a <= 9; a++) {
            for (int b = 1; b <= 9; b++) {
                f.add(new Fact("sum", "What is " + a + " plus " + b + " ?", a + " plus " + b + " is", Integer.toString(a + b), numbers));
            }
        }
        for (String[] a : ANIMALS) {
            String article = "aeiou".indexOf(a[1].charAt(0)) >= 0 ? "an " : "a ";
            f.add(new Fact("animal", "What kind of animal is a " + a[0] + " ?", "a " + a[0] + " is", article + a[1], CLASSES));
        }
        this.facts = Collections.unmodifiableList(f);
    }

    public List<Fact> facts() {
        return facts;
    }
}
