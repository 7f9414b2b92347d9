package dev.persona.server;

import dev.persona.model.PersonaException;

/**
 * Where and how {@code persona serve} listens.
 *
 * @param host          address to bind; anything but loopback needs an API key (or {@code insecureNoKey})
 * @param port          TCP port; 0 picks a free one
 * @param apiKey        bearer token every /v1 and /metrics request must carry, or null for none
 * @param insecureNoKey allow a non-loopback bind without a key (a warning is printed)
 * @param maxBodyBytes  largest request body accepted; larger ones get 413
 * @param modelName     the model id clients send and /v1/models lists
 */
public record ServeOptions(String host, int port, String apiKey, boolean insecureNoKey, long maxBodyBytes, String modelName) {
    public ServeOptions {
        if (port < 0 || port > 65535) throw new PersonaException("--port " + port + " is outside 0..65535", "pass a TCP port, e.g. --port 8000");
        if (maxBodyBytes < 1024) throw new PersonaException("body limit " + maxBodyBytes + " bytes is too small", "allow at least 1024 bytes");
        if (apiKey != null && apiKey.isEmpty()) throw new PersonaException("the API key is empty", "set the key variable to a non-empty secret");
        if (apiKey == null && !insecureNoKey && !isLoopback(host)) {
            throw new PersonaException("binding " + host + " (not loopback) without an API key would let anyone on the network use the model",
                    "set a key: --api-key-env VAR with VAR holding a secret; or bind 127.0.0.1; or pass --insecure-no-key if you mean it");
        }
    }

    /** 127.0.0.1:8000, no key, 1 MiB bodies. */
    public static ServeOptions defaults(String modelName) {
        return new ServeOptions("127.0.0.1", 8000, null, false, 1 << 20, modelName);
    }

    public ServeOptions host(String v) {
        return new ServeOptions(v, port, apiKey, insecureNoKey, maxBodyBytes, modelName);
    }

    public ServeOptions port(int v) {
        return new ServeOptions(host, v, apiKey, insecureNoKey, maxBodyBytes, modelName);
    }

    public ServeOptions apiKey(String v) {
        return new ServeOptions(host, port, v, insecureNoKey, maxBodyBytes, modelName);
    }

    public ServeOptions insecureNoKey(boolean v) {
        return new ServeOptions(host, port, apiKey, v, maxBodyBytes, modelName);
    }

    public ServeOptions maxBodyBytes(long v) {
        return new ServeOptions(host, port, apiKey, insecureNoKey, v, modelName);
    }

    /** Whether {@code host} is a loopback address (127.0.0.0/8, ::1, localhost). */
    public static boolean isLoopback(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1") || host.startsWith("127.");
    }
}
