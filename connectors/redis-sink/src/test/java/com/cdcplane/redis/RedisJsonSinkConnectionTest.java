package com.cdcplane.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Authentication, lost connections and password hygiene, against a real redis-server with requirepass. */
class RedisJsonSinkConnectionTest {
    private static final String PASSWORD = "Pw-7f3c9e1d";
    private static RedisServer redis;

    @BeforeAll
    static void startRedis() throws Exception {
        redis = RedisServer.startWithPassword(PASSWORD);
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    private static RedisJsonSinkTask task(TestContext context, String... kv) {
        Map<String, String> props = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            props.put(kv[i], kv[i + 1]);
        }
        RedisJsonSinkTask task = new RedisJsonSinkTask();
        task.initialize(context);
        task.start(props);
        return task;
    }

    private static List<SinkRecord> batch(String id) {
        return List.of(new SinkRecord("T", 0, null, id, null, Map.of("NAME", id), 0));
    }

    @Test
    void thePasswordCanComeFromTheUriOrFromRedisPassword() {
        RedisJsonSinkTask inUri = task(new TestContext(false),
                "redis.uri", "redis://:" + PASSWORD + "@127.0.0.1:" + redis.port);
        inUri.put(batch("a"));
        inUri.stop();
        RedisJsonSinkTask separate = task(new TestContext(false),
                "redis.uri", "redis://default:wrong@127.0.0.1:" + redis.port, "redis.password", PASSWORD);
        separate.put(batch("b"));
        separate.stop();
        assertEquals("{\"NAME\":\"a\"}", redis.jsonGet("T:a"));
        assertEquals("{\"NAME\":\"b\"}", redis.jsonGet("T:b"));
    }

    @Test
    void refusedCredentialsFailTheTaskWithoutThePassword() {
        String wrong = "Wr0ng-" + PASSWORD;
        RedisJsonSinkTask t = task(new TestContext(false),
                "redis.uri", "redis://:" + wrong + "@127.0.0.1:" + redis.port);
        ConnectException e = assertThrows(ConnectException.class, () -> t.put(batch("c")));
        t.stop();
        assertFalse(e instanceof RetriableException, "bad credentials do not heal by retrying: " + e);
        assertTrue(e.getMessage().contains("refused the credentials"), e.getMessage());
        assertTrue(e.getMessage().contains("WRONGPASS") || e.getMessage().contains("invalid password"),
                e.getMessage());
        assertFalse(e.getMessage().contains(wrong), e.getMessage());
        assertTrue(e.getMessage().contains("redis://:***@127.0.0.1:" + redis.port), e.getMessage());

        RedisJsonSinkTask noPassword = task(new TestContext(false), "redis.uri", redis.uri());
        ConnectException auth = assertThrows(ConnectException.class, () -> noPassword.put(batch("d")));
        noPassword.stop();
        assertTrue(auth.getMessage().contains("NOAUTH"), auth.getMessage());
    }

    @Test
    void anUnreachableRedisIsRetriableAndTheTaskRecoversWhenItIsBack() throws Exception {
        RedisServer own = RedisServer.startWithPassword(PASSWORD);
        PrintStream err = System.err;
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8));
            TestContext context = new TestContext(false);
            RedisJsonSinkTask t = task(context, "redis.uri", "redis://:" + PASSWORD + "@127.0.0.1:" + own.port,
                    "redis.timeout", "2");
            t.put(batch("before"));
            own.kill();
            RetriableException down = assertThrows(RetriableException.class, () -> t.put(batch("during")));
            assertTrue(down.getMessage().contains("unreachable"), down.getMessage());
            assertTrue(down.getMessage().contains("127.0.0.1:" + own.port), down.getMessage());
            assertFalse(down.getMessage().contains(PASSWORD), down.getMessage());
            assertEquals(List.of(RedisJsonSinkTask.RETRY_BACKOFF_MS), context.timeouts);

            own.restart();
            t.put(batch("after")); // Connect redelivers the batch; the pool replaces the dead connection
            assertEquals("{\"NAME\":\"after\"}", own.jsonGet("T:after"));
            t.stop();
        } finally {
            System.setErr(err);
            own.close();
        }
        String log = logs.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("writing to redis://:***@127.0.0.1:" + own.port), "start line missing: " + log);
        assertTrue(log.contains("batch of 1: 1 written"), "debug batch line missing: " + log);
        assertFalse(log.contains(PASSWORD), "password in logs: " + log);
    }

    @Test
    void aPortWithNoServerIsRetriable() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 0, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        TestContext context = new TestContext(false);
        RedisJsonSinkTask t = task(context, "redis.uri", "redis://app:" + PASSWORD + "@127.0.0.1:" + port);
        RetriableException e = assertThrows(RetriableException.class, () -> t.put(batch("x")));
        t.stop();
        assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
        assertTrue(e.getMessage().contains("redis://app:***@127.0.0.1:" + port), e.getMessage());
        assertEquals(1, context.timeouts.size());
    }
}
