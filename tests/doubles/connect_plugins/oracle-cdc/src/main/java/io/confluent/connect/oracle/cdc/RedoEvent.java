package io.confluent.connect.oracle.cdc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * TEST DOUBLE: one committed change as the Python Oracle double appends it to redo.jsonl:
 * {"scn": int, "op": "I"|"U"|"D"|"T", "owner": str, "table": str, "database": str, "ts_ms": int,
 *  "row": {col: value}, "pk": [col...], "types": {col: "VARCHAR2(50)"|"NUMBER(10,2)"|"TIMESTAMP(6)"|...}}
 * Optional: "row_id", "username", "commit_scn", "xid", "before" ({col: value}, for output.before.state.field),
 * "minable" (default true): false when the database committed the change but LogMiner cannot return it
 * (ARCHIVELOG or supplemental logging off when it was written; "unminable" says which). Such a change is
 * part of the table's state -- a snapshot (flashback query) sees it -- but never a streamed change.
 */
final class RedoEvent {

    final long scn;
    final Long commitScn;
    final char op;
    final String owner;
    final String table;
    final String database;
    final long tsMs;
    final Map<String, JsonNode> row;
    final Map<String, JsonNode> before;
    final List<String> pk;
    final Map<String, String> types;
    final String rowId;
    final String username;
    final String xid;
    final boolean minable;

    private RedoEvent(long scn, Long commitScn, char op, String owner, String table, String database, long tsMs,
            Map<String, JsonNode> row, Map<String, JsonNode> before, List<String> pk, Map<String, String> types,
            String rowId, String username, String xid, boolean minable) {
        this.scn = scn;
        this.commitScn = commitScn;
        this.op = op;
        this.owner = owner;
        this.table = table;
        this.database = database;
        this.tsMs = tsMs;
        this.row = row;
        this.before = before;
        this.pk = pk;
        this.types = types;
        this.rowId = rowId;
        this.username = username;
        this.xid = xid;
        this.minable = minable;
    }

    String fullyQualifiedName() {
        return database + "." + owner + "." + table;
    }

    /** @throws IllegalArgumentException with the reason when the line is not a usable change. */
    static RedoEvent parse(JsonNode n, String defaultDatabase) {
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        long scn = longField(n, "scn", true);
        String opText = text(n, "op", true).toUpperCase(Locale.ROOT);
        char op;
        switch (opText) {
            case "I":
            case "INSERT":
                op = 'I';
                break;
            case "U":
            case "UPDATE":
                op = 'U';
                break;
            case "D":
            case "DELETE":
                op = 'D';
                break;
            case "T":
            case "TRUNCATE":
                op = 'T';
                break;
            default:
                throw new IllegalArgumentException("op must be I, U, D or T, not " + opText);
        }
        String owner = text(n, "owner", true);
        String table = text(n, "table", true);
        String database = text(n, "database", false);
        if (database == null || database.isEmpty()) {
            database = defaultDatabase;
        }
        long ts = n.has("ts_ms") && !n.get("ts_ms").isNull() ? longField(n, "ts_ms", true) : System.currentTimeMillis();
        Map<String, JsonNode> row = object(n, "row", op != 'T');
        Map<String, JsonNode> before = object(n, "before", false);
        List<String> pk = new ArrayList<>();
        JsonNode pkNode = n.get("pk");
        if (pkNode != null && !pkNode.isNull()) {
            if (!pkNode.isArray()) {
                throw new IllegalArgumentException("pk must be an array of column names");
            }
            for (JsonNode c : pkNode) {
                if (!c.isTextual()) {
                    throw new IllegalArgumentException("pk must be an array of column names");
                }
                if (op != 'T' && !row.containsKey(c.asText())) {
                    throw new IllegalArgumentException("primary key column " + c.asText() + " is not in row");
                }
                pk.add(c.asText());
            }
        }
        Map<String, String> types = new LinkedHashMap<>();
        JsonNode typesNode = n.get("types");
        if (typesNode != null && !typesNode.isNull()) {
            if (!typesNode.isObject()) {
                throw new IllegalArgumentException("types must be an object {column: oracle type}");
            }
            Iterator<Map.Entry<String, JsonNode>> it = typesNode.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                types.put(e.getKey(), e.getValue().asText());
            }
        }
        Long commitScn = n.has("commit_scn") && !n.get("commit_scn").isNull() ? longField(n, "commit_scn", true) : null;
        return new RedoEvent(scn, commitScn, op, owner, table, database, ts, row, before, Collections.unmodifiableList(pk),
                types, text(n, "row_id", false), text(n, "username", false), text(n, "xid", false), minable(n));
    }

    private static boolean minable(JsonNode n) {
        JsonNode v = n.get("minable");
        if (v == null || v.isNull()) {
            return true;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("minable must be true or false, not " + v);
        }
        return v.asBoolean();
    }

    private static long longField(JsonNode n, String name, boolean required) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing " + name);
            }
            return -1;
        }
        if (v.isIntegralNumber()) {
            return v.asLong();
        }
        if (v.isTextual() && v.asText().matches("\\d+")) {
            return Long.parseLong(v.asText());
        }
        throw new IllegalArgumentException(name + " must be an integer, not " + v);
    }

    private static String text(JsonNode n, String name, boolean required) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing " + name);
            }
            return null;
        }
        if (!v.isValueNode()) {
            throw new IllegalArgumentException(name + " must be a string");
        }
        return v.asText();
    }

    private static Map<String, JsonNode> object(JsonNode n, String name, boolean required) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing " + name);
            }
            return null;
        }
        if (!v.isObject()) {
            throw new IllegalArgumentException(name + " must be an object {column: value}");
        }
        Map<String, JsonNode> out = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = v.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }
}
