package com.redis.kafka.connect.sink;

import java.nio.charset.Charset;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigValue;

import com.redis.kafka.connect.sink.RedisSinkConfig.RedisCommand;

/**
 * TEST DOUBLE of the redis-kafka-connect 0.9.1 sink configuration (written for this project, not the
 * upstream source). Same keys, types, defaults and importances as 0.9.1's RedisConfigDef +
 * RedisSinkConfigDef, and the same extra checks in validateAll (multi/exec only for the collection
 * commands, charset must exist).
 *
 * Where the double differs, it says so in a validation error instead of silently accepting:
 * - redis.command values the double does not model (TSADD, XADD, LPUSH, RPUSH, SADD, ZADD; XADD is the
 *   0.9.1 default!) and unknown values (0.9.1 lets RedisCommand.valueOf throw out of validate, which the
 *   worker turns into a 500; the double reports the same text as a validation error instead);
 * - redis.cluster=true and client certificates (redis.key.file / redis.key.cert).
 */
public class RedisSinkConfigDef extends ConfigDef {

    public static final String TOKEN_TOPIC = "${topic}";

    // common (RedisConfigDef in 0.9.1)
    public static final String CLUSTER_CONFIG = "redis.cluster";
    public static final String HOST_CONFIG = "redis.host";
    public static final String PORT_CONFIG = "redis.port";
    public static final String URI_CONFIG = "redis.uri";
    public static final String TLS_CONFIG = "redis.tls";
    public static final String INSECURE_CONFIG = "redis.insecure";
    public static final String PASSWORD_CONFIG = "redis.password";
    public static final String USERNAME_CONFIG = "redis.username";
    public static final String TIMEOUT_CONFIG = "redis.timeout";
    public static final String POOL_MAX_CONFIG = "redis.pool";
    public static final String KEY_FILE_CONFIG = "redis.key.file";
    public static final String KEY_CERT_CONFIG = "redis.key.cert";
    public static final String KEY_PASSWORD_CONFIG = "redis.key.password";
    public static final String CACERT_CONFIG = "redis.cacert";

    // sink
    public static final String CHARSET_CONFIG = "redis.charset";
    public static final String COMMAND_CONFIG = "redis.command";
    public static final String KEY_CONFIG = "redis.key";
    public static final String SEPARATOR_CONFIG = "redis.separator";
    public static final String MULTIEXEC_CONFIG = "redis.multiexec";
    public static final String WAIT_REPLICAS_CONFIG = "redis.wait.replicas";
    public static final String WAIT_TIMEOUT_CONFIG = "redis.wait.timeout";

    public static final long TIMEOUT_DEFAULT_SECONDS = 60L; // lettuce RedisURI.DEFAULT_TIMEOUT
    public static final int POOL_DEFAULT = 8; // commons-pool2 GenericObjectPoolConfig.DEFAULT_MAX_TOTAL
    public static final String CHARSET_DEFAULT = Charset.defaultCharset().name();
    public static final RedisCommand COMMAND_DEFAULT = RedisCommand.XADD;

    /** Commands 0.9.1 accepts redis.multiexec=true for. */
    static final Set<RedisCommand> MULTI_EXEC_COMMANDS = EnumSet.of(RedisCommand.XADD, RedisCommand.LPUSH,
            RedisCommand.RPUSH, RedisCommand.SADD, RedisCommand.ZADD);

    /** Commands this double implements. */
    public static final Set<RedisCommand> MODELLED_COMMANDS = EnumSet.of(RedisCommand.JSONSET, RedisCommand.SET,
            RedisCommand.HSET, RedisCommand.DEL);

    public RedisSinkConfigDef() {
        define(CLUSTER_CONFIG, Type.BOOLEAN, false, Importance.MEDIUM, "Whether redis.uri points at a Redis Cluster.");
        define(HOST_CONFIG, Type.STRING, "localhost", Importance.HIGH, "Redis host, used when redis.uri is empty.");
        define(PORT_CONFIG, Type.INT, 6379, Importance.HIGH, "Redis port, used when redis.uri is empty.");
        define(URI_CONFIG, Type.STRING, "", Importance.MEDIUM,
                "Redis URI, e.g. redis://host:6379 or rediss://host:6380 for TLS. Takes precedence over host/port.");
        define(TLS_CONFIG, Type.BOOLEAN, false, Importance.MEDIUM, "Connect with TLS.");
        define(INSECURE_CONFIG, Type.BOOLEAN, false, Importance.MEDIUM, "With TLS, do not verify the server certificate.");
        define(PASSWORD_CONFIG, Type.PASSWORD, "", Importance.MEDIUM, "Password for AUTH.");
        define(USERNAME_CONFIG, Type.STRING, "", Importance.MEDIUM, "ACL user name for AUTH (with redis.password).");
        define(TIMEOUT_CONFIG, Type.LONG, TIMEOUT_DEFAULT_SECONDS, Importance.MEDIUM, "Command timeout in seconds.");
        define(POOL_MAX_CONFIG, Type.INT, POOL_DEFAULT, Importance.MEDIUM, "Maximum pooled connections.");
        define(KEY_FILE_CONFIG, Type.STRING, "", Importance.MEDIUM, "PKCS#8 private key (PEM) for client authentication.");
        define(KEY_CERT_CONFIG, Type.STRING, "", Importance.MEDIUM, "X.509 certificate chain (PEM) for client authentication.");
        define(KEY_PASSWORD_CONFIG, Type.PASSWORD, "", Importance.MEDIUM, "Password of redis.key.file, if any.");
        define(CACERT_CONFIG, Type.STRING, "", Importance.MEDIUM, "X.509 CA certificate (PEM) to verify the server with.");
        define(CHARSET_CONFIG, Type.STRING, CHARSET_DEFAULT, Importance.HIGH,
                "Charset used to encode keys and string values (default: the worker JVM's default charset).");
        define(COMMAND_CONFIG, Type.STRING, COMMAND_DEFAULT.name(), Importance.HIGH, "Redis command / data structure: "
                + Arrays.stream(RedisCommand.values()).map(Enum::name).collect(Collectors.joining(",")));
        define(KEY_CONFIG, Type.STRING, TOKEN_TOPIC, Importance.MEDIUM, "Key space; " + TOKEN_TOPIC
                + " is replaced by the record's topic. Empty: the record key itself is the Redis key.");
        define(SEPARATOR_CONFIG, Type.STRING, ":", Importance.MEDIUM, "Between key space and record key.");
        define(MULTIEXEC_CONFIG, Type.BOOLEAN, "false", Importance.MEDIUM, "Wrap each batch in MULTI/EXEC.");
        define(WAIT_REPLICAS_CONFIG, Type.INT, "0", Importance.MEDIUM, "WAIT for this many replicas after each batch (0: no WAIT).");
        define(WAIT_TIMEOUT_CONFIG, Type.LONG, "1000", Importance.MEDIUM, "WAIT timeout in milliseconds.");
    }

    @Override
    public Map<String, ConfigValue> validateAll(Map<String, String> props) {
        Map<String, ConfigValue> results = super.validateAll(props);
        boolean typeErrors = results.values().stream().anyMatch(v -> !v.errorMessages().isEmpty());
        if (typeErrors) {
            return results; // as 0.9.1: the extra checks only run on an otherwise valid config
        }
        String commandName = props.getOrDefault(COMMAND_CONFIG, COMMAND_DEFAULT.name());
        RedisCommand command;
        try {
            command = RedisCommand.valueOf(commandName);
        } catch (IllegalArgumentException e) {
            results.get(COMMAND_CONFIG).addErrorMessage(e.getMessage() + " (redis-kafka-connect 0.9.1 throws this "
                    + "out of validation; valid: " + Arrays.toString(RedisCommand.values()) + ")");
            return results;
        }
        String multiexec = props.getOrDefault(MULTIEXEC_CONFIG, "false").trim();
        if (multiexec.equalsIgnoreCase("true") && !MULTI_EXEC_COMMANDS.contains(command)) {
            results.get(MULTIEXEC_CONFIG).addErrorMessage("multi/exec is only supported with these data structures: "
                    + MULTI_EXEC_COMMANDS.stream().map(Enum::name).collect(Collectors.joining(", ")));
        }
        String charset = props.getOrDefault(CHARSET_CONFIG, CHARSET_DEFAULT).trim();
        try {
            Charset.forName(charset);
        } catch (Exception e) {
            results.get(CHARSET_CONFIG).addErrorMessage(e.getMessage());
        }
        if (!MODELLED_COMMANDS.contains(command)) {
            results.get(COMMAND_CONFIG).addErrorMessage(notModelled(COMMAND_CONFIG + "=" + command));
        }
        if ("true".equalsIgnoreCase(props.getOrDefault(CLUSTER_CONFIG, "false").trim())) {
            results.get(CLUSTER_CONFIG).addErrorMessage(notModelled(CLUSTER_CONFIG + "=true"));
        }
        for (String key : new String[] { KEY_FILE_CONFIG, KEY_CERT_CONFIG }) {
            String v = props.get(key);
            if (v != null && !v.trim().isEmpty()) {
                results.get(key).addErrorMessage(notModelled(key + " (TLS client certificates)"));
            }
        }
        return results;
    }

    static String notModelled(String what) {
        return what + " is valid for redis-kafka-connect 0.9.1 but not modelled by this test double "
                + "(it models redis.command " + MODELLED_COMMANDS + " against a single Redis node)";
    }
}
