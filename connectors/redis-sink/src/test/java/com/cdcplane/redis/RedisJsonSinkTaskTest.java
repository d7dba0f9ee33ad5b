package com.cdcplane.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

import redis.clients.jedis.Protocol.Command;
import redis.clients.jedis.json.JsonProtocol.JsonCommand;

/** The task against a real redis-server with RedisJSON: documents, keys, latest window, tombstones, errors. */
class RedisJsonSinkTaskTest extends RealRedisTaskTest {
    static final String TOPIC = "USER_AGGREGATE_EVENTS";

    private long offset;

    /** A windowed task as the local profile runs it: Flink upsert-kafka JSON keys {"NAME":..,"WINDOW_START":..}. */
    RedisJsonSinkTask windowTask() {
        return task("redis.key.field", "NAME", "redis.window.field", "WINDOW_START");
    }

    SinkRecord record(Object key, Object value) {
        return new SinkRecord(TOPIC, 0, null, key, null, value, offset++);
    }

    static Map<String, Object> count(String name, long windowStart, long count) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("NAME", name);
        v.put("EVENT_COUNT", count);
        v.put("WINDOW_START", windowStart);
        v.put("WINDOW_END", windowStart + 60_000);
        return v;
    }

    static Map<String, Object> windowKey(String name, long windowStart) {
        Map<String, Object> k = new LinkedHashMap<>();
        k.put("NAME", name);
        k.put("WINDOW_START", windowStart);
        return k;
    }

    static String doc(String name, long windowStart, long count) {
        return "{\"NAME\":\"" + name + "\",\"EVENT_COUNT\":" + count + ",\"WINDOW_START\":" + windowStart
                + ",\"WINDOW_END\":" + (windowStart + 60_000) + "}";
    }

    @Test
    void aMapValueWithAStringKeyIsStoredAsAJsonDocument() {
        Map<String, Object> value = new LinkedHashMap<>(count("jdoe", 1_796_131_620_000L, 3));
        value.put("TAGS", List.of("a", "b\"q"));
        value.put("NOTE", null);
        task().put(List.of(record("jdoe", value)));
        assertEquals("{\"NAME\":\"jdoe\",\"EVENT_COUNT\":3,\"WINDOW_START\":1796131620000,\"WINDOW_END\":1796131680000,"
                + "\"TAGS\":[\"a\",\"b\\\"q\"],\"NOTE\":null}", redis.jsonGet(TOPIC + ":jdoe"));
    }

    @Test
    void aStructValueIsStoredWithItsLogicalTypesAsJsonConverterWritesThem() {
        Schema address = SchemaBuilder.struct().field("CITY", Schema.STRING_SCHEMA).build();
        Schema schema = SchemaBuilder.struct()
                .field("NAME", Schema.STRING_SCHEMA)
                .field("EVENT_COUNT", Schema.INT64_SCHEMA)
                .field("RATIO", Schema.FLOAT64_SCHEMA)
                .field("ACTIVE", Schema.BOOLEAN_SCHEMA)
                .field("SEEN", Timestamp.SCHEMA)
                .field("AMOUNT", Decimal.schema(2))
                .field("RAW", Schema.BYTES_SCHEMA)
                .field("HOME", address)
                .field("CODES", SchemaBuilder.array(Schema.INT32_SCHEMA).build())
                .field("MAYBE", Schema.OPTIONAL_STRING_SCHEMA)
                .build();
        Struct value = new Struct(schema)
                .put("NAME", "rsmith").put("EVENT_COUNT", 7L).put("RATIO", 0.5).put("ACTIVE", true)
                .put("SEEN", new java.util.Date(1_796_131_620_123L)).put("AMOUNT", new BigDecimal("12.34"))
                .put("RAW", new byte[] {1, 2, 3}).put("HOME", new Struct(address).put("CITY", "Zürich"))
                .put("CODES", List.of(1, 2));
        task().put(List.of(new SinkRecord(TOPIC, 0, Schema.STRING_SCHEMA, "rsmith", schema, value, 0)));
        assertEquals("{\"NAME\":\"rsmith\",\"EVENT_COUNT\":7,\"RATIO\":0.5,\"ACTIVE\":true,\"SEEN\":1796131620123,"
                + "\"AMOUNT\":12.34,\"RAW\":\"AQID\",\"HOME\":{\"CITY\":\"Zürich\"},\"CODES\":[1,2],\"MAYBE\":null}",
                redis.jsonGet(TOPIC + ":rsmith"));
    }

    @Test
    void theIdComesFromAFieldOfAMapOrStructKey() {
        RedisJsonSinkTask t = task("redis.key.field", "NAME");
        Schema keySchema = SchemaBuilder.struct().field("NAME", Schema.STRING_SCHEMA)
                .field("WINDOW_START", Schema.INT64_SCHEMA).build();
        Struct structKey = new Struct(keySchema).put("NAME", "amary").put("WINDOW_START", 1L);
        t.put(List.of(record(windowKey("jdoe", 1), count("jdoe", 1, 1)),
                new SinkRecord(TOPIC, 1, keySchema, structKey, null, count("amary", 1, 2), 5)));
        assertEquals(doc("jdoe", 1, 1), redis.jsonGet(TOPIC + ":jdoe"));
        assertEquals(doc("amary", 1, 2), redis.jsonGet(TOPIC + ":amary"));
    }

    @Test
    void keyspaceAndSeparatorFormTheKey() {
        task("redis.key", "agg.${topic}.v1", "redis.separator", "/").put(List.of(record(42L, count("n", 1, 1))));
        assertEquals(doc("n", 1, 1), redis.jsonGet("agg." + TOPIC + ".v1/42"));
        task("redis.key", "").put(List.of(record("bare", count("b", 1, 1))));
        assertEquals(doc("b", 1, 1), redis.jsonGet("bare"));
    }

    @Test
    void withoutAWindowFieldTheLastWriteWins() {
        task().put(List.of(record("jdoe", count("jdoe", 120_000, 5)), record("jdoe", count("jdoe", 60_000, 2))));
        assertEquals(doc("jdoe", 60_000, 2), redis.jsonGet(TOPIC + ":jdoe"));
    }

    @Test
    void anOlderWindowNeverOverwritesANewerOneWhileNewerAndEqualWindowsAreWritten() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(record(windowKey("jdoe", 120_000), count("jdoe", 120_000, 1))));
        t.put(List.of(record(windowKey("jdoe", 60_000), count("jdoe", 60_000, 9))));
        assertEquals(doc("jdoe", 120_000, 1), redis.jsonGet(TOPIC + ":jdoe"), "older window must be ignored");
        assertEquals(0, t.lastOutcome().written());
        assertEquals(1, t.lastOutcome().stale());

        t.put(List.of(record(windowKey("jdoe", 120_000), count("jdoe", 120_000, 2))));
        assertEquals(doc("jdoe", 120_000, 2), redis.jsonGet(TOPIC + ":jdoe"), "same window: the count moves on");

        t.put(List.of(record(windowKey("jdoe", 180_000), count("jdoe", 180_000, 1)),
                record(windowKey("jdoe", 120_000), count("jdoe", 120_000, 3))));
        assertEquals(doc("jdoe", 180_000, 1), redis.jsonGet(TOPIC + ":jdoe"), "newer window wins within a batch");
        assertEquals(1, t.lastOutcome().written());
        assertEquals(1, t.lastOutcome().stale());
    }

    @Test
    void aStoredDocumentWithoutTheWindowFieldIsOverwritten() {
        redis.call(JsonCommand.SET, TOPIC + ":jdoe", "$", "{\"legacy\":true}");
        windowTask().put(List.of(record(windowKey("jdoe", 60_000), count("jdoe", 60_000, 1))));
        assertEquals(doc("jdoe", 60_000, 1), redis.jsonGet(TOPIC + ":jdoe"));
    }

    @Test
    void stringWindowsCompareLexicographicallyAndMixedTypesFailClearly() {
        RedisJsonSinkTask t = task("redis.window.field", "W");
        t.put(List.of(record("k", Map.of("W", "2026-12-01T10:01"))));
        t.put(List.of(record("k", Map.of("W", "2026-12-01T10:00"))));
        assertEquals("{\"W\":\"2026-12-01T10:01\"}", redis.jsonGet(TOPIC + ":k"));
        ConnectException e = assertThrows(ConnectException.class, () -> t.put(List.of(record("k", Map.of("W", 5L)))));
        assertTrue(e.getMessage().contains("cannot be compared"), e.getMessage());
        assertTrue(e.getMessage().contains("'" + TOPIC + ":k'"), e.getMessage());
    }

    @Test
    void twoTasksRacingOnOneKeyLeaveTheNewestWindow() throws Exception {
        RedisJsonSinkTask a = windowTask();
        RedisJsonSinkTask b = windowTask();
        int windows = 200;
        List<Throwable> failures = new ArrayList<>();
        Thread ta = new Thread(() -> {
            try {
                for (int w = 0; w < windows; w += 2) { // ascending even windows
                    a.put(List.of(new SinkRecord(TOPIC, 0, null, windowKey("race", w * 60_000L), null,
                            count("race", w * 60_000L, w), w)));
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        });
        Thread tb = new Thread(() -> {
            try {
                for (int w = windows - 1; w >= 1; w -= 2) { // descending odd windows: mostly stale
                    b.put(List.of(new SinkRecord(TOPIC, 1, null, windowKey("race", w * 60_000L), null,
                            count("race", w * 60_000L, w), w)));
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        });
        ta.start();
        tb.start();
        ta.join();
        tb.join();
        assertEquals(List.of(), failures);
        long newest = (windows - 1) * 60_000L;
        assertEquals(doc("race", newest, windows - 1), redis.jsonGet(TOPIC + ":race"));
    }

    @Test
    void aTombstoneDeletesOnlyWhileTheDocumentHoldsItsWindow() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(record(windowKey("jdoe", 60_000), count("jdoe", 60_000, 1)),
                record(windowKey("rsmith", 120_000), count("rsmith", 120_000, 1))));

        t.put(List.of(record(windowKey("jdoe", 60_000), null)));
        assertNull(redis.jsonGet(TOPIC + ":jdoe"), "same window retracted: document deleted");
        assertEquals(1, t.lastOutcome().deleted());

        t.put(List.of(record(windowKey("rsmith", 60_000), null)));
        assertEquals(doc("rsmith", 120_000, 1), redis.jsonGet(TOPIC + ":rsmith"), "older window's tombstone");
        assertEquals(1, t.lastOutcome().tombstonesKept());

        // Flink upsert-kafka with PRIMARY KEY (NAME): a tombstone before every update, its key has no window
        t.put(List.of(record(Map.of("NAME", "rsmith"), null), record(null, null), record("plain", null)));
        assertEquals(doc("rsmith", 120_000, 1), redis.jsonGet(TOPIC + ":rsmith"));
        assertEquals(3, t.lastTombstonesIgnored());

        t.put(List.of(record(windowKey("nobody", 60_000), null)));
        assertNull(redis.jsonGet(TOPIC + ":nobody"));
    }

    @Test
    void withoutAWindowFieldTombstonesAreIgnored() {
        RedisJsonSinkTask t = task();
        t.put(List.of(record("jdoe", count("jdoe", 60_000, 1))));
        t.put(List.of(record("jdoe", null), record(null, null), record(new byte[] {1}, null)));
        assertEquals(doc("jdoe", 60_000, 1), redis.jsonGet(TOPIC + ":jdoe"));
        assertEquals(3, t.lastTombstonesIgnored());
    }

    @Test
    void aTombstoneForAKeyOfAnotherTypeDoesNotFail() {
        redis.call(Command.SET, TOPIC + ":jdoe", "a plain string");
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(record(windowKey("jdoe", 60_000), null)));
        assertEquals("a plain string", redis.call(Command.GET, TOPIC + ":jdoe"));
        assertEquals(1, t.lastOutcome().tombstonesKept());
    }

    @Test
    void aKeyOfAnotherTypeFailsTheTaskWithRedisOwnMessageAndTheKey() {
        redis.call(Command.SET, TOPIC + ":jdoe", "a plain string");
        ConnectException e = assertThrows(ConnectException.class,
                () -> task().put(List.of(record("ok", count("ok", 1, 1)), record("jdoe", count("jdoe", 1, 1)))));
        assertTrue(e.getMessage().contains("Existing key has wrong Redis type"), e.getMessage());
        assertTrue(e.getMessage().contains("key '" + TOPIC + ":jdoe'"), e.getMessage());
        assertTrue(e.getMessage().contains(TOPIC + "-0@1"), e.getMessage());

        ConnectException w = assertThrows(ConnectException.class,
                () -> windowTask().put(List.of(record(windowKey("jdoe", 1), count("jdoe", 1, 1)))));
        assertTrue(w.getMessage().contains("Existing key has wrong Redis type"), w.getMessage());
        assertEquals("a plain string", redis.call(Command.GET, TOPIC + ":jdoe"), "the other key is untouched");
        assertTrue(w.getMessage().contains("key '" + TOPIC + ":jdoe'"), w.getMessage());
    }

    @Test
    void aKeyWithoutAnIdFailsTheTaskNamingTheRecord() {
        DataException nullKey = assertThrows(DataException.class,
                () -> task().put(List.of(new SinkRecord(TOPIC, 2, null, null, null, count("x", 1, 1), 17))));
        assertTrue(nullKey.getMessage().contains(TOPIC + "-2@17"), nullKey.getMessage());
        assertTrue(nullKey.getMessage().contains("key is null"), nullKey.getMessage());

        DataException missing = assertThrows(DataException.class, () -> task("redis.key.field", "NAME")
                .put(List.of(new SinkRecord(TOPIC, 3, null, Map.of("OTHER", "x"), null, count("x", 1, 1), 9))));
        assertTrue(missing.getMessage().contains(TOPIC + "-3@9"), missing.getMessage());
        assertTrue(missing.getMessage().contains("no field 'NAME'"), missing.getMessage());

        DataException bytes = assertThrows(DataException.class,
                () -> task().put(List.of(record(new byte[] {1, 2}, count("x", 1, 1)))));
        assertTrue(bytes.getMessage().contains("it must be a string or a number"), bytes.getMessage());

        DataException structWithoutField = assertThrows(DataException.class,
                () -> task().put(List.of(record(windowKey("x", 1), count("x", 1, 1)))));
        assertTrue(structWithoutField.getMessage().contains("set redis.key.field"), structWithoutField.getMessage());
        assertEquals(List.of(), redis.admin().keys("*").stream().toList(), "nothing written");
    }

    @Test
    void withAnErrantRecordReporterBadRecordsAreReportedAndTheRestWritten() {
        TestContext context = new TestContext(true);
        RedisJsonSinkTask t = task(context, "redis.key.field", "NAME", "redis.window.field", "WINDOW_START");
        SinkRecord noId = record(Map.of("OTHER", "x"), count("x", 1, 1));
        SinkRecord notAnObject = record(windowKey("s", 1), "just a string");
        SinkRecord noWindow = record(windowKey("w", 1), Map.of("NAME", "w"));
        t.put(List.of(noId, record(windowKey("jdoe", 1), count("jdoe", 1, 4)), notAnObject, noWindow));
        assertEquals(List.of(noId, notAnObject, noWindow), context.reported);
        assertTrue(context.reportedErrors.get(1).getMessage().contains("needs a Map"),
                context.reportedErrors.get(1).getMessage());
        assertTrue(context.reportedErrors.get(2).getMessage().contains("no field 'WINDOW_START'"),
                context.reportedErrors.get(2).getMessage());
        assertEquals(doc("jdoe", 1, 4), redis.jsonGet(TOPIC + ":jdoe"));
    }

    @Test
    void aThousandRecordsGoInOnePipelinedRoundTrip() {
        RedisJsonSinkTask t = windowTask();
        List<SinkRecord> batch = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            batch.add(record(windowKey("user" + i, 60_000), count("user" + i, 60_000, i)));
        }
        t.put(List.of(record(windowKey("warmup", 1), count("warmup", 1, 1)))); // opens the connection
        long writesBefore = writesProcessed();
        t.put(batch);
        long replies = writesProcessed() - writesBefore;
        assertEquals(1000, t.lastOutcome().written());
        assertEquals(doc("user999", 60_000, 999), redis.jsonGet(TOPIC + ":user999"));
        assertEquals(1001L, redis.admin().dbSize());
        // one write per command would be >= 1000 socket writes; a pipeline is answered in a few
        assertTrue(replies < 50, "Redis wrote " + replies + " times for 1000 commands: not pipelined");
    }

    @Test
    void aFlushedScriptCacheIsReloaded() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(record(windowKey("jdoe", 1), count("jdoe", 1, 1))));
        redis.call(Command.SCRIPT, "FLUSH");
        t.put(List.of(record(windowKey("jdoe", 2), count("jdoe", 2, 1))));
        assertEquals(doc("jdoe", 2, 1), redis.jsonGet(TOPIC + ":jdoe"));
    }

    private static long writesProcessed() {
        String info = (String) redis.call(Command.INFO, "stats");
        for (String line : info.split("\r\n")) {
            if (line.startsWith("total_writes_processed:")) {
                return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        throw new AssertionError("INFO stats has no total_writes_processed: " + info);
    }

    @Test
    void theTaskFailsNothingForAnEmptyBatch() {
        RedisJsonSinkTask t = task();
        t.put(List.of());
        assertFalse(redis.admin().exists(TOPIC + ":x"));
    }
}
