package dev.persona.model.template;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a Jinja template into tokens with transformers' environment settings: {@code trim_blocks}
 * and {@code lstrip_blocks} on, {@code keep_trailing_newline} off, {@code -}/{@code +} whitespace
 * control on every tag kind. Comments are dropped here.
 */
final class Lexer {
    enum Type { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    /** A token, with the 1-based line and column where it starts in the template source. */
    record Token(Type type, String value, int line, int col) {
        boolean is(Type t, String v) {
            return type == t && value.equals(v);
        }

        @Override
        public String toString() {
            return type == Type.EOF ? "end of template" : "'" + value + "'";
        }
    }

    private final String src;
    private int pos;
    /** Offsets of the source's newlines: line and column of any offset, whatever whitespace control strips. */
    private final int[] newlines;
    private final List<Token> out = new ArrayList<>();
    /** The previous raw match ended with a newline (Jinja's line_starting for lstrip_blocks). */
    private boolean lineStarting = true;

    Lexer(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        this.src = s;
        String text = s;
        this.newlines = java.util.stream.IntStream.range(0, text.length()).filter(i -> text.charAt(i) == '\n').toArray();
    }

    /** 1-based line of {@code offset}. */
    int lineAt(int offset) {
        int k = java.util.Arrays.binarySearch(newlines, offset);
        return (k >= 0 ? k : -k - 1) + 1;
    }

    /** 1-based column of {@code offset}. */
    int colAt(int offset) {
        int line = lineAt(offset);
        int start = line == 1 ? 0 : newlines[line - 2] + 1;
        return offset - start + 1;
    }

    private Token tok(Type t, String v, int offset) {
        return new Token(t, v, lineAt(offset), colAt(offset));
    }

    /** "line L, column C" of {@code offset}, for errors. */
    private String where(int offset) {
        return "line " + lineAt(offset) + ", column " + colAt(offset);
    }

    List<Token> tokenize() {
        while (pos < src.length()) {
            int next = findTagStart(pos);
            int dataStart = pos;
            String text = src.substring(pos, next < 0 ? src.length() : next);
            if (next < 0) {
                emitData(text, dataStart);
                pos = src.length();
                break;
            }
            char kind = src.charAt(next + 1);
            char sign = next + 2 < src.length() ? src.charAt(next + 2) : 0;
            boolean minus = sign == '-', plus = sign == '+';
            if (minus) {
                text = rstripAll(text);
            } else if (!plus && kind != '{') {
                text = lstripBlock(text);
            }
            emitData(text, dataStart);
            pos = next + 2 + (minus || plus ? 1 : 0);
            if (kind == '#') {
                lexComment();
            } else if (kind == '%' && isRaw()) {
                lexRaw();
            } else {
                out.add(tok(kind == '{' ? Type.VAR_BEGIN : Type.BLOCK_BEGIN, "", next));
                lexTag(kind == '{' ? "}}" : "%}");
            }
        }
        out.add(tok(Type.EOF, "", src.length()));
        return out;
    }

    private int findTagStart(int from) {
        for (int i = from; i < src.length() - 1; i++) {
            if (src.charAt(i) == '{') {
                char c = src.charAt(i + 1);
                if (c == '{' || c == '%' || c == '#') return i;
            }
        }
        return -1;
    }

    private static String rstripAll(String s) {
        int e = s.length();
        while (e > 0 && Character.isWhitespace(s.charAt(e - 1))) e--;
        return s.substring(0, e);
    }

    /** lstrip_blocks: drop spaces and tabs between the last line start and a block or comment tag. */
    private String lstripBlock(String text) {
        int lpos = text.lastIndexOf('\n') + 1;
        if (lpos > 0 || lineStarting) {
            for (int i = lpos; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c != ' ' && c != '\t') return text;
            }
            return text.substring(0, lpos);
        }
        return text;
    }

    private void emitData(String text, int offset) {
        if (!text.isEmpty()) out.add(tok(Type.DATA, text, offset));
    }

    /** Consumes a tag's end: "-" strips all following whitespace, trim_blocks one newline after %} and #}. */
    private void endTag(String close, boolean blockLike) {
        boolean minus = false, plus = false;
        if (src.charAt(pos) == '-') {
            minus = true;
            pos++;
        } else if (src.charAt(pos) == '+') {
            plus = true;
            pos++;
        }
        pos += close.length();
        if (minus) {
            // Jinja's "-%}\s*": the whitespace belongs to the tag match
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) pos++;
            lineStarting = src.charAt(pos - 1) == '\n';
        } else if (blockLike && !plus && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            lineStarting = true;
        } else {
            lineStarting = false;
        }
    }

    private void lexComment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) throw new TemplateException("template syntax error at " + where(pos - 2) + ": unclosed comment");
        int closeAt = end;
        if (end > pos && (src.charAt(end - 1) == '-' || src.charAt(end - 1) == '+')) closeAt = end - 1;
        pos = closeAt;
        endTag("#}", true);
    }

    private boolean isRaw() {
        int p = pos;
        while (p < src.length() && Character.isWhitespace(src.charAt(p))) p++;
        return src.startsWith("raw", p) && !Character.isLetterOrDigit(src.charAt(p + 3));
    }

    private void lexRaw() {
        int close = src.indexOf("%}", pos);
        pos = close;
        endTag("%}", true);
        int end = src.indexOf("endraw", pos);
        if (end < 0) throw new TemplateException("template syntax error at " + where(pos) + ": unclosed raw block");
        int open = src.lastIndexOf("{%", end);
        int bodyStart = pos;
        String body = src.substring(pos, open);
        if (src.charAt(open + 2) == '-') body = rstripAll(body);
        emitData(body, bodyStart);
        pos = src.indexOf("%}", end) - (src.charAt(src.indexOf("%}", end) - 1) == '-' ? 1 : 0);
        endTag("%}", true);
    }

    private void lexTag(String close) {
        Type endType = close.equals("}}") ? Type.VAR_END : Type.BLOCK_END;
        while (true) {
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) pos++;
            if (pos >= src.length()) throw new TemplateException("template syntax error at " + where(pos) + ": unclosed tag, expected " + close);
            if (src.startsWith(close, pos) || ((src.charAt(pos) == '-' || src.charAt(pos) == '+') && src.startsWith(close, pos + 1))) {
                out.add(tok(endType, "", pos));
                endTag(close, endType == Type.BLOCK_END);
                return;
            }
            char c = src.charAt(pos);
            if (Character.isLetter(c) || c == '_') {
                int s = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
                out.add(tok(Type.NAME, src.substring(s, pos), s));
            } else if (Character.isDigit(c)) {
                lexNumber();
            } else if (c == '"' || c == '\'') {
                lexString(c);
            } else {
                String op = null;
                for (String o : new String[] {"//", "**", "==", "!=", "<=", ">="}) {
                    if (src.startsWith(o, pos)) {
                        op = o;
                        break;
                    }
                }
                if (op == null) {
                    if ("+-*/%~<>=()[]{}.,:|".indexOf(c) < 0) {
                        throw new TemplateException("template syntax error at " + where(pos) + ": unexpected character '" + c + "'");
                    }
                    op = String.valueOf(c);
                }
                out.add(tok(Type.OP, op, pos));
                pos += op.length();
            }
        }
    }

    private void lexNumber() {
        int s = pos;
        while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        boolean isFloat = false;
        if (pos + 1 < src.length() && src.charAt(pos) == '.' && Character.isDigit(src.charAt(pos + 1))) {
            isFloat = true;
            pos++;
            while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
        }
        if (pos < src.length() && (src.charAt(pos) == 'e' || src.charAt(pos) == 'E')) {
            int p = pos + 1;
            if (p < src.length() && (src.charAt(p) == '+' || src.charAt(p) == '-')) p++;
            if (p < src.length() && Character.isDigit(src.charAt(p))) {
                isFloat = true;
                pos = p;
                while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
            }
        }
        out.add(tok(isFloat ? Type.FLOAT : Type.INT, src.substring(s, pos).replace("_", ""), s));
    }

    private void lexString(char quote) {
        StringBuilder sb = new StringBuilder();
        int start = pos;
        pos++;
        while (true) {
            if (pos >= src.length()) throw new TemplateException("template syntax error at " + where(start) + ": unterminated string");
            char c = src.charAt(pos++);
            if (c == quote) break;
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = src.charAt(pos++);
            switch (e) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'a' -> sb.append('\u0007');
                case 'v' -> sb.append('\u000b');
                case '0' -> sb.append('\0');
                case '\\' -> sb.append('\\');
                case '\'' -> sb.append('\'');
                case '"' -> sb.append('"');
                case '\n' -> { }
                case 'x' -> {
                    sb.append((char) Integer.parseInt(src.substring(pos, pos + 2), 16));
                    pos += 2;
                }
                case 'u' -> {
                    sb.append((char) Integer.parseInt(src.substring(pos, pos + 4), 16));
                    pos += 4;
                }
                case 'U' -> {
                    sb.appendCodePoint(Integer.parseInt(src.substring(pos, pos + 8), 16));
                    pos += 8;
                }
                default -> sb.append('\\').append(e);
            }
        }
        out.add(tok(Type.STRING, sb.toString(), start));
    }
}
