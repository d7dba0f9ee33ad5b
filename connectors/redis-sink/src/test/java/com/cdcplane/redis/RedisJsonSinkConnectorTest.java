package com.cdcplane.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.errors.ConnectException;
import org.junit.jupiter.api.Test;

/** validate(), start() and taskConfigs() of the connector; none of these contacts Redis. */
class RedisJsonSinkConnectorTest {
    private static final String SECRET = "s3cr3t-Pa55";

    private static Map<String, String> props(String... kv) {
        Map<String, String> m = new HashMap<>();
        m.put("connector.class", RedisJsonSinkConnector.class.getName());
        m.put("topics", "USER_AGGREGATE_EVENTS");
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static List<String> errors(Config config, String key) {
        return config.configValues().stream().filter(v -> v.name().equals(key)).findFirst()
                .map(ConfigValue::errorMessages).orElseThrow();
    }

    private static int errorCount(Config config) {
        return config.configValues().stream().mapToInt(v -> v.errorMessages().size()).sum();
    }

    @Test
    void aGoodConfigValidatesWithoutErrors() {
        Config c = new RedisJsonSinkConnector().validate(props("redis.uri", "redis://127.0.0.1:6379/0",
                "redis.command", "JSONSET", "redis.key.field", "NAME", "redis.window.field", "WINDOW_START"));
        assertEquals(0, errorCount(c), c.configValues().toString());
    }

    @Test
    void badUrisAreRejectedUnderRedisUriWithoutThePassword() {
        Map<String, String> cases = Map.of(
                "http://:" + SECRET + "@host:6379", "must start with redis:// or rediss://",
                "redis://:" + SECRET + "@host:notaport", "has no host, or its port is not a number",
                "localhost:6379", "must start with redis:// or rediss://",
                "redis://user:" + SECRET + "@host:6379/abc", "is not a database number",
                "redis://:" + SECRET + "@ho st:6379", "is not a valid URI",
                "", "is empty");
        for (Map.Entry<String, String> e : cases.entrySet()) {
            Config c = new RedisJsonSinkConnector().validate(props("redis.uri", e.getKey()));
            List<String> errs = errors(c, "redis.uri");
            assertEquals(1, errs.size(), e.getKey() + " -> " + errs);
            assertTrue(errs.get(0).contains(e.getValue()), e.getKey() + " -> " + errs.get(0));
            assertTrue(errs.get(0).contains("redis.uri"), errs.get(0));
            assertFalse(errs.get(0).contains(SECRET), "password leaked: " + errs.get(0));
            assertEquals(1, errorCount(c), "only redis.uri is wrong: " + c.configValues());
        }
    }

    @Test
    void aMissingUriIsAnErrorUnderRedisUri() {
        Config c = new RedisJsonSinkConnector().validate(props());
        List<String> errs = errors(c, "redis.uri");
        assertEquals(1, errs.size());
        assertTrue(errs.get(0).contains("Missing required configuration \"redis.uri\""), errs.get(0));
    }

    @Test
    void anyCommandButJsonSetIsRejectedNamingTheValue() {
        for (String command : List.of("HSET", "XADD", "SET", "JSON.SET")) {
            Config c = new RedisJsonSinkConnector().validate(props("redis.uri", "redis://h:1",
                    "redis.command", command));
            List<String> errs = errors(c, "redis.command");
            assertEquals(1, errs.size(), command);
            assertTrue(errs.get(0).contains("'" + command + "' is not supported"), errs.get(0));
            assertTrue(errs.get(0).contains("only implements JSONSET"), errs.get(0));
        }
        assertEquals(0, errorCount(new RedisJsonSinkConnector().validate(props("redis.uri", "redis://h:1",
                "redis.command", "jsonset"))));
    }

    @Test
    void startRejectsABadConfigWithoutThePassword() {
        RedisJsonSinkConnector connector = new RedisJsonSinkConnector();
        ConnectException e = assertThrows(ConnectException.class,
                () -> connector.start(props("redis.uri", "redis://:" + SECRET + "@host:6379/x")));
        assertTrue(e.getMessage().contains("redis.uri"), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET), e.getMessage());
    }

    @Test
    void everyTaskGetsTheConfigAndTasksMaxIsHonoured() {
        RedisJsonSinkConnector connector = new RedisJsonSinkConnector();
        Map<String, String> p = props("redis.uri", "redis://127.0.0.1:6379", "redis.key.field", "NAME");
        connector.start(p);
        List<Map<String, String>> tasks = connector.taskConfigs(3);
        assertEquals(3, tasks.size());
        tasks.forEach(t -> assertEquals(p, t));
        assertEquals(RedisJsonSinkTask.class, connector.taskClass());
        connector.stop();
    }

    @Test
    void theVersionComesFromThePom() {
        String version = new RedisJsonSinkConnector().version();
        assertNotEquals("unknown", version);
        assertTrue(version.matches("\\d+\\.\\d+\\.\\d+.*"), version);
        assertEquals(version, new RedisJsonSinkTask().version());
    }

    @Test
    void redactionMasksUriPasswordsAndKnownSecrets() {
        assertEquals("redis://app:***@h:1/0", Redaction.uri("redis://app:" + SECRET + "@h:1/0"));
        assertEquals("see rediss://:***@h:1 now", Redaction.uri("see rediss://:" + SECRET + "@h:1 now"));
        assertEquals("redis://h:1", Redaction.uri("redis://h:1"));
        Redaction r = new RedisJsonSinkConfig(props("redis.uri", "redis://:p%40ss@h:1",
                "redis.password", SECRET)).redaction();
        assertEquals("x *** y *** z ***", r.scrub("x " + SECRET + " y p@ss z p%40ss"));
    }
}
