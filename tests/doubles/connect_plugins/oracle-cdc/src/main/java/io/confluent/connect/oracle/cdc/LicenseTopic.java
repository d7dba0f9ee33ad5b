package io.confluent.connect.oracle.cdc;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.connect.errors.ConnectException;

/**
 * TEST DOUBLE of the licence check Confluent premium connectors make when they start: the licence lives
 * in the compacted topic confluent.topic (default _confluent-command) on confluent.topic.bootstrap.servers
 * (client settings: confluent.topic.*), created with confluent.topic.replication.factor (default 3). An
 * unresolvable or unreachable cluster, or a replication factor above the broker count (the default 3 on a
 * single broker), fails the connector. The licence key itself is not checked (blank = trial).
 */
final class LicenseTopic {

    private LicenseTopic() {
    }

    static void ensure(OracleCdcSourceConnectorConfig config, String connectorName) {
        List<String> servers = config.getList(OracleCdcSourceConnectorConfig.CONFLUENT_TOPIC_BOOTSTRAP);
        String topic = config.getString(OracleCdcSourceConnectorConfig.CONFLUENT_TOPIC);
        int replication = config.getInt(OracleCdcSourceConnectorConfig.CONFLUENT_TOPIC_REPLICATION);
        Map<String, Object> props = new HashMap<>();
        for (Map.Entry<String, Object> e : config.originalsWithPrefix("confluent.topic.").entrySet()) {
            if (AdminClientConfig.configNames().contains(e.getKey())) {
                props.put(e.getKey(), e.getValue());
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, String.join(",", servers));
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, connectorName + "-license-manager");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
        Admin admin;
        try {
            admin = Admin.create(props);
        } catch (KafkaException e) {
            throw new ConnectException("Licence topic " + topic + ": cannot reach " + servers
                    + " (confluent.topic.bootstrap.servers): " + rootMessage(e), e);
        }
        try {
            NewTopic nt = new NewTopic(topic, 1, (short) replication)
                    .configs(Collections.singletonMap("cleanup.policy", "compact"));
            admin.createTopics(Collections.singletonList(nt)).all().get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new ConnectException("Licence topic " + topic + " could not be created on " + servers
                        + " with replication factor " + replication + ": " + rootMessage(e), e.getCause());
            }
        } catch (TimeoutException e) {
            throw new ConnectException("Licence topic " + topic + ": no answer from " + servers
                    + " (confluent.topic.bootstrap.servers) within 20s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConnectException("Interrupted while checking the licence topic", e);
        } finally {
            admin.close(java.time.Duration.ofSeconds(1));
        }
    }

    static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getClass().getSimpleName() + ": " + c.getMessage();
    }
}
