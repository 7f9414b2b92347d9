package dev.persona.model.template;

import dev.persona.model.template.Py.Undefined;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/** Jinja's built-in filters and tests that chat templates use, plus transformers' {@code tojson}. */
final class Filters {
    private Filters() { }

    static Object apply(String name, Object v, List<Object> args, Map<String, Object> kw) {
        switch (name) {
            case "tojson" -> {
                Object indent = kw.containsKey("indent") ? kw.get("indent") : (args.isEmpty() ? null : args.get(0));
                return Py.toJson(v, indent == null ? null : (int) Py.toLong(indent), Py.truthy(kw.get("sort_keys")));
            }
            case "trim" -> {
                return Methods.strip(Py.str(v), args.isEmpty() ? null : (String) args.get(0), true, true);
            }
            case "length", "count" -> {
                if (v instanceof String s) return (long) s.codePointCount(0, s.length());
                if (v instanceof Collection<?> c) return (long) c.size();
                if (v instanceof Map<?, ?> m) return (long) m.size();
                if (v instanceof Undefined) return 0L;
                throw new TemplateException("object of type '" + Py.typeName(v) + "' has no len()");
            }
            case "items" -> {
                if (v instanceof Undefined) return new ArrayList<>();
                if (!(v instanceof Map<?, ?> m)) throw new TemplateException("items filter needs a mapping, got " + Py.typeName(v));
                return Methods.dictMethod(m, "items").call(List.of(), Map.of());
            }
            case "join" -> {
                String sep = args.isEmpty() ? (String) kw.getOrDefault("d", "") : Py.str(args.get(0));
                Object attr = kw.get("attribute");
                StringBuilder sb = new StringBuilder();
                List<Object> items = Py.iterate(v);
                for (int i = 0; i < items.size(); i++) {
                    if (i > 0) sb.append(sep);
                    Object item = attr == null ? items.get(i) : Interpreter.getItem(items.get(i), attr);
                    sb.append(Py.str(item));
                }
                return sb.toString();
            }
            case "list" -> {
                return Py.iterate(v);
            }
            case "string" -> {
                return Py.str(v);
            }
            case "lower" -> {
                return Py.str(v).toLowerCase();
            }
            case "upper" -> {
                return Py.str(v).toUpperCase();
            }
            case "capitalize" -> {
                String s = Py.str(v);
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase() + s.substring(1).toLowerCase();
            }
            case "title" -> {
                return title(Py.str(v));
            }
            case "first" -> {
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.get(0);
            }
            case "last" -> {
                List<Object> items = Py.iterate(v);
                return items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.get(items.size() - 1);
            }
            case "default", "d" -> {
                Object dflt = args.isEmpty() ? "" : args.get(0);
                boolean boolMode = args.size() > 1 ? Py.truthy(args.get(1)) : Py.truthy(kw.get("boolean"));
                if (v instanceof Undefined || (boolMode && !Py.truthy(v))) return dflt;
                return v;
            }
            case "replace" -> {
                return Py.str(v).replace(Py.str(args.get(0)), Py.str(args.get(1)));
            }
            case "int" -> {
                if (v instanceof String s) {
                    try {
                        return Long.parseLong(s.trim());
                    } catch (NumberFormatException e) {
                        return args.isEmpty() ? 0L : args.get(0);
                    }
                }
                return Py.isNumber(v) ? Py.toLong(v) : 0L;
            }
            case "float" -> {
                if (v instanceof String s) {
                    try {
                        return Double.parseDouble(s.trim());
                    } catch (NumberFormatException e) {
                        return 0.0;
                    }
                }
                return Py.isNumber(v) ? Py.toDouble(v) : 0.0;
            }
            case "abs" -> {
                return v instanceof Long l ? (Object) Math.abs(l) : (Object) Math.abs(Py.toDouble(v));
            }
            case "safe", "e", "escape" -> {
                return name.equals("safe") ? v : Py.str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                        .replace("\"", "&#34;").replace("'", "&#39;");
            }
            case "indent" -> {
                Object w = args.isEmpty() ? kw.getOrDefault("width", 4L) : args.get(0);
                String pad = w instanceof String s ? s : " ".repeat((int) Py.toLong(w));
                boolean first = args.size() > 1 ? Py.truthy(args.get(1)) : Py.truthy(kw.get("first"));
                boolean blank = args.size() > 2 ? Py.truthy(args.get(2)) : Py.truthy(kw.get("blank"));
                return indent(Py.str(v), pad, first, blank);
            }
            case "select", "reject" -> {
                List<Object> out = new ArrayList<>();
                for (Object item : Py.iterate(v)) {
                    boolean ok = args.isEmpty() ? Py.truthy(item) : test(Py.str(args.get(0)), item, args.subList(1, args.size()));
                    if (ok == name.equals("select")) out.add(item);
                }
                return out;
            }
            case "selectattr", "rejectattr" -> {
                List<Object> out = new ArrayList<>();
                String attr = Py.str(args.get(0));
                for (Object item : Py.iterate(v)) {
                    Object a = attrPath(item, attr);
                    boolean ok = args.size() < 2 ? Py.truthy(a) : test(Py.str(args.get(1)), a, args.subList(2, args.size()));
                    if (ok == name.equals("selectattr")) out.add(item);
                }
                return out;
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                Object attr = kw.get("attribute");
                for (Object item : Py.iterate(v)) {
                    if (attr != null) out.add(attrPath(item, Py.str(attr)));
                    else out.add(apply(Py.str(args.get(0)), item, args.subList(1, args.size()), Map.of()));
                }
                return out;
            }
            case "unique" -> {
                List<Object> out = new ArrayList<>();
                for (Object item : Py.iterate(v)) if (out.stream().noneMatch(o -> Py.equal(o, item))) out.add(item);
                return out;
            }
            case "round" -> {
                long precision = args.isEmpty() ? 0 : Py.toLong(args.get(0));
                double scale = Math.pow(10, precision);
                return Math.rint(Py.toDouble(v) * scale) / scale;
            }
            case "sum" -> {
                Object total = 0L;
                for (Object item : Py.iterate(v)) total = Interpreter.binary("+", total, item);
                return total;
            }
            case "wordcount" -> {
                String s = Py.str(v).trim();
                return s.isEmpty() ? 0L : (long) s.split("\\s+").length;
            }
            default -> throw new TemplateException("No filter named '" + name + "'.");
        }
    }

    private static Object attrPath(Object item, String path) {
        Object cur = item;
        for (String part : path.split("\\.")) {
            if (cur instanceof Undefined) return cur;
            cur = Interpreter.getItem(cur, part.matches("\\d+") ? (Object) Long.parseLong(part) : part);
        }
        return cur;
    }

    static String title(String s) {
        StringBuilder sb = new StringBuilder();
        boolean prevCased = false;
        for (char c : s.toCharArray()) {
            boolean letter = Character.isLetter(c);
            sb.append(letter ? (prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c)) : c);
            prevCased = letter;
        }
        return sb.toString();
    }

    private static String indent(String s, String pad, boolean first, boolean blank) {
        String[] lines = s.split("\n", -1);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            if (i > 0) sb.append('\n');
            // the first line is padded only with first=True (even when blank); later blank lines only with blank=True
            boolean doPad = i == 0 ? first : blank || !lines[i].isEmpty();
            if (doPad) sb.append(pad);
            sb.append(lines[i]);
        }
        return sb.toString();
    }

    static boolean test(String name, Object v, List<Object> args) {
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "string" -> v instanceof String;
            case "number" -> v instanceof Long || v instanceof Double;
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map;
            case "iterable" -> v instanceof String || v instanceof Collection || v instanceof Map || v instanceof Undefined;
            case "sequence" -> v instanceof String || v instanceof List || v instanceof Map;
            case "callable" -> v instanceof Py.Callable;
            case "odd" -> Py.toLong(v) % 2 != 0;
            case "even" -> Py.toLong(v) % 2 == 0;
            case "divisibleby" -> Py.toLong(v) % Py.toLong(args.get(0)) == 0;
            case "lower" -> v instanceof String s && s.equals(s.toLowerCase());
            case "upper" -> v instanceof String s && s.equals(s.toUpperCase());
            case "equalto", "eq", "==", "sameas" -> Py.equal(v, args.get(0));
            case "ne", "!=" -> !Py.equal(v, args.get(0));
            case "gt", ">", "greaterthan" -> Py.compare(v, args.get(0)) > 0;
            case "ge", ">=" -> Py.compare(v, args.get(0)) >= 0;
            case "lt", "<", "lessthan" -> Py.compare(v, args.get(0)) < 0;
            case "le", "<=" -> Py.compare(v, args.get(0)) <= 0;
            case "in" -> Interpreter.contains(args.get(0), v);
            default -> throw new TemplateException("No test named '" + name + "'.");
        };
    }
}
