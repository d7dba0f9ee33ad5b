package com.cdcplane.redis;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import redis.clients.jedis.Protocol.Command;

/** Base of the task tests: one real redis-server with RedisJSON per test class, emptied before each test. */
abstract class RealRedisTaskTest {
    static RedisServer redis;

    private final List<RedisJsonSinkTask> tasks = new ArrayList<>();

    @BeforeAll
    static void startRedis() throws Exception {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    @BeforeEach
    void flush() {
        redis.call(Command.FLUSHALL);
    }

    @AfterEach
    void stopTasks() {
        tasks.forEach(RedisJsonSinkTask::stop);
    }

    /** A started task on this class's Redis with the given settings (key, value, key, value ...). */
    RedisJsonSinkTask task(TestContext context, String... kv) {
        Map<String, String> props = new HashMap<>();
        props.put("redis.uri", redis.uri());
        for (int i = 0; i < kv.length; i += 2) {
            props.put(kv[i], kv[i + 1]);
        }
        RedisJsonSinkTask task = new RedisJsonSinkTask();
        task.initialize(context);
        task.start(props);
        tasks.add(task);
        return task;
    }

    RedisJsonSinkTask task(String... kv) {
        return task(new TestContext(false), kv);
    }
}
