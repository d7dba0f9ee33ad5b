package com.cdcplane.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.common.config.Config;
import org.apache.kafka.connect.connector.Connector;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.runtime.isolation.LoaderSwap;
import org.apache.kafka.connect.runtime.isolation.PluginDesc;
import org.apache.kafka.connect.runtime.isolation.Plugins;
import org.apache.kafka.connect.sink.SinkConnector;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.junit.jupiter.api.Test;

/**
 * The packaged plugin directory (target/plugin) as a Kafka Connect 3.9 worker loads it: Connect's own plugin
 * isolation ({@link Plugins}, service-loader discovery) finds the connector, and a task it creates writes records
 * converted by the real JsonConverter into a real Redis. Runs after `package` (failsafe), with Jedis and the
 * connector's classes kept off this test's class path, so a jar missing from the plugin dir fails here.
 */
class PluginDirIT {
    private static final String CONNECTOR = "com.cdcplane.redis.RedisJsonSinkConnector";

    @Test
    void theWorkerLoadsThePluginDirAndItsTaskWritesToRedis() throws Exception {
        File dir = new File(System.getProperty("plugin.dir", "target/plugin"));
        Set<String> jars = Arrays.stream(dir.listFiles()).map(File::getName).collect(Collectors.toSet());
        assertTrue(jars.stream().anyMatch(j -> j.startsWith("redis-json-sink-")), jars.toString());
        assertTrue(jars.stream().anyMatch(j -> j.startsWith("jedis-")), jars.toString());
        assertFalse(jars.stream().anyMatch(j -> j.startsWith("connect-api") || j.startsWith("kafka-clients")
                || j.startsWith("slf4j-api")), "worker-provided jars must not be in the plugin: " + jars);
        // the isolation is only meaningful if the test itself cannot see these classes
        assertThrows(ClassNotFoundException.class, () -> Class.forName("redis.clients.jedis.RedisClient"));
        assertThrows(ClassNotFoundException.class, () -> Class.forName(CONNECTOR));

        // target/plugin is ONE plugin: a worker's plugin.path names the folder that contains it (jars directly
        // on plugin.path would each be a plugin of their own, and the connector could not see Jedis)
        Path pluginPath = Files.createTempDirectory("plugin-path-");
        Path installed = Files.createDirectory(pluginPath.resolve("redis-json-sink"));
        for (File jar : dir.listFiles()) {
            Files.copy(jar.toPath(), installed.resolve(jar.getName()));
        }
        Plugins plugins = new Plugins(Map.of("plugin.path", pluginPath.toString(),
                "plugin.discovery", "service_load"));
        PluginDesc<SinkConnector> desc = plugins.sinkConnectors().stream()
                .filter(d -> d.className().equals(CONNECTOR)).findFirst().orElseThrow();
        assertEquals(System.getProperty("project.version"), desc.version());

        try (RedisProcess redis = new RedisProcess(null);
             LoaderSwap swap = plugins.withClassLoader(plugins.connectorLoader(CONNECTOR))) {
            Connector connector = plugins.newConnector(CONNECTOR);
            Config bad = connector.validate(Map.of("redis.uri", "http://x", "redis.command", "HSET"));
            assertEquals(2, bad.configValues().stream().filter(v -> !v.errorMessages().isEmpty()).count());

            Map<String, String> config = Map.of("redis.uri", redis.uri(), "redis.key.field", "NAME",
                    "redis.window.field", "WINDOW_START");
            connector.start(config);
            List<Map<String, String>> taskConfigs = connector.taskConfigs(2);
            SinkTask task = (SinkTask) plugins.newTask(connector.taskClass());
            assertTrue(task.getClass().getClassLoader() != getClass().getClassLoader(), "isolated loader");
            task.initialize(new TestContext(false));
            task.start(taskConfigs.get(0));

            // Flink upsert-kafka's bytes, through the converter the local profile configures
            JsonConverter keys = new JsonConverter();
            keys.configure(Map.of("schemas.enable", "false"), true);
            JsonConverter values = new JsonConverter();
            values.configure(Map.of("schemas.enable", "false"), false);
            task.put(List.of(
                    record(keys, values, "{\"NAME\":\"carol\",\"WINDOW_START\":1796131680000}",
                            "{\"NAME\":\"carol\",\"EVENT_COUNT\":2,\"WINDOW_START\":1796131680000,"
                                    + "\"WINDOW_END\":1796131740000}", 0),
                    record(keys, values, "{\"NAME\":\"carol\",\"WINDOW_START\":1796131620000}",
                            "{\"NAME\":\"carol\",\"EVENT_COUNT\":6,\"WINDOW_START\":1796131620000,"
                                    + "\"WINDOW_END\":1796131680000}", 1),
                    record(keys, values, "{\"NAME\":\"dave\",\"WINDOW_START\":1796131620000}",
                            "{\"NAME\":\"dave\",\"EVENT_COUNT\":1,\"WINDOW_START\":1796131620000,"
                                    + "\"WINDOW_END\":1796131680000}", 2),
                    record(keys, values, "{\"NAME\":\"dave\",\"WINDOW_START\":1796131620000}", null, 3)));
            task.stop();
            connector.stop();

            // JsonConverter (schemas.enable=false) hands over a HashMap, so the stored field order is not the topic's
            assertEquals("[\"carol\"]", redis.cli("JSON.GET", "OUT_COUNTS:carol", "$.NAME"));
            assertEquals("[2]", redis.cli("JSON.GET", "OUT_COUNTS:carol", "$.EVENT_COUNT"), "older window ignored");
            assertEquals("[1796131680000]", redis.cli("JSON.GET", "OUT_COUNTS:carol", "$.WINDOW_START"));
            assertEquals("[1796131740000]", redis.cli("JSON.GET", "OUT_COUNTS:carol", "$.WINDOW_END"));
            assertEquals("0", redis.cli("EXISTS", "OUT_COUNTS:dave"), "retracted window deleted");
        }
    }

    private static SinkRecord record(JsonConverter keys, JsonConverter values, String key, String value,
                                     long offset) {
        SchemaAndValue k = keys.toConnectData("OUT_COUNTS", key.getBytes(StandardCharsets.UTF_8));
        SchemaAndValue v = values.toConnectData("OUT_COUNTS",
                value == null ? null : value.getBytes(StandardCharsets.UTF_8));
        return new SinkRecord("OUT_COUNTS", 0, k.schema(), k.value(), v.schema(), v.value(), offset);
    }
}
