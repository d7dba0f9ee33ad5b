package io.confluent.connect.oracle.cdc;

import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * TEST DOUBLE of the Confluent Oracle CDC Source connector 2.14.2 configuration (written for this
 * project; the real plugin is premium and not downloadable here). Keys, types, defaults and
 * importances follow the connector's published ConfigDef dump (kafka-docker-playground
 * config-io.confluent.connect.oracle.cdc.OracleCdcSourceConnector.txt) and the Confluent configuration
 * reference. ConfigDef-required (no default): oracle.sid, confluent.topic.bootstrap.servers. Keys the
 * connector does not define (e.g. redo.log.consumer.* client settings, topic.creation.*) pass through
 * as Connect allows.
 */
public class OracleCdcSourceConnectorConfig extends AbstractConfig {

    // Oracle connection
    public static final String ORACLE_SERVER = "oracle.server";
    public static final String ORACLE_PORT = "oracle.port";
    public static final String ORACLE_SID = "oracle.sid";
    public static final String ORACLE_PDB = "oracle.pdb.name";
    public static final String ORACLE_SERVICE = "oracle.service.name";
    public static final String ORACLE_USERNAME = "oracle.username";
    public static final String ORACLE_PASSWORD = "oracle.password";
    public static final String START_FROM = "start.from";
    public static final String MAX_RETRY_TIME_MS = "max.retry.time.ms";

    // redo log
    public static final String REDO_LOG_TOPIC = "redo.log.topic.name";
    public static final String REDO_LOG_CORRUPTION_TOPIC = "redo.log.corruption.topic";
    public static final String REDO_LOG_POLL_INTERVAL_MS = "redo.log.poll.interval.ms";
    public static final String REDO_LOG_CONSUMER_BOOTSTRAP = "redo.log.consumer.bootstrap.servers";

    // output
    public static final String KEY_TEMPLATE = "key.template";
    public static final String MAX_BATCH_SIZE = "max.batch.size";
    public static final String POLL_LINGER_MS = "poll.linger.ms";
    public static final String NUMERIC_MAPPING = "numeric.mapping";
    public static final String NUMERIC_DEFAULT_SCALE = "numeric.default.scale";
    public static final String EMIT_TOMBSTONE_ON_DELETE = "emit.tombstone.on.delete";
    public static final String BEHAVIOR_ON_UNPARSABLE = "behavior.on.unparsable.statement";
    public static final String DATE_MAPPING = "oracle.date.mapping";
    public static final String LOB_TOPIC_TEMPLATE = "lob.topic.name.template";
    public static final String HEARTBEAT_INTERVAL_MS = "heartbeat.interval.ms";

    public static final String OUTPUT_TABLE_NAME_FIELD = "output.table.name.field";
    public static final String OUTPUT_SCN_FIELD = "output.scn.field";
    public static final String OUTPUT_COMMIT_SCN_FIELD = "output.commit.scn.field";
    public static final String OUTPUT_OP_TYPE_FIELD = "output.op.type.field";
    public static final String OUTPUT_OP_TS_FIELD = "output.op.ts.field";
    public static final String OUTPUT_CURRENT_TS_FIELD = "output.current.ts.field";
    public static final String OUTPUT_ROW_ID_FIELD = "output.row.id.field";
    public static final String OUTPUT_USERNAME_FIELD = "output.username.field";
    public static final String OUTPUT_BEFORE_STATE_FIELD = "output.before.state.field";
    public static final String OUTPUT_REDO_FIELD = "output.redo.field";
    public static final String OUTPUT_UNDO_FIELD = "output.undo.field";

    // tables
    public static final String TABLE_INCLUSION_REGEX = "table.inclusion.regex";
    public static final String TABLE_EXCLUSION_REGEX = "table.exclusion.regex";
    public static final String TABLE_TOPIC_TEMPLATE = "table.topic.name.template";

    // licence (Confluent premium connectors)
    public static final String CONFLUENT_LICENSE = "confluent.license";
    public static final String CONFLUENT_TOPIC = "confluent.topic";
    public static final String CONFLUENT_TOPIC_BOOTSTRAP = "confluent.topic.bootstrap.servers";
    public static final String CONFLUENT_TOPIC_REPLICATION = "confluent.topic.replication.factor";

    public static final String DEFAULT_TABLE_TOPIC_TEMPLATE = "${databaseName}.${schemaName}.${tableName}";
    public static final String DEFAULT_REDO_LOG_TOPIC = "${connectorName}-${databaseName}-redo-log";
    public static final String DEFAULT_KEY_TEMPLATE = "${primaryKeyStructOrValue}";

    public static final List<String> TABLE_TOPIC_VARS = Arrays.asList("databaseName", "schemaName", "tableName",
            "fullyQualifiedTableName", "connectorName");
    public static final List<String> REDO_TOPIC_VARS = Arrays.asList("connectorName", "databaseName");
    public static final List<String> KEY_TEMPLATE_VARS = Arrays.asList("primaryKeyStructOrValue", "primaryKeyStruct");

    public static final ConfigDef CONFIG_DEF = configDef();

    private static ConfigDef configDef() {
        ConfigDef d = new ConfigDef();
        // ---- Oracle connection
        d.define(ORACLE_SERVER, Type.STRING, null, Importance.HIGH, "Host name or address of the Oracle server.");
        d.define(ORACLE_PORT, Type.INT, 1521, ConfigDef.Range.between(1, 65535), Importance.HIGH, "Oracle listener port.");
        d.define(ORACLE_SID, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(), Importance.HIGH,
                "Oracle SID of the CDB (or non-CDB) holding the tables.");
        d.define(ORACLE_PDB, Type.STRING, null, Importance.HIGH, "PDB holding the tables, when they are not in CDB$ROOT.");
        d.define(ORACLE_SERVICE, Type.STRING, null, Importance.LOW, "Oracle service name to connect with.");
        d.define(ORACLE_USERNAME, Type.STRING, null, Importance.HIGH, "Oracle user (C##... for a CDB).");
        d.define(ORACLE_PASSWORD, Type.PASSWORD, null, Importance.HIGH, "Password of oracle.username.");
        d.define("ldap.url", Type.STRING, null, Importance.LOW, "LDAP URL (OID/OUD).");
        d.define("ldap.security.principal", Type.STRING, null, Importance.LOW, "LDAP principal.");
        d.define("ldap.security.credentials", Type.PASSWORD, null, Importance.LOW, "LDAP credentials.");
        d.define("oracle.kerberos.cache.file", Type.STRING, null, Importance.MEDIUM, "Kerberos 5 ticket cache file.");
        d.define("oracle.fan.events.enable", Type.BOOLEAN, false, Importance.LOW, "Use Oracle RAC FAN events.");
        d.define("oracle.ssl.truststore.file", Type.STRING, null, Importance.MEDIUM, "Trust store for TCPS.");
        d.define("oracle.ssl.truststore.password", Type.PASSWORD, null, Importance.MEDIUM, "Trust store password.");
        d.define("query.timeout.ms", Type.LONG, 300000L, Importance.MEDIUM, "Timeout of each Oracle query.");
        d.define(MAX_RETRY_TIME_MS, Type.LONG, 1800000L, Importance.MEDIUM, "How long Oracle operations are retried.");
        d.define(START_FROM, Type.STRING, "snapshot", Importance.MEDIUM, "snapshot | current | force_current | an SCN | "
                + "a timestamp DD-MON-YYYY HH24:MI:SS: where the connector starts the first time.");
        d.define("oracle.validation.result.fetch.size", Type.INT, 5000, Importance.LOW, "Fetch size of validation queries.");
        d.define("retry.error.codes", Type.LIST, null, Importance.LOW, "Extra Oracle error codes to retry.");
        // ---- redo log
        d.define(REDO_LOG_TOPIC, Type.STRING, DEFAULT_REDO_LOG_TOPIC, Importance.HIGH,
                "Topic receiving every raw redo log row of the captured tables (blank: none). Variables "
                        + "${connectorName} ${databaseName}.");
        d.define(REDO_LOG_CORRUPTION_TOPIC, Type.STRING, "", Importance.HIGH,
                "Topic for corrupt / unparsable redo rows (blank: none).");
        d.define(REDO_LOG_POLL_INTERVAL_MS, Type.LONG, 1000L, Importance.MEDIUM, "Interval between redo log polls.");
        d.define("redo.log.startup.polling.limit.ms", Type.LONG, 300000L, Importance.LOW, "Wait for the redo log at start.");
        d.define("snapshot.row.fetch.size", Type.INT, 2000, Importance.MEDIUM, "Snapshot JDBC fetch size hint.");
        d.define("snapshot.threads.per.task", Type.INT, 4, Importance.MEDIUM, "Snapshot threads per task.");
        d.define("snapshot.by.table.partitions", Type.BOOLEAN, false, Importance.LOW, "Snapshot per table partition.");
        d.define("redo.log.initial.delay.interval.ms", Type.LONG, 0L, Importance.LOW, "Delay before first redo read.");
        d.define("redo.log.row.fetch.size", Type.INT, 10, Importance.MEDIUM, "Redo log JDBC fetch size hint.");
        d.define("redo.log.row.poll.fields.include", Type.LIST, null, Importance.LOW, "Redo fields to include.");
        d.define("redo.log.row.poll.fields.exclude", Type.LIST, null, Importance.LOW, "Redo fields to exclude.");
        d.define("redo.log.row.poll.username.include", Type.LIST, null, Importance.LOW, "Only changes by these users.");
        d.define("redo.log.row.poll.username.exclude", Type.LIST, null, Importance.LOW, "No changes by these users.");
        d.define("redo.log.row.poll.filter", Type.STRING, null, Importance.LOW, "SQL predicate on redo rows.");
        d.define("use.transaction.begin.for.mining.session", Type.BOOLEAN, true, Importance.HIGH, "Mining start SCN mode.");
        d.define("archive.only.mining.on.consecutive.log.switches.threshold", Type.INT, 2, Importance.HIGH,
                "Log switches before archive-only mining.");
        d.define("archive.only.mining.redo.log.size.threshold", Type.LONG, 8192L, Importance.LOW, "Archive-only size (MB).");
        d.define("oracle.dictionary.mode", Type.STRING, "auto", ConfigDef.ValidString.in("auto", "online", "redo_log"),
                Importance.LOW, "LogMiner dictionary mode.");
        d.define("log.mining.archive.destination.name", Type.STRING, null, Importance.LOW, "Archive destination.");
        d.define("record.buffer.mode", Type.STRING, "connector", ConfigDef.ValidString.in("connector", "database"),
                Importance.LOW, "Where uncommitted transactions are buffered.");
        d.define("log.mining.end.scn.deviation.ms", Type.LONG, 0L, Importance.MEDIUM, "End SCN deviation.");
        d.define(REDO_LOG_CONSUMER_BOOTSTRAP, Type.LIST, null, Importance.HIGH,
                "Kafka cluster the connector reads its redo log topic back from.");
        // ---- output records
        d.define(KEY_TEMPLATE, Type.STRING, DEFAULT_KEY_TEMPLATE, Importance.MEDIUM,
                "Record key: ${primaryKeyStructOrValue} (single-column key -> the value, else a struct, none -> null) "
                        + "or ${primaryKeyStruct}.");
        d.define(MAX_BATCH_SIZE, Type.INT, 1000, ConfigDef.Range.atLeast(1), Importance.MEDIUM, "Records per poll.");
        d.define("max.buffer.size", Type.INT, 0, Importance.LOW, "Buffered records.");
        d.define(POLL_LINGER_MS, Type.LONG, 5000L, Importance.MEDIUM, "Longest wait for a record before an empty poll.");
        d.define("max.batch.timeout.ms", Type.LONG, 5000L, Importance.LOW, "Deprecated: poll.linger.ms.");
        d.define(NUMERIC_MAPPING, Type.STRING, "none", ConfigDef.ValidString.in("none", "best_fit", "best_fit_or_decimal",
                "best_fit_or_double", "best_fit_or_string", "precision_only"), Importance.LOW, "NUMBER mapping.");
        d.define(NUMERIC_DEFAULT_SCALE, Type.INT, 127, Importance.LOW, "Scale for NUMBER without declared precision.");
        d.define(EMIT_TOMBSTONE_ON_DELETE, Type.BOOLEAN, false, Importance.LOW, "Follow each delete with a tombstone.");
        d.define("behavior.on.dictionary.mismatch", Type.STRING, "fail", ConfigDef.ValidString.in("fail", "log"),
                Importance.LOW, "On a dictionary mismatch.");
        d.define(BEHAVIOR_ON_UNPARSABLE, Type.STRING, "fail", ConfigDef.ValidString.in("fail", "log", "write"),
                Importance.LOW, "On an unparsable redo row: fail the task, log and skip, or write it to the corruption topic.");
        d.define(DATE_MAPPING, Type.STRING, "date", ConfigDef.ValidString.in("date", "timestamp"), Importance.LOW,
                "Connect type for Oracle DATE.");
        d.define(OUTPUT_TABLE_NAME_FIELD, Type.STRING, "table", Importance.LOW, "Field with the table name (blank: none).");
        d.define(OUTPUT_SCN_FIELD, Type.STRING, "scn", Importance.LOW, "Field with the change SCN (blank: none).");
        d.define(OUTPUT_COMMIT_SCN_FIELD, Type.STRING, "", Importance.LOW, "Field with the commit SCN (blank: none).");
        d.define(OUTPUT_BEFORE_STATE_FIELD, Type.STRING, "", Importance.LOW, "Field with the before image (blank: none).");
        d.define(OUTPUT_OP_TYPE_FIELD, Type.STRING, "op_type", Importance.LOW, "Field with the operation type.");
        d.define(OUTPUT_OP_TS_FIELD, Type.STRING, "op_ts", Importance.LOW, "Field with the operation timestamp.");
        d.define(OUTPUT_CURRENT_TS_FIELD, Type.STRING, "current_ts", Importance.LOW, "Field with the processing time.");
        d.define(OUTPUT_ROW_ID_FIELD, Type.STRING, "row_id", Importance.LOW, "Field with the ROWID.");
        d.define(OUTPUT_USERNAME_FIELD, Type.STRING, "username", Importance.LOW, "Field with the changing user.");
        d.define(OUTPUT_REDO_FIELD, Type.STRING, "", Importance.LOW, "Field with the redo SQL (blank: none).");
        d.define(OUTPUT_UNDO_FIELD, Type.STRING, "", Importance.LOW, "Field with the undo SQL (blank: none).");
        d.define("output.op.type.read.value", Type.STRING, "R", Importance.LOW, "op type of snapshot reads.");
        d.define("output.op.type.insert.value", Type.STRING, "I", Importance.LOW, "op type of inserts.");
        d.define("output.op.type.update.value", Type.STRING, "U", Importance.LOW, "op type of updates.");
        d.define("output.op.type.delete.value", Type.STRING, "D", Importance.LOW, "op type of deletes.");
        d.define("output.op.type.truncate.value", Type.STRING, "T", Importance.LOW, "op type of truncates.");
        d.define(LOB_TOPIC_TEMPLATE, Type.STRING, "", Importance.LOW, "LOB topic template (blank: LOB columns ignored).");
        d.define("enable.large.lob.object.support", Type.BOOLEAN, false, Importance.LOW, "Large LOB support.");
        d.define(HEARTBEAT_INTERVAL_MS, Type.LONG, 0L, Importance.MEDIUM, "Heartbeat interval (0: off).");
        d.define("heartbeat.topic.name", Type.STRING, "${connectorName}-${databaseName}-heartbeat-topic", Importance.LOW,
                "Heartbeat topic.");
        d.define("log.sensitive.data", Type.BOOLEAN, false, Importance.LOW, "Log row data.");
        // ---- tables
        d.define(TABLE_INCLUSION_REGEX, Type.STRING, null, Importance.HIGH,
                "Java regex matched (whole name, case-sensitive) against DATABASE.SCHEMA.TABLE of each table.");
        d.define(TABLE_EXCLUSION_REGEX, Type.STRING, "", Importance.HIGH, "Java regex of tables not to capture (blank: none).");
        d.define(TABLE_TOPIC_TEMPLATE, Type.STRING, DEFAULT_TABLE_TOPIC_TEMPLATE, Importance.HIGH,
                "Topic of each table's change records (blank: redo log topic only). Variables ${databaseName} "
                        + "${schemaName} ${tableName} ${fullyQualifiedTableName} ${connectorName}; characters invalid "
                        + "in topic names become '_'.");
        d.define("table.task.reconfig.checking.interval.ms", Type.LONG, 300000L, Importance.LOW, "Table set check interval.");
        d.define("table.rps.logging.interval.ms", Type.LONG, 60000L, Importance.LOW, "RPS logging interval.");
        d.define("oracle.supplemental.log.level", Type.STRING, "full", ConfigDef.ValidString.in("full", "msl"),
                Importance.LOW, "Supplemental logging level.");
        // ---- connection pool
        d.define("connection.pool.initial.size", Type.INT, 0, Importance.MEDIUM, "Initial JDBC connections.");
        d.define("connection.pool.min.size", Type.INT, 0, Importance.MEDIUM, "Minimum JDBC connections.");
        d.define("connection.pool.max.size", Type.INT, 20, Importance.MEDIUM, "Maximum JDBC connections.");
        d.define("connection.pool.login.timeout.ms", Type.LONG, 0L, Importance.MEDIUM, "JDBC login timeout.");
        d.define("connection.pool.connection.wait.timeout.ms", Type.LONG, 0L, Importance.LOW, "Pool wait timeout.");
        // ---- licence
        d.define(CONFLUENT_LICENSE, Type.STRING, "", Importance.HIGH, "Confluent licence key (blank: 30-day trial).");
        d.define(CONFLUENT_TOPIC, Type.STRING, "_confluent-command", Importance.LOW, "Licence topic.");
        d.define(CONFLUENT_TOPIC_BOOTSTRAP, Type.LIST, ConfigDef.NO_DEFAULT_VALUE, Importance.HIGH,
                "Kafka cluster holding the licence topic.");
        d.define(CONFLUENT_TOPIC_REPLICATION, Type.INT, 3, ConfigDef.Range.atLeast(1), Importance.LOW,
                "Replication factor of the licence topic (1 on a single broker).");
        return d;
    }

    private static final DateTimeFormatter ORACLE_TS = new DateTimeFormatterBuilder().parseCaseInsensitive()
            .appendPattern("dd-MMM-yyyy HH:mm:ss").toFormatter(Locale.ENGLISH);

    /** start.from, parsed. */
    public static final class StartFrom {
        public enum Mode { SNAPSHOT, CURRENT, FORCE_CURRENT, SCN, TIMESTAMP }

        public final Mode mode;
        public final long scn;
        public final long timestampMillis;

        StartFrom(Mode mode, long scn, long timestampMillis) {
            this.mode = mode;
            this.scn = scn;
            this.timestampMillis = timestampMillis;
        }

        public static StartFrom parse(String value) {
            String v = value == null ? "" : value.trim();
            switch (v.toLowerCase(Locale.ROOT)) {
                case "snapshot":
                    return new StartFrom(Mode.SNAPSHOT, -1, -1);
                case "current":
                    return new StartFrom(Mode.CURRENT, -1, -1);
                case "force_current":
                    return new StartFrom(Mode.FORCE_CURRENT, -1, -1);
                default:
                    break;
            }
            if (v.matches("\\d+")) {
                return new StartFrom(Mode.SCN, Long.parseLong(v), -1);
            }
            try {
                LocalDateTime ts = LocalDateTime.parse(v, ORACLE_TS);
                return new StartFrom(Mode.TIMESTAMP, -1, ts.toInstant(ZoneOffset.UTC).toEpochMilli());
            } catch (RuntimeException e) {
                throw new ConfigException(START_FROM, value, "must be snapshot, current, force_current, an SCN or a "
                        + "timestamp DD-MON-YYYY HH24:MI:SS");
            }
        }
    }

    private final StartFrom startFrom;
    private final Pattern inclusion;
    private final Pattern exclusion;

    public OracleCdcSourceConnectorConfig(Map<?, ?> originals) {
        super(CONFIG_DEF, originals);
        startFrom = StartFrom.parse(getString(START_FROM));
        String inc = getString(TABLE_INCLUSION_REGEX);
        if (inc == null || inc.isEmpty()) {
            throw new ConfigException(missingRequired(TABLE_INCLUSION_REGEX));
        }
        inclusion = compile(TABLE_INCLUSION_REGEX, inc);
        String exc = getString(TABLE_EXCLUSION_REGEX);
        exclusion = exc == null || exc.trim().isEmpty() ? null : compile(TABLE_EXCLUSION_REGEX, exc);
        for (String problem : problems(rawStrings()).values()) {
            throw new ConfigException(problem);
        }
    }

    static String missingRequired(String key) {
        return "Missing required configuration \"" + key + "\" which has no default value.";
    }

    static Pattern compile(String key, String regex) {
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new ConfigException(key, regex, "invalid Java regular expression: " + e.getDescription());
        }
    }

    /**
     * Checks beyond the ConfigDef's, keyed by config name (only for keys without ConfigDef errors);
     * shared by Connector.validate and the constructor.
     */
    static Map<String, String> problems(Map<String, String> props) {
        Map<String, String> out = new LinkedHashMap<>();
        String inc = props.get(TABLE_INCLUSION_REGEX);
        if (inc == null || inc.isEmpty()) {
            out.put(TABLE_INCLUSION_REGEX, missingRequired(TABLE_INCLUSION_REGEX));
        } else {
            regexProblem(TABLE_INCLUSION_REGEX, inc, out);
        }
        String exc = props.get(TABLE_EXCLUSION_REGEX);
        if (exc != null && !exc.trim().isEmpty()) {
            regexProblem(TABLE_EXCLUSION_REGEX, exc, out);
        }
        try {
            StartFrom.parse(props.getOrDefault(START_FROM, "snapshot"));
        } catch (ConfigException e) {
            out.put(START_FROM, e.getMessage());
        }
        String tableTemplate = props.getOrDefault(TABLE_TOPIC_TEMPLATE, DEFAULT_TABLE_TOPIC_TEMPLATE);
        String redoTemplate = props.getOrDefault(REDO_LOG_TOPIC, DEFAULT_REDO_LOG_TOPIC);
        templateProblem(TABLE_TOPIC_TEMPLATE, tableTemplate, TABLE_TOPIC_VARS, out);
        templateProblem(REDO_LOG_TOPIC, redoTemplate, REDO_TOPIC_VARS, out);
        if (tableTemplate.trim().isEmpty() && redoTemplate.trim().isEmpty()) {
            out.put(TABLE_TOPIC_TEMPLATE, TABLE_TOPIC_TEMPLATE + " may be blank only when " + REDO_LOG_TOPIC + " is set");
        }
        String keyTemplate = props.getOrDefault(KEY_TEMPLATE, DEFAULT_KEY_TEMPLATE).trim();
        if (!keyTemplate.equals("${primaryKeyStructOrValue}") && !keyTemplate.equals("${primaryKeyStruct}")) {
            out.put(KEY_TEMPLATE, notModelled(KEY_TEMPLATE + "=" + keyTemplate)
                    + "; modelled: ${primaryKeyStructOrValue}, ${primaryKeyStruct}");
        }
        String lob = props.getOrDefault(LOB_TOPIC_TEMPLATE, "");
        if (!lob.trim().isEmpty()) {
            out.put(LOB_TOPIC_TEMPLATE, notModelled(LOB_TOPIC_TEMPLATE + " (LOB topics)"));
        }
        String heartbeat = props.getOrDefault(HEARTBEAT_INTERVAL_MS, "0").trim();
        if (!heartbeat.equals("0") && !heartbeat.isEmpty()) {
            out.put(HEARTBEAT_INTERVAL_MS, notModelled(HEARTBEAT_INTERVAL_MS + " > 0 (heartbeats)"));
        }
        return out;
    }

    private static void regexProblem(String key, String regex, Map<String, String> out) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            out.put(key, "Invalid value " + regex + " for configuration " + key + ": invalid Java regular expression: "
                    + e.getDescription());
        }
    }

    private static void templateProblem(String key, String template, List<String> vars, Map<String, String> out) {
        try {
            TopicTemplate.parse(template, vars);
        } catch (ConfigException e) {
            out.put(key, "Invalid value " + template + " for configuration " + key + ": " + e.getMessage());
        }
    }

    static String notModelled(String what) {
        return what + " is valid for the Oracle CDC Source connector but not modelled by this test double";
    }

    private Map<String, String> rawStrings() {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, Object> e : originals().entrySet()) {
            Object v = e.getValue();
            out.put(e.getKey(), v instanceof Password ? ((Password) v).value() : v == null ? null : String.valueOf(v));
        }
        return out;
    }

    // ------------------------------------------------------------------ accessors

    public StartFrom startFrom() {
        return startFrom;
    }

    /** ${databaseName}: the PDB when oracle.pdb.name is set, else the SID. */
    public String databaseName() {
        String pdb = getString(ORACLE_PDB);
        return pdb != null && !pdb.isEmpty() ? pdb : getString(ORACLE_SID);
    }

    public String where() {
        String server = getString(ORACLE_SERVER);
        return (server == null || server.isEmpty() ? "<oracle.server not set>" : server) + ":" + getInt(ORACLE_PORT);
    }

    public boolean captures(String fullyQualifiedTableName) {
        return inclusion.matcher(fullyQualifiedTableName).matches()
                && (exclusion == null || !exclusion.matcher(fullyQualifiedTableName).matches());
    }

    /** Metadata field name for a key, or null when blank (field removed). */
    public String field(String key) {
        String v = getString(key);
        return v == null || v.trim().isEmpty() ? null : v.trim();
    }

    public String opTypeValue(char op) {
        switch (op) {
            case 'R':
                return getString("output.op.type.read.value");
            case 'I':
                return getString("output.op.type.insert.value");
            case 'U':
                return getString("output.op.type.update.value");
            case 'D':
                return getString("output.op.type.delete.value");
            default:
                return getString("output.op.type.truncate.value");
        }
    }

    public List<String> listOrEmpty(String key) {
        List<String> v = getList(key);
        return v == null ? Collections.emptyList() : new ArrayList<>(v);
    }
}
