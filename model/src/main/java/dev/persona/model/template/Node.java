package dev.persona.model.template;

import java.util.List;

/** The syntax tree of a chat template: statements ({@link Stmt}) and expressions ({@link Expr}). */
interface Node {
    /** A statement or piece of output. */
    sealed interface Stmt extends Node permits Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, CallStmt, Scoped, CallBlock, FilterBlock { }

    /** An expression. */
    sealed interface Expr extends Node permits Literal, Var, GetAttr, GetItem, Slice, Call, Filter, Test, Unary, Binary,
            And, Or, Not, Compare, Conditional, ListLit, TupleLit, DictLit, Unpack { }

    record Text(String text) implements Stmt { }
    record Output(Expr expr) implements Stmt { }
    record If(List<Expr> conditions, List<List<Stmt>> bodies, List<Stmt> orElse) implements Stmt { }
    record For(List<String> targets, Expr iter, Expr filter, List<Stmt> body, List<Stmt> orElse) implements Stmt { }
    /** {@code set a = x}, {@code set a, b = x}, or {@code set ns.attr = x} (attr non-null). */
    record Set(List<String> targets, String attr, Expr value) implements Stmt { }
    record SetBlock(String target, List<Stmt> body) implements Stmt { }
    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body) implements Stmt { }
    record Break() implements Stmt { }
    record Continue() implements Stmt { }
    /** An expression statement such as {@code {% do x %}} (not used by chat templates, kept for completeness). */
    record CallStmt(Expr expr) implements Stmt { }
    /** A body rendered in place, e.g. transformers' {@code {% generation %}} block. */
    record Scoped(List<Stmt> body) implements Stmt { }

    /**
     * {@code {% call(params) m(args) %}body{% endcall %}}: calls {@code call} with the body as a macro
     * named {@code caller} (taking {@code params}, with {@code defaults}) that {@code m} may invoke.
     */
    record CallBlock(List<String> params, List<Expr> defaults, Call call, List<Stmt> body) implements Stmt { }
    /** {@code {% filter f(args)|g %}body{% endfilter %}}: the rendered body goes through {@code applied}, where it is {@link #FILTER_BODY}. */
    record FilterBlock(Expr applied, List<Stmt> body) implements Stmt { }
    /** The name the rendered body of a filter block has inside its filter chain (not a valid Jinja name, so it cannot clash). */
    String FILTER_BODY = "<filter body>";

    /** {@code *items} ({@code mapping} false) or {@code **mapping} (true) in a call's arguments. */
    record Unpack(Expr value, boolean mapping) implements Expr { }

    record Literal(Object value) implements Expr { }
    record Var(String name) implements Expr { }
    record GetAttr(Expr target, String name) implements Expr { }
    record GetItem(Expr target, Expr index) implements Expr { }
    record Slice(Expr start, Expr stop, Expr step) implements Expr { }
    record Call(Expr fn, List<Expr> args, List<String> kwNames, List<Expr> kwValues) implements Expr { }
    record Filter(Expr target, String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues) implements Expr { }
    record Test(Expr target, String name, List<Expr> args, boolean negated) implements Expr { }
    record Unary(String op, Expr operand) implements Expr { }
    record Binary(String op, Expr left, Expr right) implements Expr { }
    record And(Expr left, Expr right) implements Expr { }
    record Or(Expr left, Expr right) implements Expr { }
    record Not(Expr operand) implements Expr { }
    /** A comparison chain {@code a op1 b op2 c}; ops include "in" and "notin". */
    record Compare(Expr first, List<String> ops, List<Expr> rest) implements Expr { }
    record Conditional(Expr condition, Expr then, Expr orElse) implements Expr { }
    record ListLit(List<Expr> items) implements Expr { }
    record TupleLit(List<Expr> items) implements Expr { }
    record DictLit(List<Expr> keys, List<Expr> values) implements Expr { }
}
