package io.confluent.connect.oracle.cdc;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * TEST DOUBLE of io.confluent.connect.oracle.cdc.OracleCdcSourceConnector 2.14.2 (Confluent premium,
 * not downloadable here), built by tests/doubles/connect_plugins/build.py; never part of the product.
 *
 * The database is the directory CDC_ORACLE_DOUBLE_DIR of the worker (see DoubleDatabase). Validation
 * adds to the ConfigDef's checks what the real connector's connectivity check would report ("Unable to
 * connect to Oracle at host:port" on oracle.server when the directory is missing), plus regex, template
 * and start.from checks. start() fails when the database is unreachable or the licence topic cannot be
 * created. One task does everything (the real connector splits tables over tasks.max tasks).
 */
public class OracleCdcSourceConnector extends SourceConnector {

    public static final String VERSION = "2.14.2";

    private Map<String, String> props;

    @Override
    public void start(Map<String, String> props) {
        this.props = new HashMap<>(props);
        OracleCdcSourceConnectorConfig config = new OracleCdcSourceConnectorConfig(props);
        String why = DoubleDatabase.unreachable(config.where());
        if (why != null) {
            throw new ConnectException(why);
        }
        LicenseTopic.ensure(config, props.getOrDefault("name", "oracle-cdc-source"));
    }

    @Override
    public Class<? extends Task> taskClass() {
        return OracleCdcSourceTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        return Collections.singletonList(new HashMap<>(props));
    }

    @Override
    public void stop() {
        // nothing held
    }

    @Override
    public ConfigDef config() {
        return OracleCdcSourceConnectorConfig.CONFIG_DEF;
    }

    @Override
    public Config validate(Map<String, String> connectorConfigs) {
        Config result = super.validate(connectorConfigs);
        Map<String, ConfigValue> byName = new HashMap<>();
        for (ConfigValue v : result.configValues()) {
            byName.put(v.name(), v);
        }
        boolean connectionKeysValid = true;
        for (String k : new String[] { OracleCdcSourceConnectorConfig.ORACLE_SERVER,
                OracleCdcSourceConnectorConfig.ORACLE_PORT, OracleCdcSourceConnectorConfig.ORACLE_SID }) {
            ConfigValue v = byName.get(k);
            connectionKeysValid &= v != null && v.errorMessages().isEmpty();
        }
        if (connectionKeysValid) {
            String server = connectorConfigs.get(OracleCdcSourceConnectorConfig.ORACLE_SERVER);
            ConfigValue serverValue = byName.get(OracleCdcSourceConnectorConfig.ORACLE_SERVER);
            if (server == null || server.trim().isEmpty()) {
                serverValue.addErrorMessage("Unable to connect to Oracle: " + OracleCdcSourceConnectorConfig.ORACLE_SERVER
                        + " is not set");
            } else {
                String port = String.valueOf(byName.get(OracleCdcSourceConnectorConfig.ORACLE_PORT).value());
                String why = DoubleDatabase.unreachable(server.trim() + ":" + port);
                if (why != null) {
                    serverValue.addErrorMessage(why);
                }
            }
        }
        for (Map.Entry<String, String> problem : OracleCdcSourceConnectorConfig.problems(connectorConfigs).entrySet()) {
            ConfigValue v = byName.get(problem.getKey());
            if (v != null && v.errorMessages().isEmpty()) {
                v.addErrorMessage(problem.getValue());
            }
        }
        return result;
    }

    @Override
    public String version() {
        return VERSION;
    }
}
