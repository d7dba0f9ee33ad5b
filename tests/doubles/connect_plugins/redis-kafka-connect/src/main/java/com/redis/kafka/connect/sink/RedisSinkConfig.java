package com.redis.kafka.connect.sink;

import java.nio.charset.Charset;
import java.util.Map;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * TEST DOUBLE: the parsed sink configuration, with 0.9.1's normalisation (charset, key space and
 * separator are trimmed; the command is an enum name, case-sensitive).
 */
public class RedisSinkConfig extends AbstractConfig {

    /** The 0.9.1 command set, in 0.9.1's order. */
    public enum RedisCommand {
        HSET, JSONSET, TSADD, SET, XADD, LPUSH, RPUSH, SADD, ZADD, DEL
    }

    public static final RedisSinkConfigDef CONFIG = new RedisSinkConfigDef();

    private final Charset charset;
    private final RedisCommand command;
    private final String keyspace;
    private final String separator;
    private final int waitReplicas;
    private final long waitTimeoutMillis;

    public RedisSinkConfig(Map<?, ?> originals) {
        super(CONFIG, originals);
        charset = Charset.forName(getString(RedisSinkConfigDef.CHARSET_CONFIG).trim());
        String name = getString(RedisSinkConfigDef.COMMAND_CONFIG);
        try {
            command = RedisCommand.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(RedisSinkConfigDef.COMMAND_CONFIG, name, e.getMessage());
        }
        if (!RedisSinkConfigDef.MODELLED_COMMANDS.contains(command)) {
            throw new ConfigException(RedisSinkConfigDef.notModelled(RedisSinkConfigDef.COMMAND_CONFIG + "=" + command));
        }
        keyspace = getString(RedisSinkConfigDef.KEY_CONFIG).trim();
        separator = getString(RedisSinkConfigDef.SEPARATOR_CONFIG).trim();
        waitReplicas = getInt(RedisSinkConfigDef.WAIT_REPLICAS_CONFIG);
        waitTimeoutMillis = getLong(RedisSinkConfigDef.WAIT_TIMEOUT_CONFIG);
    }

    public Charset charset() {
        return charset;
    }

    public RedisCommand command() {
        return command;
    }

    public String keyspace() {
        return keyspace;
    }

    public String separator() {
        return separator;
    }

    public int waitReplicas() {
        return waitReplicas;
    }

    public long waitTimeoutMillis() {
        return waitTimeoutMillis;
    }

    public long timeoutMillis() {
        return getLong(RedisSinkConfigDef.TIMEOUT_CONFIG) * 1000L;
    }

    String password() {
        Password p = getPassword(RedisSinkConfigDef.PASSWORD_CONFIG);
        return p == null ? "" : p.value();
    }
}
