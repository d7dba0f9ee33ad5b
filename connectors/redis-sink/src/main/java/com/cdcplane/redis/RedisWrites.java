package com.cdcplane.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;

import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisBusyException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.json.JsonProtocol.JsonCommand;

/**
 * Sends one batch of writes to Redis in a single pipeline (one round trip) and returns once Redis answered every
 * command, so Connect commits offsets only for acknowledged writes.
 *
 * <p>Errors: a lost or refused connection, a timeout, or Redis LOADING/BUSY is a {@link RetriableException}
 * (Connect redelivers the batch, every write being idempotent). A command Redis rejects (for example a key of
 * another type: RedisJSON's "Existing key has wrong Redis type") and refused credentials are a
 * {@link ConnectException} that fails the task, naming the key and record. Messages pass through
 * {@link Redaction}, so no password reaches them.
 */
final class RedisWrites implements AutoCloseable {
    // the replay guard's functions are shared by both scripts: Redis scripts cannot include one another
    static final String SET_SCRIPT = script("replay-guard.lua") + script("latest-window-set.lua");
    static final String DELETE_SCRIPT = script("replay-guard.lua") + script("same-window-delete.lua");

    /** One write; {@code window} is null for a write without the window rule. */
    record Op(Kind kind, String key, String doc, RecordFields.Window window, SinkRecord origin) {
    }

    enum Kind { SET, SET_IF_NOT_OLDER, DELETE_IF_SAME_WINDOW }

    /** What a batch did, for the task's debug log and for tests. */
    record Outcome(int written, int stale, int deleted, int tombstonesKept, int replayed) {
    }

    private final RedisClient client;
    private final Redaction redaction;
    private final String endpoint;
    private final String windowField;
    private final String offsetsKey;
    private String setSha;
    private String deleteSha;

    RedisWrites(RedisJsonSinkConfig config) {
        this.redaction = config.redaction();
        this.endpoint = config.safeUri();
        this.windowField = config.windowField();
        this.offsetsKey = config.offsetsKey();
        DefaultJedisClientConfig.Builder cc = DefaultJedisClientConfig.builder()
                .user(config.user())
                .password(config.password())
                .database(config.database())
                .ssl(config.tls())
                .connectionTimeoutMillis(config.timeoutMillis())
                .socketTimeoutMillis(config.timeoutMillis())
                .clientName("redis-json-sink");
        // connections are opened lazily, on the first put: start() never fails for an unreachable Redis
        this.client = RedisClient.builder()
                .hostAndPort(new HostAndPort(config.uri().getHost(), config.port()))
                .clientConfig(cc.build())
                .build();
    }

    Outcome write(List<Op> ops) {
        if (ops.isEmpty()) {
            return new Outcome(0, 0, 0, 0, 0);
        }
        try {
            return attempt(ops);
        } catch (NoScript e) {
            // the script cache is empty after a Redis restart or SCRIPT FLUSH: reload and replay the batch;
            // replaying is safe because every write is idempotent and applied in record order
            setSha = null;
            deleteSha = null;
            try {
                return attempt(ops);
            } catch (NoScript again) {
                throw new ConnectException("Redis at " + endpoint + " answered NOSCRIPT right after SCRIPT LOAD");
            }
        }
    }

    private Outcome attempt(List<Op> ops) {
        List<Response<Object>> responses = new ArrayList<>(ops.size());
        try {
            loadScripts(ops);
            try (AbstractPipeline p = client.pipelined()) {
                for (Op op : ops) {
                    responses.add(send(p, op));
                }
                p.sync();
            }
        } catch (RuntimeException e) {
            throw translate(e, null);
        }
        int written = 0;
        int stale = 0;
        int deleted = 0;
        int kept = 0;
        int replayed = 0;
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            Object reply;
            try {
                reply = responses.get(i).get();
            } catch (JedisDataException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("NOSCRIPT")) {
                    throw new NoScript();
                }
                throw translate(e, op);
            }
            long r = reply instanceof Long l ? l : 1L;
            if (r == 2) {
                replayed++;
                continue;
            }
            switch (op.kind()) {
                case SET, SET_IF_NOT_OLDER -> {
                    if (r == 1) {
                        written++;
                    } else {
                        stale++;
                    }
                }
                case DELETE_IF_SAME_WINDOW -> {
                    if (r == 1) {
                        deleted++;
                    } else {
                        kept++;
                    }
                }
                default -> throw new IllegalStateException(op.kind().toString());
            }
        }
        return new Outcome(written, stale, deleted, kept, replayed);
    }

    private Response<Object> send(AbstractPipeline p, Op op) {
        if (op.kind() == Kind.SET && offsetsKey == null) {
            return p.sendCommand(JsonCommand.SET, op.key(), "$", op.doc());
        }
        List<String> keys = offsetsKey == null ? List.of(op.key()) : List.of(op.key(), offsetsKey);
        String pos = position(op.origin());
        return switch (op.kind()) {
            case SET -> p.evalsha(setSha, keys, List.of(op.doc(), "", "s", "", pos));
            case SET_IF_NOT_OLDER -> p.evalsha(setSha, keys,
                    List.of(op.doc(), windowField, op.window().kind(), op.window().text(), pos));
            case DELETE_IF_SAME_WINDOW -> p.evalsha(deleteSha, keys,
                    List.of(windowField, op.window().kind(), op.window().text(), pos));
        };
    }

    /**
     * Where the record sits in Kafka, as the replay guard compares it: {@code <partition>:<offset>:<timestamp>:<topic>}
     * ({@code -} for a record without a timestamp). The original position (KIP-793), so a topic-renaming transform
     * does not change it; workers before Kafka 3.6 lack those methods and give the record's own.
     */
    static String position(SinkRecord r) {
        String ts = r.timestamp() == null ? "-" : Long.toString(r.timestamp());
        try {
            return r.originalKafkaPartition() + ":" + r.originalKafkaOffset() + ":" + ts + ":" + r.originalTopic();
        } catch (NoSuchMethodError e) {
            return r.kafkaPartition() + ":" + r.kafkaOffset() + ":" + ts + ":" + r.topic();
        }
    }

    private void loadScripts(List<Op> ops) {
        boolean needed = offsetsKey != null || ops.stream().anyMatch(op -> op.kind() != Kind.SET);
        if (needed && (setSha == null || deleteSha == null)) {
            setSha = client.scriptLoad(SET_SCRIPT);
            deleteSha = client.scriptLoad(DELETE_SCRIPT);
        }
    }

    /** Maps a Jedis failure onto Connect's retriable / fatal split, with the password scrubbed. */
    RuntimeException translate(RuntimeException e, Op op) {
        String where = op == null ? "" : " for key '" + op.key() + "' (record " + describe(op.origin()) + ")";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof JedisAccessControlException) {
                return new ConnectException(redaction.scrub("Redis at " + endpoint + " refused the credentials"
                        + " (check the user in redis.uri and redis.password): " + t.getMessage()));
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof JedisConnectionException || t instanceof IOException
                    || t instanceof JedisBusyException || isTransient(t.getMessage())) {
                return new RetriableException(redaction.scrub("Redis at " + endpoint + " is unreachable or busy"
                        + where + ": " + t.getMessage()), null);
            }
        }
        String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (msg.contains("unknown command") && msg.contains("JSON.")) {
            msg += " (is the RedisJSON module loaded into Redis?)";
        }
        String command = op == null ? "a command" : op.kind() == Kind.SET && offsetsKey == null ? "JSON.SET"
                : op.kind() == Kind.SET_IF_NOT_OLDER ? "JSON.SET (latest-window script)"
                : "the tombstone script";
        return new ConnectException(redaction.scrub("Redis at " + endpoint + " rejected " + command + where
                + ": " + msg));
    }

    private static boolean isTransient(String message) {
        return message != null && (message.startsWith("LOADING") || message.startsWith("BUSY")
                || message.startsWith("TRYAGAIN") || message.startsWith("MASTERDOWN"));
    }

    static String describe(SinkRecord r) {
        return r.topic() + "-" + r.kafkaPartition() + "@" + r.kafkaOffset();
    }

    @Override
    public void close() {
        client.close();
    }

    private static String script(String name) {
        try (InputStream in = RedisWrites.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " in the connector jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A pipeline reply said NOSCRIPT: the scripts must be loaded again. */
    private static final class NoScript extends RuntimeException {
        NoScript() {
            super(null, null, false, false);
        }
    }
}
