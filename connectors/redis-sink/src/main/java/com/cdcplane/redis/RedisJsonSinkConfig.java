package com.cdcplane.redis;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * Configuration of the Redis JSON sink. Keys mirror com.redis.kafka.connect.RedisSinkConnector 0.9.1 where they
 * mean the same ({@code redis.uri}, {@code redis.password}, {@code redis.command}, {@code redis.key},
 * {@code redis.separator}, {@code redis.timeout}); {@code redis.key.field}, {@code redis.window.field} and {@code redis.offsets.key} are ours.
 *
 * <p>Validation is per field, so Connect's {@code PUT /connector-plugins/.../config/validate} reports each
 * problem under the key it belongs to. Messages carry the URI with its password masked.
 */
public final class RedisJsonSinkConfig extends AbstractConfig {
    public static final String URI = "redis.uri";
    public static final String PASSWORD = "redis.password";
    public static final String COMMAND = "redis.command";
    public static final String KEYSPACE = "redis.key";
    public static final String SEPARATOR = "redis.separator";
    public static final String KEY_FIELD = "redis.key.field";
    public static final String WINDOW_FIELD = "redis.window.field";
    public static final String OFFSETS_KEY = "redis.offsets.key";
    public static final String TIMEOUT = "redis.timeout";

    public static final String TOPIC_PLACEHOLDER = "${topic}";
    static final String JSONSET = "JSONSET";

    public static final ConfigDef CONFIG_DEF = new ConfigDef()
            .define(URI, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new UriValidator(), Importance.HIGH,
                    "Redis server as redis://[user[:password]@]host[:port][/db] or rediss://... (TLS, verified"
                            + " against the worker JVM's trust store). Prefer redis.password or a ${env:...}"
                            + " placeholder over a password inside the URI.")
            .define(PASSWORD, Type.PASSWORD, null, Importance.HIGH,
                    "Redis password (AUTH). Overrides a password in redis.uri; never logged.")
            .define(COMMAND, Type.STRING, JSONSET, new CommandValidator(), Importance.MEDIUM,
                    "Redis write command. Only JSONSET (JSON.SET key $ <document>) is implemented.")
            .define(KEYSPACE, Type.STRING, TOPIC_PLACEHOLDER, Importance.MEDIUM,
                    "Key prefix; ${topic} is replaced by the record's topic. Redis key = keyspace + separator"
                            + " + id; an empty keyspace makes the key the id alone.")
            .define(SEPARATOR, Type.STRING, ":", Importance.LOW, "Separator between keyspace and id.")
            .define(KEY_FIELD, Type.STRING, null, Importance.MEDIUM,
                    "Field of a Map or Struct record key that holds the id (e.g. NAME for Flink upsert-kafka"
                            + " keys). Unset: the record key itself (String or number) is the id.")
            .define(WINDOW_FIELD, Type.STRING, null, Importance.MEDIUM,
                    "Field (number or string) of the value, and of the key for tombstones, that orders documents:"
                            + " a write lands only if the stored document's field is <= the record's, so an"
                            + " update for an older window never overwrites a newer one. Unset: last write wins.")
            .define(OFFSETS_KEY, Type.STRING, null, Importance.MEDIUM,
                    "Redis hash in which the sink keeps, for each key it writes or deletes, the partition, offset"
                            + " and topic of that record. A record at or before that offset of the same"
                            + " topic-partition is skipped, so a replay (offsets moved back) never writes a key's"
                            + " older values again and a key that is right stays untouched. Records of one Kafka"
                            + " key stay in one partition, so offsets order them. Unset: no replay guard.")
            .define(TIMEOUT, Type.INT, 10, ConfigDef.Range.between(1, 3600), Importance.LOW,
                    "Connect and socket timeout in seconds for Redis calls; a timeout is a retriable error.");

    private final URI uri;

    public RedisJsonSinkConfig(Map<String, String> props) {
        // doLog=false: AbstractConfig's value dump would print redis.uri, which may carry a password
        super(CONFIG_DEF, props, false);
        this.uri = parseUri(getString(URI));
    }

    public URI uri() {
        return uri;
    }

    /** The password to AUTH with: redis.password if set, else the URI's, else null. */
    public String password() {
        Password p = getPassword(PASSWORD);
        if (p != null && p.value() != null && !p.value().isEmpty()) {
            return p.value();
        }
        String info = uri.getUserInfo();
        if (info != null && info.contains(":")) {
            String pw = info.substring(info.indexOf(':') + 1);
            return pw.isEmpty() ? null : pw;
        }
        return null;
    }

    /** The ACL user from the URI, or null for the default user. */
    public String user() {
        String info = uri.getUserInfo();
        if (info == null) {
            return null;
        }
        String user = info.contains(":") ? info.substring(0, info.indexOf(':')) : info;
        return user.isEmpty() ? null : user;
    }

    public boolean tls() {
        return "rediss".equalsIgnoreCase(uri.getScheme());
    }

    public int port() {
        return uri.getPort() == -1 ? 6379 : uri.getPort();
    }

    public int database() {
        String path = uri.getPath();
        return path == null || path.isEmpty() || "/".equals(path) ? 0 : Integer.parseInt(path.substring(1));
    }

    public String keyspace() {
        return getString(KEYSPACE);
    }

    public String separator() {
        return getString(SEPARATOR);
    }

    /** redis.key.field, or null when the record key itself is the id. */
    public String keyField() {
        return blankToNull(getString(KEY_FIELD));
    }

    /** redis.window.field, or null when the latest-window guard is off. */
    public String windowField() {
        return blankToNull(getString(WINDOW_FIELD));
    }

    /** redis.offsets.key, or null when the replay guard is off. */
    public String offsetsKey() {
        return blankToNull(getString(OFFSETS_KEY));
    }

    public int timeoutMillis() {
        return getInt(TIMEOUT) * 1000;
    }

    /** Every secret this config holds, for {@link Redaction}. */
    public Redaction redaction() {
        List<String> secrets = new ArrayList<>();
        secrets.add(password());
        String info = uri.getRawUserInfo();
        if (info != null && info.contains(":")) {
            secrets.add(info.substring(info.indexOf(':') + 1));
        }
        return new Redaction(secrets);
    }

    /** The URI safe to print: password masked. */
    public String safeUri() {
        return Redaction.uri(getString(URI));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    /** Parses and checks a redis:// or rediss:// URI; the message never contains the password. */
    static URI parseUri(String text) {
        String safe = Redaction.uri(text);
        if (text == null || text.isBlank()) {
            throw new ConfigException(URI, safe, "is empty; give redis://host:port or rediss://host:port");
        }
        URI u;
        try {
            u = new URI(text.trim());
        } catch (URISyntaxException e) {
            // getReason() only: getMessage() would repeat the input, password included
            throw new ConfigException(URI, safe, "is not a valid URI (" + e.getReason() + " at index "
                    + e.getIndex() + ")");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("redis") && !scheme.equals("rediss")) {
            throw new ConfigException(URI, safe, "must start with redis:// or rediss://"
                    + (scheme.isEmpty() ? " (no scheme given)" : " (scheme is '" + u.getScheme() + "')"));
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            throw new ConfigException(URI, safe, "has no host, or its port is not a number"
                    + " (expected " + scheme + "://[user[:password]@]host[:port][/db])");
        }
        if (u.getPort() != -1 && (u.getPort() < 1 || u.getPort() > 65535)) {
            throw new ConfigException(URI, safe, "port " + u.getPort() + " is outside 1-65535");
        }
        String path = u.getPath();
        if (path != null && !path.isEmpty() && !"/".equals(path) && !path.substring(1).matches("\\d{1,5}")) {
            throw new ConfigException(URI, safe, "path '" + path + "' is not a database number such as /0");
        }
        if (u.getQuery() != null || u.getFragment() != null) {
            throw new ConfigException(URI, safe, "must not carry a query or fragment");
        }
        return u;
    }

    static final class UriValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            if (value != null) { // a missing value is ConfigDef's own "Missing required configuration" error
                parseUri((String) value);
            }
        }

        @Override
        public String toString() {
            return "redis://[user[:password]@]host[:port][/db] or rediss://...";
        }
    }

    static final class CommandValidator implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            String v = value == null ? "" : ((String) value).trim();
            if (!JSONSET.equalsIgnoreCase(v)) {
                throw new ConfigException(name, value, "this sink only implements JSONSET"
                        + " (JSON.SET key $ <document>); '" + v + "' is not supported");
            }
        }

        @Override
        public String toString() {
            return "[JSONSET]";
        }
    }
}
