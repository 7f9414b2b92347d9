package dev.persona.model.template;

import dev.persona.model.template.Lexer.Token;
import dev.persona.model.template.Lexer.Type;
import dev.persona.model.template.Node.*;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Recursive-descent parser for the Jinja subset chat templates use, with Jinja's operator precedence. */
final class Parser {
    private final List<Token> tokens;
    private int i;

    Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    List<Stmt> parseTemplate() {
        List<Stmt> body = parseBody(Set.of());
        if (peek().type() != Type.EOF) throw error("unexpected '" + peek().value() + "'");
        return body;
    }

    private Token peek() {
        return tokens.get(i);
    }

    private Token peek(int ahead) {
        return tokens.get(Math.min(i + ahead, tokens.size() - 1));
    }

    private Token next() {
        return tokens.get(i++);
    }

    private TemplateException error(String msg) {
        return new TemplateException("template syntax error at line " + peek().line() + ", column " + peek().col() + ": " + msg);
    }

    private boolean atOp(String op) {
        return peek().is(Type.OP, op);
    }

    private boolean atName(String name) {
        return peek().is(Type.NAME, name);
    }

    private void expectOp(String op) {
        if (!atOp(op)) throw error("expected '" + op + "', found " + peek());
        i++;
    }

    private void expectName(String name) {
        if (!atName(name)) throw error("expected '" + name + "', found " + peek());
        i++;
    }

    private String name() {
        if (peek().type() != Type.NAME) throw error("expected a name, found " + peek());
        return next().value();
    }

    private void expect(Type t) {
        if (peek().type() != t) throw error("expected " + t + ", found " + peek());
        i++;
    }

    /** Parses statements until a block tag whose keyword is in {@code enders} (left unconsumed, after BLOCK_BEGIN). */
    private List<Stmt> parseBody(Set<String> enders) {
        List<Stmt> out = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.type()) {
                case EOF -> {
                    if (!enders.isEmpty()) throw error("unexpected end of template, expected one of " + enders);
                    return out;
                }
                case DATA -> out.add(new Text(next().value()));
                case VAR_BEGIN -> {
                    next();
                    out.add(new Output(parseExpr()));
                    expect(Type.VAR_END);
                }
                case BLOCK_BEGIN -> {
                    Token kw = peek(1);
                    if (kw.type() == Type.NAME && enders.contains(kw.value())) return out;
                    next();
                    out.add(parseStatement());
                }
                default -> throw error("unexpected " + t);
            }
        }
    }

    private Stmt parseStatement() {
        String kw = name();
        switch (kw) {
            case "if" -> {
                List<Expr> conds = new ArrayList<>();
                List<List<Stmt>> bodies = new ArrayList<>();
                List<Stmt> orElse = List.of();
                conds.add(parseExpr());
                expect(Type.BLOCK_END);
                bodies.add(parseBody(Set.of("elif", "else", "endif")));
                while (true) {
                    expect(Type.BLOCK_BEGIN);
                    String k = name();
                    if (k.equals("elif")) {
                        conds.add(parseExpr());
                        expect(Type.BLOCK_END);
                        bodies.add(parseBody(Set.of("elif", "else", "endif")));
                    } else if (k.equals("else")) {
                        expect(Type.BLOCK_END);
                        orElse = parseBody(Set.of("endif"));
                    } else {
                        expect(Type.BLOCK_END);
                        return new If(conds, bodies, orElse);
                    }
                }
            }
            case "for" -> {
                List<String> targets = new ArrayList<>();
                boolean paren = atOp("(");
                if (paren) next();
                targets.add(name());
                while (atOp(",")) {
                    next();
                    targets.add(name());
                }
                if (paren) expectOp(")");
                expectName("in");
                Expr iter = parseOr();
                Expr filter = null;
                if (atName("if")) {
                    next();
                    filter = parseOr();
                }
                if (atName("recursive")) throw error("recursive loops are not supported");
                expect(Type.BLOCK_END);
                List<Stmt> body = parseBody(Set.of("else", "endfor"));
                expect(Type.BLOCK_BEGIN);
                List<Stmt> orElse = List.of();
                if (name().equals("else")) {
                    expect(Type.BLOCK_END);
                    orElse = parseBody(Set.of("endfor"));
                    expect(Type.BLOCK_BEGIN);
                    expectName("endfor");
                }
                expect(Type.BLOCK_END);
                return new For(targets, iter, filter, body, orElse);
            }
            case "set" -> {
                String first = name();
                if (atOp(".")) {
                    next();
                    String attr = name();
                    expectOp("=");
                    Expr v = parseExpr();
                    expect(Type.BLOCK_END);
                    return new Node.Set(List.of(first), attr, v);
                }
                List<String> targets = new ArrayList<>(List.of(first));
                while (atOp(",")) {
                    next();
                    targets.add(name());
                }
                if (peek().type() == Type.BLOCK_END && targets.size() == 1) {
                    next();
                    List<Stmt> body = parseBody(Set.of("endset"));
                    expect(Type.BLOCK_BEGIN);
                    expectName("endset");
                    expect(Type.BLOCK_END);
                    return new SetBlock(first, body);
                }
                expectOp("=");
                Expr v = parseTupleOrExpr();
                expect(Type.BLOCK_END);
                return new Node.Set(targets, null, v);
            }
            case "macro" -> {
                String n = name();
                List<String> params = new ArrayList<>();
                List<Expr> defaults = new ArrayList<>();
                parseParams(params, defaults);
                expect(Type.BLOCK_END);
                List<Stmt> body = parseBody(Set.of("endmacro"));
                expect(Type.BLOCK_BEGIN);
                expectName("endmacro");
                if (peek().type() == Type.NAME) next();
                expect(Type.BLOCK_END);
                return new Macro(n, params, defaults, body);
            }
            case "call" -> {
                List<String> params = new ArrayList<>();
                List<Expr> defaults = new ArrayList<>();
                if (atOp("(")) parseParams(params, defaults);
                Expr target = parseExpr();
                if (!(target instanceof Call call)) throw error("a call block needs a call, e.g. {% call m(x) %}");
                expect(Type.BLOCK_END);
                List<Stmt> body = parseBody(Set.of("endcall"));
                expect(Type.BLOCK_BEGIN);
                expectName("endcall");
                expect(Type.BLOCK_END);
                return new CallBlock(params, defaults, call, body);
            }
            case "filter" -> {
                // the chain after "filter" applies to the body as if it were "body | f(args) | g"
                Expr applied = parseFilter(new Var(Node.FILTER_BODY));
                while (atOp("|")) {
                    next();
                    applied = parseFilter(applied);
                }
                expect(Type.BLOCK_END);
                List<Stmt> body = parseBody(Set.of("endfilter"));
                expect(Type.BLOCK_BEGIN);
                expectName("endfilter");
                expect(Type.BLOCK_END);
                return new FilterBlock(applied, body);
            }
            case "generation" -> {
                expect(Type.BLOCK_END);
                List<Stmt> body = parseBody(Set.of("endgeneration"));
                expect(Type.BLOCK_BEGIN);
                expectName("endgeneration");
                expect(Type.BLOCK_END);
                return new Scoped(body);
            }
            case "break" -> {
                expect(Type.BLOCK_END);
                return new Break();
            }
            case "continue" -> {
                expect(Type.BLOCK_END);
                return new Continue();
            }
            case "do" -> {
                Expr e = parseExpr();
                expect(Type.BLOCK_END);
                return new CallStmt(e);
            }
            default -> throw new TemplateException("template syntax error at line " + tokens.get(i - 1).line() + ", column " + tokens.get(i - 1).col()
                    + ": unknown tag '" + kw + "'");
        }
    }

    // ------------------------------------------------------------ expressions

    private Expr parseTupleOrExpr() {
        Expr first = parseExpr();
        if (!atOp(",")) return first;
        List<Expr> items = new ArrayList<>(List.of(first));
        while (atOp(",")) {
            next();
            if (peek().type() == Type.BLOCK_END) break;
            items.add(parseExpr());
        }
        return new TupleLit(items);
    }

    Expr parseExpr() {
        Expr e = parseOr();
        if (atName("if")) {
            next();
            Expr cond = parseOr();
            Expr orElse = null;
            if (atName("else")) {
                next();
                orElse = parseExpr();
            }
            return new Conditional(cond, e, orElse);
        }
        return e;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (atName("or")) {
            next();
            left = new Or(left, parseAnd());
        }
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (atName("and")) {
            next();
            left = new And(left, parseNot());
        }
        return left;
    }

    private Expr parseNot() {
        if (atName("not")) {
            next();
            return new Not(parseNot());
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.type() == Type.OP && Set.of("==", "!=", "<", ">", "<=", ">=").contains(t.value())) {
                next();
                ops.add(t.value());
            } else if (atName("in")) {
                next();
                ops.add("in");
            } else if (atName("not") && peek(1).is(Type.NAME, "in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Compare(first, ops, rest);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (atOp("+") || atOp("-")) {
            String op = next().value();
            left = new Binary(op, left, parseConcat());
        }
        return left;
    }

    private Expr parseConcat() {
        Expr left = parseMath2();
        while (atOp("~")) {
            next();
            left = new Binary("~", left, parseMath2());
        }
        return left;
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (atOp("*") || atOp("/") || atOp("//") || atOp("%")) {
            String op = next().value();
            left = new Binary(op, left, parsePow());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (atOp("**")) {
            next();
            left = new Binary("**", left, parseUnary(true));
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        Expr e;
        if (atOp("-")) {
            next();
            e = new Unary("-", parseUnary(false));
        } else if (atOp("+")) {
            next();
            e = new Unary("+", parseUnary(false));
        } else {
            e = parsePostfix(parsePrimary());
        }
        return withFilter ? parseFilterExpr(e) : e;
    }

    private Expr parsePrimary() {
        Token t = next();
        switch (t.type()) {
            case NAME -> {
                return switch (t.value()) {
                    case "true", "True" -> new Literal(Boolean.TRUE);
                    case "false", "False" -> new Literal(Boolean.FALSE);
                    case "none", "None" -> new Literal(null);
                    default -> new Var(t.value());
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder(t.value());
                while (peek().type() == Type.STRING) sb.append(next().value());
                return new Literal(sb.toString());
            }
            case INT -> {
                return new Literal(Long.parseLong(t.value()));
            }
            case FLOAT -> {
                return new Literal(Double.parseDouble(t.value()));
            }
            case OP -> {
                switch (t.value()) {
                    case "(" -> {
                        if (atOp(")")) {
                            next();
                            return new TupleLit(List.of());
                        }
                        Expr e = parseExpr();
                        if (atOp(",")) {
                            List<Expr> items = new ArrayList<>(List.of(e));
                            while (atOp(",")) {
                                next();
                                if (atOp(")")) break;
                                items.add(parseExpr());
                            }
                            expectOp(")");
                            return new TupleLit(items);
                        }
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        List<Expr> items = new ArrayList<>();
                        while (!atOp("]")) {
                            items.add(parseExpr());
                            if (!atOp("]")) expectOp(",");
                        }
                        next();
                        return new ListLit(items);
                    }
                    case "{" -> {
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!atOp("}")) {
                            keys.add(parseExpr());
                            expectOp(":");
                            values.add(parseExpr());
                            if (!atOp("}")) expectOp(",");
                        }
                        next();
                        return new DictLit(keys, values);
                    }
                    default -> {
                        i--;
                        throw error("unexpected '" + t.value() + "'");
                    }
                }
            }
            default -> {
                i--;
                throw error("unexpected " + t);
            }
        }
    }

    private Expr parsePostfix(Expr e) {
        while (true) {
            if (atOp(".")) {
                next();
                Token t = next();
                if (t.type() == Type.NAME) e = new GetAttr(e, t.value());
                else if (t.type() == Type.INT) e = new GetItem(e, new Literal(Long.parseLong(t.value())));
                else throw error("expected an attribute name after '.'");
            } else if (atOp("[")) {
                next();
                e = new GetItem(e, parseSubscript());
                expectOp("]");
            } else if (atOp("(")) {
                e = parseCall(e);
            } else {
                return e;
            }
        }
    }

    private Expr parseSubscript() {
        Expr start = null, stop = null, step = null;
        if (!atOp(":")) {
            start = parseExpr();
            if (!atOp(":")) return start;
        }
        expectOp(":");
        if (!atOp("]") && !atOp(":")) stop = parseExpr();
        if (atOp(":")) {
            next();
            if (!atOp("]")) step = parseExpr();
        }
        return new Slice(start, stop, step);
    }

    /** {@code (a, b=default, ...)} of a macro or a call block, into {@code params} and {@code defaults} (null: none). */
    private void parseParams(List<String> params, List<Expr> defaults) {
        expectOp("(");
        while (!atOp(")")) {
            params.add(name());
            if (atOp("=")) {
                next();
                defaults.add(parseExpr());
            } else {
                defaults.add(null);
            }
            if (!atOp(")")) expectOp(",");
        }
        next();
    }

    /** {@code name} or {@code name(args)} after a {@code |}, applied to {@code target}. */
    private Expr parseFilter(Expr target) {
        String n = name();
        if (!atOp("(")) return new Filter(target, n, List.of(), List.of(), List.of());
        Call c = parseCall(null);
        return new Filter(target, n, c.args(), c.kwNames(), c.kwValues());
    }

    private Call parseCall(Expr fn) {
        expectOp("(");
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        while (!atOp(")")) {
            if (atOp("**")) {
                // **mapping: its items become keyword arguments
                next();
                args.add(new Unpack(parseExpr(), true));
            } else if (atOp("*")) {
                // *items: its elements become positional arguments
                next();
                args.add(new Unpack(parseExpr(), false));
            } else if (peek().type() == Type.NAME && peek(1).is(Type.OP, "=")) {
                kwNames.add(next().value());
                next();
                kwValues.add(parseExpr());
            } else {
                args.add(parseExpr());
            }
            if (!atOp(")")) expectOp(",");
        }
        next();
        return new Call(fn, args, kwNames, kwValues);
    }

    private Expr parseFilterExpr(Expr e) {
        while (true) {
            if (atOp("|")) {
                next();
                e = parseFilter(e);
            } else if (atName("is")) {
                next();
                boolean neg = false;
                if (atName("not")) {
                    next();
                    neg = true;
                }
                String n = name();
                List<Expr> args = new ArrayList<>();
                if (atOp("(")) {
                    args.addAll(parseCall(null).args());
                } else if (startsTestArgument()) {
                    args.add(parseUnary(false));
                }
                e = new Test(e, n, args, neg);
            } else if (atOp("(")) {
                e = parseCall(e);
            } else {
                return e;
            }
        }
    }

    /** Jinja allows one bare argument after a test name (e.g. {@code is divisibleby 3}). */
    private boolean startsTestArgument() {
        Token t = peek();
        if (t.type() == Type.STRING || t.type() == Type.INT || t.type() == Type.FLOAT) return true;
        if (t.type() == Type.NAME) return !Set.of("else", "or", "and", "if", "is", "in", "not").contains(t.value());
        return t.type() == Type.OP && (t.value().equals("[") || t.value().equals("{"));
    }
}
