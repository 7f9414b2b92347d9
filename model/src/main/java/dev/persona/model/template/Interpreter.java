package dev.persona.model.template;

import dev.persona.model.template.Node.*;
import dev.persona.model.template.Py.Callable;
import dev.persona.model.template.Py.Namespace;
import dev.persona.model.template.Py.Undefined;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Renders a parsed template with Jinja's scoping: loops and macros get their own scope, if-blocks do not. */
final class Interpreter {
    private static final class BreakSignal extends RuntimeException {
        BreakSignal() {
            super(null, null, false, false);
        }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() {
            super(null, null, false, false);
        }
    }

    /** A variable scope; lookups walk to the parent. */
    static final class Scope {
        final Map<String, Object> vars = new HashMap<>();
        final Scope parent;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object get(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) return s.vars.get(name);
            }
            return new Undefined("'" + name + "' is undefined");
        }

        void set(String name, Object value) {
            vars.put(name, value);
        }
    }

    /** The {@code loop} variable of a for loop. */
    private record LoopInfo(int index0, int length, Object prev, Object next, boolean hasPrev, boolean hasNext) {
        Object attr(String name) {
            return switch (name) {
                case "index0" -> (long) index0;
                case "index" -> (long) index0 + 1;
                case "revindex" -> (long) (length - index0);
                case "revindex0" -> (long) (length - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == length - 1;
                case "length" -> (long) length;
                case "previtem" -> hasPrev ? prev : new Undefined("there is no previous item");
                case "nextitem" -> hasNext ? next : new Undefined("there is no next item");
                case "cycle" -> (Callable) (args, kw) -> args.isEmpty() ? null : args.get(index0 % args.size());
                default -> new Undefined("'loop' has no attribute '" + name + "'");
            };
        }
    }

    void render(List<Stmt> body, Scope scope, StringBuilder out) {
        for (Stmt s : body) exec(s, scope, out);
    }

    private void exec(Stmt s, Scope scope, StringBuilder out) {
        if (s instanceof Text t) {
            out.append(t.text());
        } else if (s instanceof Output o) {
            out.append(Py.str(eval(o.expr(), scope)));
        } else if (s instanceof If f) {
            for (int i = 0; i < f.conditions().size(); i++) {
                if (Py.truthy(eval(f.conditions().get(i), scope))) {
                    render(f.bodies().get(i), scope, out);
                    return;
                }
            }
            render(f.orElse(), scope, out);
        } else if (s instanceof For f) {
            execFor(f, scope, out);
        } else if (s instanceof Node.Set st) {
            Object v = eval(st.value(), scope);
            if (st.attr() != null) {
                Object target = scope.get(st.targets().get(0));
                if (!(target instanceof Namespace ns)) throw new TemplateException("cannot assign attribute on non-namespace object");
                ns.put(st.attr(), v);
            } else {
                assign(st.targets(), v, scope);
            }
        } else if (s instanceof SetBlock sb) {
            StringBuilder inner = new StringBuilder();
            render(sb.body(), scope, inner);
            scope.set(sb.target(), inner.toString());
        } else if (s instanceof Macro m) {
            scope.set(m.name(), macro(m, scope));
        } else if (s instanceof Break) {
            throw new BreakSignal();
        } else if (s instanceof Continue) {
            throw new ContinueSignal();
        } else if (s instanceof CallStmt c) {
            eval(c.expr(), scope);
        } else if (s instanceof Scoped sc) {
            render(sc.body(), scope, out);
        } else if (s instanceof CallBlock cb) {
            Callable caller = macro(new Macro("caller", cb.params(), cb.defaults(), cb.body()), scope);
            Call c = cb.call();
            out.append(Py.str(call(eval(c.fn(), scope), c.args(), c.kwNames(), c.kwValues(), scope, Map.of("caller", caller))));
        } else if (s instanceof FilterBlock fb) {
            StringBuilder inner = new StringBuilder();
            render(fb.body(), scope, inner);
            Scope withBody = new Scope(scope);
            withBody.set(Node.FILTER_BODY, inner.toString());
            out.append(Py.str(eval(fb.applied(), withBody)));
        }
    }

    private static void assign(List<String> targets, Object v, Scope scope) {
        if (targets.size() == 1) {
            scope.set(targets.get(0), v);
            return;
        }
        List<Object> items = Py.iterate(v);
        if (items.size() != targets.size()) {
            throw new TemplateException("cannot unpack " + items.size() + " values into " + targets.size() + " names");
        }
        for (int i = 0; i < targets.size(); i++) scope.set(targets.get(i), items.get(i));
    }

    private void execFor(For f, Scope scope, StringBuilder out) {
        List<Object> items = Py.iterate(eval(f.iter(), scope));
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope probe = new Scope(scope);
                assign(f.targets(), item, probe);
                if (Py.truthy(eval(f.filter(), probe))) kept.add(item);
            }
            items = kept;
        }
        if (items.isEmpty()) {
            render(f.orElse(), scope, out);
            return;
        }
        for (int i = 0; i < items.size(); i++) {
            Scope inner = new Scope(scope);
            assign(f.targets(), items.get(i), inner);
            inner.set("loop", new LoopInfo(i, items.size(), i > 0 ? items.get(i - 1) : null,
                    i + 1 < items.size() ? items.get(i + 1) : null, i > 0, i + 1 < items.size()));
            try {
                render(f.body(), inner, out);
            } catch (BreakSignal b) {
                break;
            } catch (ContinueSignal c) {
                // next iteration
            }
        }
    }

    private Callable macro(Macro m, Scope defining) {
        return (args, kwargs) -> {
            Scope s = new Scope(defining);
            for (int i = 0; i < m.params().size(); i++) {
                String p = m.params().get(i);
                Object v;
                if (i < args.size()) v = args.get(i);
                else if (kwargs.containsKey(p)) v = kwargs.get(p);
                else if (m.defaults().get(i) != null) v = eval(m.defaults().get(i), defining);
                else v = new Undefined("parameter '" + p + "' was not provided");
                s.set(p, v);
            }
            // a call block passes its body as "caller"; Jinja makes it visible inside the macro
            if (kwargs.containsKey("caller") && !m.params().contains("caller")) s.set("caller", kwargs.get("caller"));
            StringBuilder out = new StringBuilder();
            render(m.body(), s, out);
            return out.toString();
        };
    }

    // ------------------------------------------------------------ expressions

    Object eval(Expr e, Scope scope) {
        if (e instanceof Literal l) return l.value();
        if (e instanceof Var v) return scope.get(v.name());
        if (e instanceof GetAttr g) return getAttr(eval(g.target(), scope), g.name());
        if (e instanceof GetItem g) {
            return g.index() instanceof Slice sl ? slice(eval(g.target(), scope), sl, scope) : getItem(eval(g.target(), scope), eval(g.index(), scope));
        }
        if (e instanceof Call c) return call(eval(c.fn(), scope), c.args(), c.kwNames(), c.kwValues(), scope);
        if (e instanceof Filter f) {
            List<Object> positional = new ArrayList<>();
            Map<String, Object> kwargs = new LinkedHashMap<>();
            spread(f.args(), f.kwNames(), f.kwValues(), scope, positional, kwargs);
            return Filters.apply(f.name(), eval(f.target(), scope), positional, kwargs);
        }
        if (e instanceof Unpack) throw new TemplateException("*args and **kwargs may only stand in a call's arguments");
        if (e instanceof Test t) return t.negated() != Filters.test(t.name(), eval(t.target(), scope), evalList(t.args(), scope));
        if (e instanceof Unary u) {
            Object v = eval(u.operand(), scope);
            if (v instanceof Undefined un) throw un.error();
            if (u.op().equals("+")) return v;
            return v instanceof Long l ? (Object) (-l) : (Object) (-Py.toDouble(v));
        }
        if (e instanceof Binary b) return binary(b.op(), eval(b.left(), scope), eval(b.right(), scope));
        if (e instanceof And a) {
            Object l = eval(a.left(), scope);
            return Py.truthy(l) ? eval(a.right(), scope) : l;
        }
        if (e instanceof Or o) {
            Object l = eval(o.left(), scope);
            return Py.truthy(l) ? l : eval(o.right(), scope);
        }
        if (e instanceof Not n) return !Py.truthy(eval(n.operand(), scope));
        if (e instanceof Compare c) {
            Object left = eval(c.first(), scope);
            for (int i = 0; i < c.ops().size(); i++) {
                Object right = eval(c.rest().get(i), scope);
                if (!compare(c.ops().get(i), left, right)) return false;
                left = right;
            }
            return true;
        }
        if (e instanceof Conditional c) {
            if (Py.truthy(eval(c.condition(), scope))) return eval(c.then(), scope);
            return c.orElse() == null ? new Undefined("conditional expression had no else branch") : eval(c.orElse(), scope);
        }
        if (e instanceof ListLit l) return new ArrayList<>(evalList(l.items(), scope));
        if (e instanceof TupleLit t) return new ArrayList<>(evalList(t.items(), scope));
        if (e instanceof DictLit d) {
            Map<Object, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < d.keys().size(); i++) m.put(eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
            return m;
        }
        throw new TemplateException("slice outside a subscript");
    }

    private List<Object> evalList(List<Expr> exprs, Scope scope) {
        List<Object> out = new ArrayList<>();
        for (Expr x : exprs) out.add(eval(x, scope));
        return out;
    }

    private Map<String, Object> evalKw(List<String> names, List<Expr> values, Scope scope) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) out.put(names.get(i), eval(values.get(i), scope));
        return out;
    }

    private Object call(Object fn, List<Expr> args, List<String> kwNames, List<Expr> kwValues, Scope scope) {
        return call(fn, args, kwNames, kwValues, scope, Map.of());
    }

    /** A call with {@code extra} keyword arguments added after the written ones (a call block's {@code caller}). */
    private Object call(Object fn, List<Expr> args, List<String> kwNames, List<Expr> kwValues, Scope scope, Map<String, Object> extra) {
        if (fn instanceof Undefined u) throw u.error();
        if (!(fn instanceof Callable c)) throw new TemplateException("'" + Py.typeName(fn) + "' object is not callable");
        List<Object> positional = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        spread(args, kwNames, kwValues, scope, positional, kwargs);
        kwargs.putAll(extra);
        return c.call(positional, kwargs);
    }

    /** A call's arguments with {@code *items} and {@code **mapping} spread out, as Python does. */
    private void spread(List<Expr> args, List<String> kwNames, List<Expr> kwValues, Scope scope, List<Object> positional, Map<String, Object> kwargs) {
        for (Expr a : args) {
            if (a instanceof Unpack u && !u.mapping()) {
                positional.addAll(Py.iterate(eval(u.value(), scope)));
            } else if (a instanceof Unpack u) {
                Object m = eval(u.value(), scope);
                if (!(m instanceof Map<?, ?> map)) throw new TemplateException("argument after ** must be a mapping, not " + Py.typeName(m));
                for (var en : map.entrySet()) kwargs.put(String.valueOf(en.getKey()), en.getValue());
            } else {
                positional.add(eval(a, scope));
            }
        }
        kwargs.putAll(evalKw(kwNames, kwValues, scope));
    }

    static boolean compare(String op, Object l, Object r) {
        return switch (op) {
            case "==" -> Py.equal(l, r);
            case "!=" -> !Py.equal(l, r);
            case "<" -> Py.compare(l, r) < 0;
            case ">" -> Py.compare(l, r) > 0;
            case "<=" -> Py.compare(l, r) <= 0;
            case ">=" -> Py.compare(l, r) >= 0;
            case "in" -> contains(r, l);
            case "notin" -> !contains(r, l);
            default -> throw new TemplateException("unknown comparison " + op);
        };
    }

    static boolean contains(Object container, Object item) {
        if (container instanceof Undefined) return false;
        if (container instanceof String s) {
            if (!(item instanceof String x)) throw new TemplateException("'in <string>' requires string as left operand, not " + Py.typeName(item));
            return s.contains(x);
        }
        if (container instanceof Map<?, ?> m) return m.containsKey(item instanceof Undefined ? null : item);
        for (Object o : Py.iterate(container)) if (Py.equal(o, item)) return true;
        return false;
    }

    static Object binary(String op, Object l, Object r) {
        if (op.equals("~")) return Py.str(l) + Py.str(r);
        if (l instanceof Undefined u) throw u.error();
        if (r instanceof Undefined u) throw u.error();
        switch (op) {
            case "+" -> {
                if (l instanceof String a && r instanceof String b) return a + b;
                if (l instanceof List<?> a && r instanceof List<?> b) {
                    List<Object> out = new ArrayList<>(a);
                    out.addAll(b);
                    return out;
                }
                if (Py.isNumber(l) && Py.isNumber(r)) {
                    return l instanceof Double || r instanceof Double ? (Object) (Py.toDouble(l) + Py.toDouble(r)) : (Object) (Py.toLong(l) + Py.toLong(r));
                }
                throw new TemplateException("unsupported operand type(s) for +: '" + Py.typeName(l) + "' and '" + Py.typeName(r) + "'");
            }
            case "-" -> {
                requireNumbers(op, l, r);
                return l instanceof Double || r instanceof Double ? (Object) (Py.toDouble(l) - Py.toDouble(r)) : (Object) (Py.toLong(l) - Py.toLong(r));
            }
            case "*" -> {
                if (l instanceof String s && r instanceof Long n) return s.repeat((int) Math.max(0, n));
                if (l instanceof Long n && r instanceof String s) return s.repeat((int) Math.max(0, n));
                requireNumbers(op, l, r);
                return l instanceof Double || r instanceof Double ? (Object) (Py.toDouble(l) * Py.toDouble(r)) : (Object) (Py.toLong(l) * Py.toLong(r));
            }
            case "/" -> {
                requireNumbers(op, l, r);
                if (Py.toDouble(r) == 0) throw new TemplateException("division by zero");
                return Py.toDouble(l) / Py.toDouble(r);
            }
            case "//" -> {
                requireNumbers(op, l, r);
                if (Py.toDouble(r) == 0) throw new TemplateException("integer division or modulo by zero");
                if (l instanceof Double || r instanceof Double) return Math.floor(Py.toDouble(l) / Py.toDouble(r));
                return Math.floorDiv(Py.toLong(l), Py.toLong(r));
            }
            case "%" -> {
                requireNumbers(op, l, r);
                if (Py.toDouble(r) == 0) throw new TemplateException("integer division or modulo by zero");
                if (l instanceof Double || r instanceof Double) {
                    double a = Py.toDouble(l), b = Py.toDouble(r);
                    return a - b * Math.floor(a / b);
                }
                return Math.floorMod(Py.toLong(l), Py.toLong(r));
            }
            case "**" -> {
                requireNumbers(op, l, r);
                if (l instanceof Long a && r instanceof Long b && b >= 0) {
                    long p = 1;
                    for (long i = 0; i < b; i++) p *= a;
                    return p;
                }
                return Math.pow(Py.toDouble(l), Py.toDouble(r));
            }
            default -> throw new TemplateException("unknown operator " + op);
        }
    }

    private static void requireNumbers(String op, Object l, Object r) {
        if (!Py.isNumber(l) || !Py.isNumber(r)) {
            throw new TemplateException("unsupported operand type(s) for " + op + ": '" + Py.typeName(l) + "' and '" + Py.typeName(r) + "'");
        }
    }

    /** {@code obj.name}: Python attribute first (methods, loop fields), then item. */
    static Object getAttr(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.error();
        if (obj instanceof LoopInfo li) return li.attr(name);
        if (obj instanceof String s) {
            Callable m = Methods.stringMethod(s, name);
            if (m != null) return m;
            return new Undefined("'str object' has no attribute '" + name + "'");
        }
        if (obj instanceof Map<?, ?> map) {
            if (!(obj instanceof Namespace)) {
                Callable m = Methods.dictMethod(map, name);
                if (m != null) return m;
            }
            if (map.containsKey(name)) return map.get(name);
            return new Undefined("'dict object' has no attribute '" + name + "'");
        }
        if (obj instanceof List<?> list) {
            Callable m = Methods.listMethod(list, name);
            if (m != null) return m;
        }
        return new Undefined("'" + Py.typeName(obj) + " object' has no attribute '" + name + "'");
    }

    /** {@code obj[key]}: item first, then attribute. */
    static Object getItem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.error();
        if (obj instanceof Map<?, ?> map) {
            if (map.containsKey(key)) return map.get(key);
            if (key instanceof String s) return getAttr(obj, s);
            return new Undefined("'dict object' has no attribute '" + Py.str(key) + "'");
        }
        if (obj instanceof List<?> list && Py.isNumber(key) && !(key instanceof Double)) {
            long i = Py.toLong(key);
            if (i < 0) i += list.size();
            if (i < 0 || i >= list.size()) return new Undefined("list object has no element " + key);
            return list.get((int) i);
        }
        if (obj instanceof String s && key instanceof Long k) {
            long i = k < 0 ? k + s.length() : k;
            if (i < 0 || i >= s.length()) return new Undefined("str object has no element " + key);
            return String.valueOf(s.charAt((int) i));
        }
        if (key instanceof String name) return getAttr(obj, name);
        return new Undefined("'" + Py.typeName(obj) + " object' has no element " + Py.repr(key));
    }

    private Object slice(Object obj, Slice sl, Scope scope) {
        if (obj instanceof Undefined u) throw u.error();
        Object st = sl.start() == null ? null : eval(sl.start(), scope);
        Object sp = sl.stop() == null ? null : eval(sl.stop(), scope);
        Object stepV = sl.step() == null ? null : eval(sl.step(), scope);
        List<Object> items;
        boolean isString = obj instanceof String;
        if (obj instanceof String s) {
            items = new ArrayList<>();
            for (char c : s.toCharArray()) items.add(String.valueOf(c));
        } else if (obj instanceof List<?> l) {
            items = new ArrayList<>(l);
        } else {
            throw new TemplateException("'" + Py.typeName(obj) + "' object is not subscriptable");
        }
        int n = items.size();
        long step = stepV == null ? 1 : Py.toLong(stepV);
        if (step == 0) throw new TemplateException("slice step cannot be zero");
        long start, stop;
        if (step > 0) {
            start = st == null ? 0 : clampIndex(Py.toLong(st), n, 0, n);
            stop = sp == null ? n : clampIndex(Py.toLong(sp), n, 0, n);
        } else {
            start = st == null ? n - 1 : clampIndex(Py.toLong(st), n, -1, n - 1);
            stop = sp == null ? -1 : clampIndex(Py.toLong(sp), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) out.add(items.get((int) i));
        if (isString) {
            StringBuilder sb = new StringBuilder();
            for (Object o : out) sb.append(o);
            return sb.toString();
        }
        return out;
    }

    private static long clampIndex(long i, int n, long lo, long hi) {
        if (i < 0) i += n;
        return Math.max(lo, Math.min(hi, i));
    }
}
