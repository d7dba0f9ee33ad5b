package io.confluent.connect.oracle.cdc;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Date;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.errors.DataException;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * TEST DOUBLE: Oracle column type -> Connect schema, and JSON value -> Connect value.
 *
 * VARCHAR2/NVARCHAR2/CHAR/NCHAR/LONG/ROWID/INTERVAL/TIMESTAMP WITH TIME ZONE and unknown types -> STRING;
 * TIMESTAMP[(n)] and TIMESTAMP WITH LOCAL TIME ZONE -> Connect Timestamp (JsonConverter writes epoch
 * millis; input: epoch millis or ISO-8601 text, naive times taken as UTC); DATE -> Connect Date, or
 * Timestamp with oracle.date.mapping=timestamp; BINARY_FLOAT -> FLOAT32; BINARY_DOUBLE/FLOAT -> FLOAT64;
 * RAW -> BYTES (input base64); NUMBER by numeric.mapping: none -> Decimal(declared scale, 0 for
 * NUMBER(p), numeric.default.scale for bare NUMBER); best_fit* / precision_only -> INT8/16/32/64 by
 * precision for scale 0, FLOAT64 for scale > 0 (best_fit*), else Decimal (best_fit_or_double -> FLOAT64,
 * best_fit_or_string -> STRING). CLOB/NCLOB/BLOB/BFILE/XMLTYPE are LOBs: the connector leaves them out of
 * the value unless lob.topic.name.template is set (which the double does not model).
 */
final class ColumnType {

    enum Kind { STRING, TIMESTAMP, DATE, INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, DECIMAL, BYTES, LOB }

    private static final Pattern NUMERIC = Pattern.compile("^(NUMBER|NUMERIC|DECIMAL|DEC)\\s*(\\(\\s*(\\*|\\d+)\\s*(,\\s*(-?\\d+)\\s*)?\\))?$");

    final String oracleType;
    final Kind kind;
    final int scale;

    private ColumnType(String oracleType, Kind kind, int scale) {
        this.oracleType = oracleType;
        this.kind = kind;
        this.scale = scale;
    }

    static ColumnType of(String oracleType, String numericMapping, int defaultScale, String dateMapping) {
        String t = oracleType == null ? "" : oracleType.trim().toUpperCase(Locale.ROOT);
        if (t.isEmpty()) {
            return new ColumnType(t, Kind.STRING, 0);
        }
        if (t.equals("CLOB") || t.equals("NCLOB") || t.equals("BLOB") || t.equals("BFILE") || t.startsWith("XMLTYPE")) {
            return new ColumnType(t, Kind.LOB, 0);
        }
        if (t.startsWith("TIMESTAMP")) {
            if (t.contains("LOCAL TIME ZONE")) {
                return new ColumnType(t, Kind.TIMESTAMP, 0);
            }
            return new ColumnType(t, t.contains("TIME ZONE") ? Kind.STRING : Kind.TIMESTAMP, 0);
        }
        if (t.equals("DATE")) {
            return new ColumnType(t, "timestamp".equalsIgnoreCase(dateMapping) ? Kind.TIMESTAMP : Kind.DATE, 0);
        }
        if (t.startsWith("BINARY_FLOAT")) {
            return new ColumnType(t, Kind.FLOAT32, 0);
        }
        if (t.startsWith("BINARY_DOUBLE") || t.startsWith("FLOAT") || t.equals("REAL") || t.equals("DOUBLE PRECISION")) {
            return new ColumnType(t, Kind.FLOAT64, 0);
        }
        if (t.startsWith("RAW") || t.equals("LONG RAW")) {
            return new ColumnType(t, Kind.BYTES, 0);
        }
        Integer precision = null;
        Integer scale = null;
        if (t.equals("INTEGER") || t.equals("INT") || t.equals("SMALLINT")) {
            precision = 38;
            scale = 0;
        } else {
            Matcher m = NUMERIC.matcher(t);
            if (!m.matches()) {
                return new ColumnType(t, Kind.STRING, 0);
            }
            if (m.group(3) != null && !m.group(3).equals("*")) {
                precision = Integer.parseInt(m.group(3));
                scale = m.group(5) == null ? 0 : Integer.parseInt(m.group(5));
            } else if (m.group(5) != null) {
                scale = Integer.parseInt(m.group(5));
            }
        }
        String mapping = numericMapping == null ? "none" : numericMapping.toLowerCase(Locale.ROOT);
        if (mapping.equals("none")) {
            return new ColumnType(t, Kind.DECIMAL, scale != null ? scale : defaultScale);
        }
        if (precision != null && scale != null && scale <= 0) {
            if (precision < 3) {
                return new ColumnType(t, Kind.INT8, 0);
            } else if (precision < 5) {
                return new ColumnType(t, Kind.INT16, 0);
            } else if (precision < 10) {
                return new ColumnType(t, Kind.INT32, 0);
            } else if (precision < 19) {
                return new ColumnType(t, Kind.INT64, 0);
            }
        }
        if (mapping.startsWith("best_fit") && precision != null && scale != null && scale > 0 && precision <= 18) {
            return new ColumnType(t, Kind.FLOAT64, 0);
        }
        switch (mapping) {
            case "best_fit_or_double":
                return new ColumnType(t, Kind.FLOAT64, 0);
            case "best_fit_or_string":
                return new ColumnType(t, Kind.STRING, 0);
            default:
                return new ColumnType(t, Kind.DECIMAL, scale != null ? Math.max(scale, 0) : defaultScale);
        }
    }

    Schema schema(boolean optional) {
        SchemaBuilder b;
        switch (kind) {
            case TIMESTAMP:
                b = org.apache.kafka.connect.data.Timestamp.builder();
                break;
            case DATE:
                b = org.apache.kafka.connect.data.Date.builder();
                break;
            case INT8:
                b = SchemaBuilder.int8();
                break;
            case INT16:
                b = SchemaBuilder.int16();
                break;
            case INT32:
                b = SchemaBuilder.int32();
                break;
            case INT64:
                b = SchemaBuilder.int64();
                break;
            case FLOAT32:
                b = SchemaBuilder.float32();
                break;
            case FLOAT64:
                b = SchemaBuilder.float64();
                break;
            case DECIMAL:
                b = org.apache.kafka.connect.data.Decimal.builder(scale);
                break;
            case BYTES:
                b = SchemaBuilder.bytes();
                break;
            default:
                b = SchemaBuilder.string();
        }
        return optional ? b.optional().build() : b.build();
    }

    Object convert(String column, JsonNode v) {
        if (v == null || v.isNull()) {
            return null;
        }
        try {
            switch (kind) {
                case TIMESTAMP:
                    return new Date(epochMillis(v));
                case DATE: {
                    long ms = epochMillis(v);
                    return new Date(Math.floorDiv(ms, 86_400_000L) * 86_400_000L);
                }
                case INT8:
                    return (byte) exactLong(v, Byte.MIN_VALUE, Byte.MAX_VALUE);
                case INT16:
                    return (short) exactLong(v, Short.MIN_VALUE, Short.MAX_VALUE);
                case INT32:
                    return (int) exactLong(v, Integer.MIN_VALUE, Integer.MAX_VALUE);
                case INT64:
                    return exactLong(v, Long.MIN_VALUE, Long.MAX_VALUE);
                case FLOAT32:
                    return (float) number(v).doubleValue();
                case FLOAT64:
                    return number(v).doubleValue();
                case DECIMAL:
                    return number(v).setScale(scale, RoundingMode.HALF_UP);
                case BYTES:
                    return Base64.getDecoder().decode(v.asText());
                default:
                    return v.isValueNode() ? v.asText() : v.toString();
            }
        } catch (RuntimeException e) {
            throw new DataException("column " + column + " (" + oracleType + "): cannot convert " + v + ": " + e.getMessage(), e);
        }
    }

    private static BigDecimal number(JsonNode v) {
        if (v.isNumber()) {
            return v.decimalValue();
        }
        return new BigDecimal(v.asText().trim());
    }

    private static long exactLong(JsonNode v, long min, long max) {
        long l = number(v).longValueExact();
        if (l < min || l > max) {
            throw new ArithmeticException("out of range");
        }
        return l;
    }

    static long epochMillis(JsonNode v) {
        if (v.isNumber()) {
            return v.asLong();
        }
        String s = v.asText().trim();
        if (s.matches("-?\\d+")) {
            return Long.parseLong(s);
        }
        try {
            return Instant.parse(s).toEpochMilli();
        } catch (DateTimeParseException ignored) {
            // try the next form
        }
        try {
            return OffsetDateTime.parse(s.replace(' ', 'T')).toInstant().toEpochMilli();
        } catch (DateTimeParseException ignored) {
            // try the next form
        }
        try {
            return LocalDateTime.parse(s.replace(' ', 'T')).toInstant(ZoneOffset.UTC).toEpochMilli();
        } catch (DateTimeParseException ignored) {
            // try the next form
        }
        return LocalDate.parse(s).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }
}
