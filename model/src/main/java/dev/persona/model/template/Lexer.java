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

    record Token(Type type, String value, int line) {
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
    private int line = 1;
    private final List<Token> out = new ArrayList<>();
    /** The previous raw match ended with a newline (Jinja's line_starting for lstrip_blocks). */
    private boolean lineStarting = true;

    Lexer(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        if (s.endsWith("\n")) s = s.substring(0, s.length() - 1);
        this.src = s;
    }

    List<Token> tokenize() {
        while (pos < src.length()) {
            int next = findTagStart(pos);
            String text = src.substring(pos, next < 0 ? src.length() : next);
            if (next < 0) {
                emitData(text);
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
            emitData(text);
            pos = next + 2 + (minus || plus ? 1 : 0);
            if (kind == '#') {
                lexComment();
            } else if (kind == '%' && isRaw()) {
                lexRaw();
            } else {
                out.add(new Token(kind == '{' ? Type.VAR_BEGIN : Type.BLOCK_BEGIN, "", line));
                lexTag(kind == '{' ? "}}" : "%}");
            }
        }
        out.add(new Token(Type.EOF, "", line));
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

    private void emitData(String text) {
        if (!text.isEmpty()) out.add(new Token(Type.DATA, text, line));
        for (int i = 0; i < text.length(); i++) if (text.charAt(i) == '\n') line++;
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
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
                if (src.charAt(pos) == '\n') line++;
                pos++;
            }
            lineStarting = src.charAt(pos - 1) == '\n';
        } else if (blockLike && !plus && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            line++;
            lineStarting = true;
        } else {
            lineStarting = false;
        }
    }

    private void lexComment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) throw new TemplateException("line " + line + ": unclosed comment");
        int closeAt = end;
        if (end > pos && (src.charAt(end - 1) == '-' || src.charAt(end - 1) == '+')) closeAt = end - 1;
        for (int i = pos; i < closeAt; i++) if (src.charAt(i) == '\n') line++;
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
        if (end < 0) throw new TemplateException("line " + line + ": unclosed raw block");
        int open = src.lastIndexOf("{%", end);
        String body = src.substring(pos, open);
        if (src.charAt(open + 2) == '-') body = rstripAll(body);
        emitData(body);
        pos = src.indexOf("%}", end) - (src.charAt(src.indexOf("%}", end) - 1) == '-' ? 1 : 0);
        endTag("%}", true);
    }

    private void lexTag(String close) {
        Type endType = close.equals("}}") ? Type.VAR_END : Type.BLOCK_END;
        while (true) {
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
                if (src.charAt(pos) == '\n') line++;
                pos++;
            }
            if (pos >= src.length()) throw new TemplateException("line " + line + ": unclosed tag, expected " + close);
            if (src.startsWith(close, pos) || ((src.charAt(pos) == '-' || src.charAt(pos) == '+') && src.startsWith(close, pos + 1))) {
                out.add(new Token(endType, "", line));
                endTag(close, endType == Type.BLOCK_END);
                return;
            }
            char c = src.charAt(pos);
            if (Character.isLetter(c) || c == '_') {
                int s = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) pos++;
                out.add(new Token(Type.NAME, src.substring(s, pos), line));
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
                        throw new TemplateException("line " + line + ": unexpected character '" + c + "'");
                    }
                    op = String.valueOf(c);
                }
                pos += op.length();
                out.add(new Token(Type.OP, op, line));
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
        out.add(new Token(isFloat ? Type.FLOAT : Type.INT, src.substring(s, pos).replace("_", ""), line));
    }

    private void lexString(char quote) {
        StringBuilder sb = new StringBuilder();
        pos++;
        while (true) {
            if (pos >= src.length()) throw new TemplateException("line " + line + ": unterminated string");
            char c = src.charAt(pos++);
            if (c == quote) break;
            if (c == '\n') line++;
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
                case '\n' -> line++;
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
        out.add(new Token(Type.STRING, sb.toString(), line));
    }
}
