package io.confluent.connect.oracle.cdc;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.source.SourceRecord;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * TEST DOUBLE: turns redo events into the connector's records.
 *
 * Table topic (table.topic.name.template, sanitised): key per key.template -- ${primaryKeyStructOrValue}:
 * the bare column value for a one-column primary key, a Struct of the key columns otherwise, null without
 * a key; value: a Struct of every (non-LOB) column followed by the metadata fields (table, scn,
 * [commit_scn], op_type, op_ts, current_ts, row_id, username, [before], [redo], [undo]) as optional
 * strings, each renamed or removed (blank) by its output.*.field setting. Deletes carry the deleted row
 * with op_type D, followed by a tombstone only with emit.tombstone.on.delete=true. Truncates reach only
 * the redo log topic.
 *
 * Redo log topic (redo.log.topic.name, partition 0): one record per captured change with LogMiner-like
 * columns (SCN, COMMIT_SCN, TIMESTAMP, OPERATION, OPERATION_CODE, SEG_OWNER, TABLE_NAME, SRC_CON_NAME,
 * ROW_ID, USERNAME, XID, SQL_REDO, SQL_UNDO) and a null key.
 */
final class ChangeRecords {

    static final Schema REDO_SCHEMA = SchemaBuilder.struct().name("io.confluent.connect.oracle.cdc.RedoLogRow")
            .field("SCN", Schema.INT64_SCHEMA)
            .field("COMMIT_SCN", Schema.OPTIONAL_INT64_SCHEMA)
            .field("TIMESTAMP", Timestamp.builder().optional().build())
            .field("OPERATION", Schema.STRING_SCHEMA)
            .field("OPERATION_CODE", Schema.INT32_SCHEMA)
            .field("SEG_OWNER", Schema.OPTIONAL_STRING_SCHEMA)
            .field("TABLE_NAME", Schema.OPTIONAL_STRING_SCHEMA)
            .field("SRC_CON_NAME", Schema.OPTIONAL_STRING_SCHEMA)
            .field("ROW_ID", Schema.OPTIONAL_STRING_SCHEMA)
            .field("USERNAME", Schema.OPTIONAL_STRING_SCHEMA)
            .field("XID", Schema.OPTIONAL_STRING_SCHEMA)
            .field("SQL_REDO", Schema.OPTIONAL_STRING_SCHEMA)
            .field("SQL_UNDO", Schema.OPTIONAL_STRING_SCHEMA)
            .build();

    private static final String ROWID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /** Schemas of one table shape. */
    private static final class TableShape {
        final List<String> columns = new ArrayList<>();
        final Map<String, ColumnType> types = new HashMap<>();
        Schema keySchema;
        boolean bareKey;
        Schema valueSchema;
        Schema beforeSchema;
    }

    private final OracleCdcSourceConnectorConfig config;
    private final String connectorName;
    private final TopicTemplate tableTopic;
    private final String redoTopic; // null: none
    private final boolean structKeyAlways;
    private final Map<String, TableShape> shapes = new HashMap<>();

    private final String tableField;
    private final String scnField;
    private final String commitScnField;
    private final String opTypeField;
    private final String opTsField;
    private final String currentTsField;
    private final String rowIdField;
    private final String usernameField;
    private final String beforeField;
    private final String redoField;
    private final String undoField;

    ChangeRecords(OracleCdcSourceConnectorConfig config, String connectorName) {
        this.config = config;
        this.connectorName = connectorName;
        this.tableTopic = TopicTemplate.parse(config.getString(OracleCdcSourceConnectorConfig.TABLE_TOPIC_TEMPLATE),
                OracleCdcSourceConnectorConfig.TABLE_TOPIC_VARS);
        TopicTemplate redo = TopicTemplate.parse(config.getString(OracleCdcSourceConnectorConfig.REDO_LOG_TOPIC),
                OracleCdcSourceConnectorConfig.REDO_TOPIC_VARS);
        Map<String, String> vars = new HashMap<>();
        vars.put("connectorName", connectorName);
        vars.put("databaseName", config.databaseName());
        this.redoTopic = redo.isBlank() ? null : TopicTemplate.sanitizeTopic(redo.render(vars));
        this.structKeyAlways = config.getString(OracleCdcSourceConnectorConfig.KEY_TEMPLATE).trim()
                .equals("${primaryKeyStruct}");
        tableField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_TABLE_NAME_FIELD);
        scnField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_SCN_FIELD);
        commitScnField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_COMMIT_SCN_FIELD);
        opTypeField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_OP_TYPE_FIELD);
        opTsField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_OP_TS_FIELD);
        currentTsField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_CURRENT_TS_FIELD);
        rowIdField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_ROW_ID_FIELD);
        usernameField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_USERNAME_FIELD);
        beforeField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_BEFORE_STATE_FIELD);
        redoField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_REDO_FIELD);
        undoField = config.field(OracleCdcSourceConnectorConfig.OUTPUT_UNDO_FIELD);
    }

    String redoTopic() {
        return redoTopic;
    }

    /** Records of one streamed change: redo log row first, then the table record (and tombstone). */
    List<SourceRecord> streamed(RedoEvent e, Map<String, ?> partition, Map<String, ?> offset) {
        List<SourceRecord> out = new ArrayList<>(3);
        if (redoTopic != null) {
            out.add(new SourceRecord(partition, offset, redoTopic, 0, null, null, REDO_SCHEMA, redoRow(e)));
        }
        if (e.op != 'T') {
            addTableRecords(e, e.op, e.scn, e.username != null ? e.username : e.owner, partition, offset, out);
        }
        return out;
    }

    /** The snapshot record of a row as of snapshotScn (op_type R, no redo log row). */
    List<SourceRecord> snapshot(RedoEvent latest, long snapshotScn, Map<String, ?> partition, Map<String, ?> offset) {
        List<SourceRecord> out = new ArrayList<>(1);
        addTableRecords(latest, 'R', snapshotScn, null, partition, offset, out);
        return out;
    }

    boolean emitsTableRecords() {
        return !tableTopic.isBlank();
    }

    private void addTableRecords(RedoEvent e, char op, long scn, String username, Map<String, ?> partition,
            Map<String, ?> offset, List<SourceRecord> out) {
        if (tableTopic.isBlank()) {
            return;
        }
        Map<String, String> vars = new HashMap<>();
        vars.put("databaseName", e.database);
        vars.put("schemaName", e.owner);
        vars.put("tableName", e.table);
        vars.put("fullyQualifiedTableName", e.fullyQualifiedName());
        vars.put("connectorName", connectorName);
        String topic = TopicTemplate.sanitizeTopic(tableTopic.render(vars));
        TableShape shape = shape(e);
        Object key = key(e, shape);
        Struct value = new Struct(shape.valueSchema);
        for (String c : shape.columns) {
            value.put(c, shape.types.get(c).convert(c, e.row.get(c)));
        }
        putIf(value, tableField, e.fullyQualifiedName());
        putIf(value, scnField, Long.toString(scn));
        putIf(value, commitScnField, Long.toString(e.commitScn != null ? e.commitScn : scn));
        putIf(value, opTypeField, config.opTypeValue(op));
        putIf(value, opTsField, Long.toString(e.tsMs));
        putIf(value, currentTsField, Long.toString(System.currentTimeMillis()));
        putIf(value, rowIdField, rowId(e));
        putIf(value, usernameField, username);
        if (beforeField != null && e.before != null && op == 'U') {
            Struct before = new Struct(shape.beforeSchema);
            for (String c : shape.columns) {
                before.put(c, shape.types.get(c).convert(c, e.before.get(c)));
            }
            value.put(beforeField, before);
        }
        putIf(value, redoField, op == 'R' ? null : sqlRedo(e));
        out.add(new SourceRecord(partition, offset, topic, null, shape.keySchema, key, shape.valueSchema, value));
        if (op == 'D' && config.getBoolean(OracleCdcSourceConnectorConfig.EMIT_TOMBSTONE_ON_DELETE)) {
            out.add(new SourceRecord(partition, offset, topic, null, shape.keySchema, key, null, null));
        }
    }

    private static void putIf(Struct s, String field, String v) {
        if (field != null) {
            s.put(field, v);
        }
    }

    private Object key(RedoEvent e, TableShape shape) {
        if (shape.keySchema == null) {
            return null;
        }
        if (shape.bareKey) {
            String c = e.pk.get(0);
            Object v = shape.types.get(c).convert(c, e.row.get(c));
            if (v == null) {
                throw new DataException("primary key column " + c + " of " + e.fullyQualifiedName() + " is null");
            }
            return v;
        }
        Struct k = new Struct(shape.keySchema);
        for (String c : e.pk) {
            Object v = shape.types.get(c).convert(c, e.row.get(c));
            if (v == null) {
                throw new DataException("primary key column " + c + " of " + e.fullyQualifiedName() + " is null");
            }
            k.put(c, v);
        }
        return k;
    }

    private TableShape shape(RedoEvent e) {
        String signature = e.fullyQualifiedName() + "|" + e.types + "|" + e.row.keySet() + "|" + e.pk;
        TableShape cached = shapes.get(signature);
        if (cached != null) {
            return cached;
        }
        TableShape s = new TableShape();
        List<String> names = new ArrayList<>(e.types.keySet());
        for (String c : e.row.keySet()) {
            if (!names.contains(c)) {
                names.add(c);
            }
        }
        String numeric = config.getString(OracleCdcSourceConnectorConfig.NUMERIC_MAPPING);
        int defaultScale = config.getInt(OracleCdcSourceConnectorConfig.NUMERIC_DEFAULT_SCALE);
        String dateMapping = config.getString(OracleCdcSourceConnectorConfig.DATE_MAPPING);
        for (String c : names) {
            ColumnType t = ColumnType.of(e.types.get(c), numeric, defaultScale, dateMapping);
            if (t.kind == ColumnType.Kind.LOB) {
                continue; // LOB columns are ignored without lob.topic.name.template
            }
            s.columns.add(c);
            s.types.put(c, t);
        }
        String base = TopicTemplate.sanitizeTopic(e.fullyQualifiedName());
        SchemaBuilder value = SchemaBuilder.struct().name(base + ".Value");
        SchemaBuilder before = SchemaBuilder.struct().name(base + ".Before").optional();
        for (String c : s.columns) {
            boolean inKey = e.pk.contains(c);
            value.field(c, s.types.get(c).schema(!inKey));
            before.field(c, s.types.get(c).schema(true));
        }
        s.beforeSchema = before.build();
        for (String f : new String[] { tableField, scnField, commitScnField, opTypeField, opTsField, currentTsField,
                rowIdField, usernameField }) {
            if (f != null && value.field(f) == null) {
                value.field(f, Schema.OPTIONAL_STRING_SCHEMA);
            }
        }
        if (beforeField != null && value.field(beforeField) == null) {
            value.field(beforeField, s.beforeSchema);
        }
        for (String f : new String[] { redoField, undoField }) {
            if (f != null && value.field(f) == null) {
                value.field(f, Schema.OPTIONAL_STRING_SCHEMA);
            }
        }
        s.valueSchema = value.build();
        List<String> keyColumns = new ArrayList<>();
        for (String c : e.pk) {
            if (s.types.containsKey(c)) {
                keyColumns.add(c);
            }
        }
        if (!keyColumns.isEmpty()) {
            if (keyColumns.size() == 1 && !structKeyAlways) {
                s.bareKey = true;
                s.keySchema = s.types.get(keyColumns.get(0)).schema(false);
            } else {
                SchemaBuilder key = SchemaBuilder.struct().name(base + ".Key");
                for (String c : keyColumns) {
                    key.field(c, s.types.get(c).schema(false));
                }
                s.keySchema = key.build();
            }
        }
        shapes.put(signature, s);
        return s;
    }

    private Struct redoRow(RedoEvent e) {
        Struct r = new Struct(REDO_SCHEMA);
        r.put("SCN", e.scn);
        r.put("COMMIT_SCN", e.commitScn != null ? e.commitScn : e.scn);
        r.put("TIMESTAMP", new java.util.Date(e.tsMs));
        String operation;
        int code;
        switch (e.op) {
            case 'I':
                operation = "INSERT";
                code = 1;
                break;
            case 'D':
                operation = "DELETE";
                code = 2;
                break;
            case 'U':
                operation = "UPDATE";
                code = 3;
                break;
            default:
                operation = "DDL";
                code = 5;
        }
        r.put("OPERATION", operation);
        r.put("OPERATION_CODE", code);
        r.put("SEG_OWNER", e.owner);
        r.put("TABLE_NAME", e.table);
        r.put("SRC_CON_NAME", e.database);
        r.put("ROW_ID", e.op == 'T' ? null : rowId(e));
        r.put("USERNAME", e.username != null ? e.username : e.owner);
        r.put("XID", e.xid);
        r.put("SQL_REDO", sqlRedo(e));
        r.put("SQL_UNDO", null);
        return r;
    }

    /** A deterministic 18-character pseudo-ROWID: the same key gives the same row id. */
    static String rowId(RedoEvent e) {
        if (e.rowId != null) {
            return e.rowId;
        }
        StringBuilder identity = new StringBuilder(e.fullyQualifiedName());
        if (!e.pk.isEmpty()) {
            for (String c : e.pk) {
                identity.append('|').append(e.row.get(c));
            }
        } else {
            identity.append('|').append(e.row);
        }
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-1").digest(identity.toString().getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
        StringBuilder out = new StringBuilder("AAA");
        for (int i = 0; out.length() < 18; i++) {
            out.append(ROWID_ALPHABET.charAt((h[i % h.length] & 0xff) % 64));
        }
        return out.toString();
    }

    static String sqlRedo(RedoEvent e) {
        String target = "\"" + e.owner + "\".\"" + e.table + "\"";
        switch (e.op) {
            case 'I': {
                List<String> cols = new ArrayList<>();
                List<String> vals = new ArrayList<>();
                for (Map.Entry<String, JsonNode> c : e.row.entrySet()) {
                    cols.add("\"" + c.getKey() + "\"");
                    vals.add(literal(c.getValue()));
                }
                return "insert into " + target + "(" + String.join(",", cols) + ") values (" + String.join(",", vals) + ");";
            }
            case 'U': {
                List<String> sets = new ArrayList<>();
                for (Map.Entry<String, JsonNode> c : e.row.entrySet()) {
                    if (!e.pk.contains(c.getKey())) {
                        sets.add("\"" + c.getKey() + "\" = " + literal(c.getValue()));
                    }
                }
                return "update " + target + " set " + String.join(", ", sets) + " where " + where(e) + ";";
            }
            case 'D':
                return "delete from " + target + " where " + where(e) + ";";
            default:
                return "truncate table " + target + ";";
        }
    }

    private static String where(RedoEvent e) {
        Map<String, JsonNode> cols = new LinkedHashMap<>();
        if (e.pk.isEmpty()) {
            cols.putAll(e.row);
        } else {
            for (String c : e.pk) {
                cols.put(c, e.row.get(c));
            }
        }
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, JsonNode> c : cols.entrySet()) {
            JsonNode v = c.getValue();
            parts.add("\"" + c.getKey() + "\"" + (v == null || v.isNull() ? " IS NULL" : " = " + literal(v)));
        }
        return String.join(" and ", parts);
    }

    private static String literal(JsonNode v) {
        if (v == null || v.isNull()) {
            return "NULL";
        }
        if (v.isNumber()) {
            return v.asText();
        }
        return "'" + (v.isValueNode() ? v.asText() : v.toString()).replace("'", "''") + "'";
    }
}
