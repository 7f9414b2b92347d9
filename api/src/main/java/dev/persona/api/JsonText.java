package dev.persona.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.nio.file.Path;

/**
 * Result records as JSON, the way {@code --json} prints them: snake_case fields (see each record),
 * paths as plain strings, indented.
 */
public final class JsonText {
    /** The shared writer. */
    public static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .registerModule(new SimpleModule("persona-paths").addSerializer(Path.class, ToStringSerializer.instance));

    private JsonText() { }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("result not serialisable as JSON: " + e.getOriginalMessage(), e);
        }
    }
}
