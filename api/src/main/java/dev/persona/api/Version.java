package dev.persona.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The version of this build, from the Maven project (recorded as persona_version in vector files). */
public final class Version {
    /** e.g. {@code 0.1.0-SNAPSHOT}; "unknown" when the resource is missing (a build outside Maven). */
    public static final String PERSONA = read();

    private Version() { }

    private static String read() {
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
