package dev.persona.model.template;

import dev.persona.model.template.Py.Callable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The Python string, dict and list methods templates call ({@code message.content.strip()}, {@code tool.items()}, ...). */
final class Methods {
    private Methods() { }

    static Callable stringMethod(String s, String name) {
        return switch (name) {
            case "strip" -> (a, kw) -> strip(s, a.isEmpty() ? null : (String) a.get(0), true, true);
            case "lstrip" -> (a, kw) -> strip(s, a.isEmpty() ? null : (String) a.get(0), true, false);
            case "rstrip" -> (a, kw) -> strip(s, a.isEmpty() ? null : (String) a.get(0), false, true);
            case "startswith" -> (a, kw) -> anyPrefix(s, a.get(0), true);
            case "endswith" -> (a, kw) -> anyPrefix(s, a.get(0), false);
            case "split" -> (a, kw) -> split(s, a.isEmpty() ? null : (String) a.get(0), a.size() > 1 ? Py.toLong(a.get(1)) : -1);
            case "replace" -> (a, kw) -> replace(s, (String) a.get(0), (String) a.get(1), a.size() > 2 ? Py.toLong(a.get(2)) : -1);
            case "lower" -> (a, kw) -> s.toLowerCase();
            case "upper" -> (a, kw) -> s.toUpperCase();
            case "title" -> (a, kw) -> Filters.title(s);
            case "capitalize" -> (a, kw) -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase() + s.substring(1).toLowerCase();
            case "find" -> (a, kw) -> (long) s.indexOf((String) a.get(0));
            case "count" -> (a, kw) -> {
                String sub = (String) a.get(0);
                if (sub.isEmpty()) return (long) s.length() + 1;
                long n = 0;
                for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
                return n;
            };
            case "join" -> (a, kw) -> {
                StringBuilder sb = new StringBuilder();
                List<Object> items = Py.iterate(a.get(0));
                for (int i = 0; i < items.size(); i++) {
                    if (i > 0) sb.append(s);
                    sb.append(Py.str(items.get(i)));
                }
                return sb.toString();
            };
            case "isdigit" -> (a, kw) -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isspace" -> (a, kw) -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            default -> null;
        };
    }

    static Callable dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "items" -> (a, kw) -> {
                List<Object> out = new ArrayList<>();
                for (var e : m.entrySet()) out.add(new ArrayList<>(java.util.Arrays.asList(e.getKey(), e.getValue())));
                return out;
            };
            case "keys" -> (a, kw) -> new ArrayList<Object>(m.keySet());
            case "values" -> (a, kw) -> new ArrayList<Object>(m.values());
            case "get" -> (a, kw) -> m.containsKey(a.get(0)) ? m.get(a.get(0)) : (a.size() > 1 ? a.get(1) : null);
            default -> null;
        };
    }

    static Callable listMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> (a, kw) -> {
                for (int i = 0; i < l.size(); i++) if (Py.equal(l.get(i), a.get(0))) return (long) i;
                throw new TemplateException(Py.repr(a.get(0)) + " is not in list");
            };
            case "count" -> (a, kw) -> l.stream().filter(x -> Py.equal(x, a.get(0))).count();
            default -> null;
        };
    }

    private static boolean anyPrefix(String s, Object arg, boolean start) {
        List<Object> options = arg instanceof List<?> l ? new ArrayList<>(l) : List.of(arg);
        for (Object o : options) {
            String p = (String) o;
            if (start ? s.startsWith(p) : s.endsWith(p)) return true;
        }
        return false;
    }

    /** Python's str.strip family: whitespace by default, else any of {@code chars}. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0, e = s.length();
        if (left) while (b < e && stripped(s.charAt(b), chars)) b++;
        if (right) while (e > b && stripped(s.charAt(e - 1), chars)) e--;
        return s.substring(b, e);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || c == '\u001c' || c == '\u001d' || c == '\u001e' || c == '\u001f' : chars.indexOf(c) >= 0;
    }

    private static List<Object> split(String s, String sep, long maxsplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (i < n) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    return out;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new TemplateException("empty separator");
        int from = 0;
        while (true) {
            int at = s.indexOf(sep, from);
            if (at < 0 || (maxsplit >= 0 && out.size() == maxsplit)) {
                out.add(s.substring(from));
                return out;
            }
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
    }

    private static String replace(String s, String old, String rep, long count) {
        if (count < 0) return s.replace(old, rep);
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = s.indexOf(old, from);
            if (at < 0) break;
            sb.append(s, from, at).append(rep);
            from = at + old.length();
        }
        return sb.append(s.substring(from)).toString();
    }
}
