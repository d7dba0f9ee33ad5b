package com.cdcplane.redis;

import java.nio.charset.StandardCharsets;

import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.json.JsonProtocol.JsonCommand;

/** A {@link RedisProcess} plus a Jedis client for the tests' own setup and checks. */
final class RedisServer implements AutoCloseable {
    final int port;
    final String password;
    private final RedisProcess process;
    private RedisClient admin;

    private RedisServer(String password) throws Exception {
        this.process = new RedisProcess(password);
        this.port = process.port;
        this.password = password;
    }

    static RedisServer start() throws Exception {
        return new RedisServer(null);
    }

    static RedisServer startWithPassword(String password) throws Exception {
        return new RedisServer(password);
    }

    String uri() {
        return process.uri();
    }

    /** Stops the process but keeps the port, for {@link #restart}. */
    void kill() throws InterruptedException {
        process.stop();
    }

    void restart() throws Exception {
        process.stop();
        process.start();
        if (admin != null) {
            admin.close(); // its pooled connections died with the old process
            admin = null;
        }
    }

    Object call(ProtocolCommand command, String... args) {
        Object reply = admin().sendCommand(command, args);
        return reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : reply;
    }

    /** JSON.GET key: the stored document as compact JSON, or null when the key is absent. */
    String jsonGet(String key) {
        return (String) call(JsonCommand.GET, key);
    }

    RedisClient admin() {
        if (admin == null) {
            admin = RedisClient.builder().hostAndPort(new HostAndPort("127.0.0.1", port))
                    .clientConfig(DefaultJedisClientConfig.builder().password(password).build()).build();
        }
        return admin;
    }

    @Override
    public void close() throws Exception {
        if (admin != null) {
            admin.close();
        }
        process.close();
    }
}
