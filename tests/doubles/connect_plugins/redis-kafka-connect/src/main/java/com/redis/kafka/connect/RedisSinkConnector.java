package com.redis.kafka.connect;

import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

import com.redis.kafka.connect.sink.RedisSinkConfig;
import com.redis.kafka.connect.sink.RedisSinkTask;

/**
 * TEST DOUBLE of com.redis.kafka.connect.RedisSinkConnector 0.9.1 (redis-field-engineering/redis-kafka-connect),
 * built by tests/doubles/connect_plugins/build.py; never part of the product. Like 0.9.1 the connector
 * itself does nothing but hand every task the same configuration; validation is the ConfigDef's.
 */
public class RedisSinkConnector extends SinkConnector {

    public static final String VERSION = "0.9.1";

    private Map<String, String> props;

    @Override
    public void start(Map<String, String> props) {
        this.props = props;
    }

    @Override
    public Class<? extends Task> taskClass() {
        return RedisSinkTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        return Collections.nCopies(maxTasks, props);
    }

    @Override
    public void stop() {
        // nothing to release
    }

    @Override
    public ConfigDef config() {
        return RedisSinkConfig.CONFIG;
    }

    @Override
    public String version() {
        return VERSION;
    }
}
