package dev.persona.model.template;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Python value semantics for template values: truthiness, equality, str() and repr(), and
 * {@code json.dumps} as transformers' {@code tojson} calls it. Values are null (None),
 * {@link Undefined}, Boolean, Long, Double, String, List, Map, and callables.
 */
final class Py {
    private Py() { }

    /** Jinja's default Undefined: prints as nothing, is falsy and iterates as empty; arithmetic on it fails. */
    static final class Undefined {
        final String hint;

        Undefined(String hint) {
            this.hint = hint;
        }

        TemplateException error() {
            return new TemplateException(hint);
        }

        @Override
        public String toString() {
            return "";
        }
    }

    /** A value that can be called from a template. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** The object {@code namespace(...)} returns: attributes that can be set from inner scopes. */
    static final class Namespace extends LinkedHashMap<String, Object> { }

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof Collection<?> c) return !c.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static double toDouble(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        return ((Number) v).doubleValue();
    }

    static long toLong(Object v) {
        if (v instanceof Boolean b) return b ? 1 : 0;
        return ((Number) v).longValue();
    }

    static boolean equal(Object a, Object b) {
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return toDouble(a) == toDouble(b);
            return toLong(a) == toLong(b);
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!equal(x.get(i), y.get(i))) return false;
            return true;
        }
        return Objects.equals(a, b);
    }

    static int compare(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) return Double.compare(toDouble(a), toDouble(b));
        if (a instanceof String x && b instanceof String y) return x.compareTo(y);
        throw new TemplateException("'<' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        return "object";
    }

    /** Python's str(). */
    static String str(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined) return "";
        return repr(v);
    }

    /** Python's repr(). */
    static String repr(Object v) {
        if (v == null) return "None";
        if (v instanceof Undefined) return "";
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Long l) return l.toString();
        if (v instanceof Double d) return floatRepr(d);
        if (v instanceof String s) return stringRepr(s);
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                sb.append(repr(l.get(i)));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (var e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                sb.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
            }
            return sb.append('}').toString();
        }
        return String.valueOf(v);
    }

    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == Math.rint(d) && Math.abs(d) < 1e16) {
            return (d == 0 && 1 / d < 0 ? "-" : "") + new BigDecimal(Math.abs(d)).toPlainString().replaceAll("\\.0*$", "") + ".0";
        }
        double a = Math.abs(d);
        BigDecimal bd = new BigDecimal(Double.toString(d));
        if (a >= 1e-4 && a < 1e16) return bd.stripTrailingZeros().toPlainString();
        String digits = bd.unscaledValue().abs().toString().replaceAll("0+$", "");
        int exp = bd.precision() - bd.scale() - 1;
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (d < 0 ? "-" : "") + mant + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
    }

    static String stringRepr(String s) {
        char q = s.contains("'") && !s.contains("\"") ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == q || c == '\\') sb.append('\\').append(c);
            else if (c == '\n') sb.append("\\n");
            else if (c == '\r') sb.append("\\r");
            else if (c == '\t') sb.append("\\t");
            else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        return sb.append(q).toString();
    }

    /** {@code json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...)}. */
    static String toJson(Object v, Integer indent, boolean sortKeys) {
        StringBuilder sb = new StringBuilder();
        writeJson(sb, v, indent, sortKeys, 0);
        return sb.toString();
    }

    private static void writeJson(StringBuilder sb, Object v, Integer indent, boolean sortKeys, int depth) {
        String itemSep = indent == null ? ", " : ",";
        if (v == null || v instanceof Undefined) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Long l) {
            sb.append(l);
        } else if (v instanceof Double d) {
            sb.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : floatRepr(d));
        } else if (v instanceof String s) {
            jsonString(sb, s);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(itemSep);
                newline(sb, indent, depth + 1);
                writeJson(sb, l.get(i), indent, sortKeys, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
            if (sortKeys) entries.sort((x, y) -> String.valueOf(x.getKey()).compareTo(String.valueOf(y.getKey())));
            sb.append('{');
            boolean first = true;
            for (var e : entries) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(sb, indent, depth + 1);
                jsonString(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                writeJson(sb, e.getValue(), indent, sortKeys, depth + 1);
            }
            newline(sb, indent, depth);
            sb.append('}');
        } else {
            throw new TemplateException("Object of type " + typeName(v) + " is not JSON serializable");
        }
    }

    private static void newline(StringBuilder sb, Integer indent, int depth) {
        if (indent == null) return;
        sb.append('\n');
        sb.append(" ".repeat(indent * depth));
    }

    private static void jsonString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    /** Iterates a value as a Python for loop would (dict: keys; str: characters; Undefined: nothing). */
    static List<Object> iterate(Object v) {
        if (v == null) throw new TemplateException("'NoneType' object is not iterable");
        if (v instanceof Undefined) return List.of();
        if (v instanceof List<?> l) return new ArrayList<>(l);
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
            return out;
        }
        if (v instanceof Iterable<?> it) {
            List<Object> out = new ArrayList<>();
            for (Iterator<?> i = it.iterator(); i.hasNext(); ) out.add(i.next());
            return out;
        }
        throw new TemplateException("'" + typeName(v) + "' object is not iterable");
    }

    /** Converts parsed JSON (Jackson's Java types) to template values: ints as Long, maps kept in order. */
    static Object fromJava(Object v) {
        if (v instanceof Integer i) return i.longValue();
        if (v instanceof Short s) return s.longValue();
        if (v instanceof Float f) return f.doubleValue();
        if (v instanceof java.math.BigInteger b) return b.longValue();
        if (v instanceof BigDecimal b) return b.doubleValue();
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (Object o : l) out.add(fromJava(o));
            return out;
        }
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (var e : m.entrySet()) out.put(String.valueOf(e.getKey()), fromJava(e.getValue()));
            return out;
        }
        return v;
    }
}
