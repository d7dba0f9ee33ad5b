package com.cdcplane.redis;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;

import org.apache.kafka.connect.data.Date;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Time;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.DataException;

/**
 * Turns a Connect value (a schemaless {@code Map} from JsonConverter with schemas.enable=false, or a
 * {@code Struct}) into the JSON text that JSON.SET stores.
 *
 * <p>The output matches JsonConverter's schemaless form, except Decimal, written as a JSON number rather than
 * base64: Timestamp as epoch milliseconds, Date as days since the epoch, Time as milliseconds of the day, bytes
 * as base64. NaN and infinities have no JSON form and are rejected.
 */
final class JsonDocuments {
    private JsonDocuments() {
    }

    /** The JSON object text for a record value; anything but a Map or a Struct is a {@link DataException}. */
    static String object(Object value, Schema schema) {
        if (!(value instanceof Map) && !(value instanceof Struct)) {
            throw new DataException("the value is a " + typeName(value) + "; the sink stores JSON objects, so it"
                    + " needs a Map (JsonConverter, schemas.enable=false) or a Struct (a converter with schemas)");
        }
        StringBuilder out = new StringBuilder(256);
        write(out, value, schema);
        return out.toString();
    }

    static String typeName(Object value) {
        return value == null ? "null" : value.getClass().getSimpleName();
    }

    private static void write(StringBuilder out, Object value, Schema schema) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Struct struct) {
            writeStruct(out, struct);
        } else if (value instanceof Map<?, ?> map) {
            writeMap(out, map, schema == null ? null : schema.valueSchema());
        } else if (value instanceof Collection<?> list) {
            writeList(out, list, schema == null ? null : schema.valueSchema());
        } else if (value instanceof CharSequence s) {
            string(out, s.toString());
        } else if (value instanceof Boolean b) {
            out.append(b);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                throw new DataException("the value holds " + d + ", which JSON cannot represent");
            }
            out.append(value);
        } else if (value instanceof BigDecimal d) {
            out.append(d.toString());
        } else if (value instanceof Number n && (n instanceof Long || n instanceof Integer || n instanceof Short
                || n instanceof Byte || n instanceof BigInteger)) {
            out.append(n);
        } else if (value instanceof java.util.Date d) {
            out.append(dateValue(d, schema));
        } else if (value instanceof byte[] bytes) {
            string(out, Base64.getEncoder().encodeToString(bytes));
        } else if (value instanceof ByteBuffer buf) {
            ByteBuffer copy = buf.duplicate();
            byte[] bytes = new byte[copy.remaining()];
            copy.get(bytes);
            string(out, Base64.getEncoder().encodeToString(bytes));
        } else {
            throw new DataException("cannot write a " + typeName(value) + " as JSON");
        }
    }

    /** Connect's logical date types as JsonConverter writes them without schemas. */
    static long dateValue(java.util.Date d, Schema schema) {
        String name = schema == null ? null : schema.name();
        if (Date.LOGICAL_NAME.equals(name)) {
            return Date.fromLogical(schema, d);
        }
        if (Time.LOGICAL_NAME.equals(name)) {
            return Time.fromLogical(schema, d);
        }
        if (Timestamp.LOGICAL_NAME.equals(name)) {
            return Timestamp.fromLogical(schema, d);
        }
        return d.getTime();
    }

    private static void writeStruct(StringBuilder out, Struct struct) {
        out.append('{');
        boolean first = true;
        for (Field f : struct.schema().fields()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            string(out, f.name());
            out.append(':');
            write(out, struct.get(f), f.schema());
        }
        out.append('}');
    }

    private static void writeMap(StringBuilder out, Map<?, ?> map, Schema valueSchema) {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            string(out, String.valueOf(e.getKey()));
            out.append(':');
            write(out, e.getValue(), valueSchema);
        }
        out.append('}');
    }

    private static void writeList(StringBuilder out, Collection<?> list, Schema valueSchema) {
        out.append('[');
        boolean first = true;
        for (Object item : list) {
            if (!first) {
                out.append(',');
            }
            first = false;
            write(out, item, valueSchema);
        }
        out.append(']');
    }

    static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
