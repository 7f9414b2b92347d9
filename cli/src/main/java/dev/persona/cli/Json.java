package dev.persona.cli;

import dev.persona.api.JsonText;

/** The JSON writer commands print with (the library's, so commands and API agree). */
final class Json {
    private Json() { }

    static String write(Object value) {
        return JsonText.write(value);
    }
}
