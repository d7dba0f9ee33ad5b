package com.cdcplane.redis;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * Redis JSON sink: stores each Kafka record's value as a RedisJSON document under
 * {@code <redis.key with ${topic} replaced><redis.separator><id>}, keeping the latest window per key when
 * {@code redis.window.field} is set. See {@link RedisJsonSinkTask} for the write, tombstone and error semantics
 * and {@link RedisJsonSinkConfig} for the keys.
 *
 * <p>{@link #validate} (Connect's {@code config/validate}) reports a malformed {@code redis.uri} and any
 * {@code redis.command} other than JSONSET under their own keys, without contacting Redis. Every task gets the
 * same configuration; Connect spreads the topic partitions over up to {@code tasks.max} tasks.
 */
public class RedisJsonSinkConnector extends SinkConnector {
    static final String VERSION = readVersion();

    private Map<String, String> props;

    @Override
    public String version() {
        return VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        try {
            new RedisJsonSinkConfig(props);
        } catch (ConfigException e) {
            throw new ConnectException("invalid Redis JSON sink configuration: " + Redaction.uri(e.getMessage()));
        }
        this.props = Map.copyOf(props);
    }

    @Override
    public Class<? extends Task> taskClass() {
        return RedisJsonSinkTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        List<Map<String, String>> configs = new ArrayList<>(maxTasks);
        for (int i = 0; i < maxTasks; i++) {
            configs.add(props);
        }
        return configs;
    }

    @Override
    public void stop() {
        props = null;
    }

    @Override
    public ConfigDef config() {
        return RedisJsonSinkConfig.CONFIG_DEF;
    }

    private static String readVersion() {
        try (InputStream in = RedisJsonSinkConnector.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
