package com.cdcplane.redis;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Map;

import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.sink.SinkRecord;

/**
 * Reads what the sink needs from a record: the Redis key (keyspace + separator + id) and the window value.
 *
 * <p>The id is the record key itself (a String or a number) or, with {@code redis.key.field}, one field of a Map
 * or Struct key, which is how Flink's upsert-kafka writes JSON keys such as
 * {@code {"NAME":"jdoe","WINDOW_START":1796131620000}}. A key that yields no id is a {@link DataException}; the
 * seed's sink would instead have written a key like {@code TOPIC:Struct{NAME=jdoe}}.
 */
final class RecordFields {
    private final String keyspace;
    private final String separator;
    private final String keyField;
    private final String windowField;

    RecordFields(String keyspace, String separator, String keyField, String windowField) {
        this.keyspace = keyspace == null ? "" : keyspace;
        this.separator = separator == null ? "" : separator;
        this.keyField = keyField;
        this.windowField = windowField;
    }

    /** A window value as the Lua scripts compare it: a number or a string (never mixed). */
    record Window(boolean numeric, String text) {
        String kind() {
            return numeric ? "n" : "s";
        }
    }

    /** The Redis key for the record; a {@link DataException} if its key yields no id. */
    String redisKey(SinkRecord record) {
        String id = id(record);
        if (keyspace.isEmpty()) {
            return id;
        }
        return keyspace.replace(RedisJsonSinkConfig.TOPIC_PLACEHOLDER, record.topic()) + separator + id;
    }

    private String id(SinkRecord record) {
        Object key = record.key();
        Object raw;
        if (keyField == null) {
            if (key instanceof Map || key instanceof Struct) {
                throw new DataException("the record key is a " + JsonDocuments.typeName(key)
                        + "; set redis.key.field to the key field that holds the id");
            }
            raw = key;
        } else {
            if (!(key instanceof Map) && !(key instanceof Struct)) {
                throw new DataException("redis.key.field=" + keyField + " needs a Map or Struct record key (JSON"
                        + " keys through JsonConverter), but the key is a " + JsonDocuments.typeName(key));
            }
            raw = field(key, keyField);
            if (raw == null) {
                throw new DataException("the record key has no field '" + keyField + "' (or it is null)");
            }
        }
        if (raw == null) {
            throw new DataException("the record key is null, so there is no id for the Redis key");
        }
        if (!(raw instanceof CharSequence) && !isIntegral(raw) && !(raw instanceof BigDecimal)) {
            throw new DataException("the id " + (keyField == null ? "(record key)" : "field '" + keyField + "'")
                    + " is a " + JsonDocuments.typeName(raw) + "; it must be a string or a number");
        }
        String id = raw instanceof BigDecimal d ? d.toPlainString() : raw.toString();
        if (id.isEmpty()) {
            throw new DataException("the id is an empty string");
        }
        return id;
    }

    /** The value's window field; a {@link DataException} if it is missing or neither number nor string. */
    Window valueWindow(SinkRecord record) {
        Object raw = field(record.value(), windowField);
        if (raw == null) {
            throw new DataException("the value has no field '" + windowField + "' (redis.window.field), or it"
                    + " is null");
        }
        Window w = window(raw, fieldSchema(record.value(), windowField));
        if (w == null) {
            throw new DataException("the value's field '" + windowField + "' is a " + JsonDocuments.typeName(raw)
                    + "; redis.window.field must name a number or a string");
        }
        return w;
    }

    /** The key's window field, or null if the key has none (then a tombstone is ignored). */
    Window keyWindow(SinkRecord record) {
        Object key = record.key();
        if (!(key instanceof Map) && !(key instanceof Struct)) {
            return null;
        }
        Object raw = field(key, windowField);
        return raw == null ? null : window(raw, fieldSchema(key, windowField));
    }

    private static Window window(Object raw, Schema schema) {
        if (raw instanceof CharSequence s) {
            return new Window(false, s.toString());
        }
        if (isIntegral(raw)) {
            return new Window(true, raw.toString());
        }
        if (raw instanceof BigDecimal d) {
            return new Window(true, d.toPlainString());
        }
        if ((raw instanceof Double || raw instanceof Float) && Double.isFinite(((Number) raw).doubleValue())) {
            return new Window(true, raw.toString());
        }
        if (raw instanceof java.util.Date d) {
            return new Window(true, Long.toString(JsonDocuments.dateValue(d, schema)));
        }
        return null;
    }

    private static boolean isIntegral(Object o) {
        return o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte
                || o instanceof BigInteger;
    }

    private static Object field(Object container, String name) {
        if (container instanceof Map<?, ?> map) {
            return map.get(name);
        }
        if (container instanceof Struct struct) {
            Field f = struct.schema().field(name);
            return f == null ? null : struct.get(f);
        }
        return null;
    }

    private static Schema fieldSchema(Object container, String name) {
        if (container instanceof Struct struct) {
            Field f = struct.schema().field(name);
            return f == null ? null : f.schema();
        }
        return null;
    }
}
