package com.cdcplane.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;

import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

import redis.clients.jedis.Protocol.Command;

/**
 * The replay guard ({@code redis.offsets.key}) against a real redis-server: moving the sink's offsets back writes
 * nothing to a key that has already seen the replayed records, so a busy window's intermediate counts never
 * reappear; a key whose position was cleared is rebuilt from the replay.
 */
class ReplayGuardTest extends RealRedisTaskTest {
    static final String TOPIC = RedisJsonSinkTaskTest.TOPIC;
    static final String OFFSETS = "__cdcplane:offsets:" + TOPIC;
    static final String KEY = TOPIC + ":jdoe";

    @Override
    RedisJsonSinkTask task(String... kv) {
        String[] all = new String[kv.length + 2];
        all[0] = "redis.offsets.key";
        all[1] = OFFSETS;
        System.arraycopy(kv, 0, all, 2, kv.length);
        return super.task(all);
    }

    RedisJsonSinkTask windowTask() {
        return task("redis.key.field", "NAME", "redis.window.field", "WINDOW_START");
    }

    /** A record written at time 1 000 000 + offset (as a producer stamps them: the broker's CreateTime). */
    static SinkRecord at(int partition, long offset, long window, Long count) {
        return at(partition, offset, window, count, 1_000_000L + offset);
    }

    static SinkRecord at(int partition, long offset, long window, Long count, Long timestamp) {
        return new SinkRecord(TOPIC, partition, null, RedisJsonSinkTaskTest.windowKey("jdoe", window), null,
                count == null ? null : RedisJsonSinkTaskTest.count("jdoe", window, count), offset,
                timestamp, timestamp == null ? TimestampType.NO_TIMESTAMP_TYPE : TimestampType.CREATE_TIME);
    }

    /** A busy partition: window 60 000 counted 1, 2, 3 (offsets 0-2), then window 120 000 counted 1, 2 (3-4). */
    static List<SinkRecord> busy() {
        return List.of(at(0, 0, 60_000, 1L), at(0, 1, 60_000, 2L), at(0, 2, 60_000, 3L),
                at(0, 3, 120_000, 1L), at(0, 4, 120_000, 2L));
    }

    /** JSON.SET calls Redis has executed, including those inside scripts. */
    static long jsonSets() {
        String info = (String) redis.call(Command.INFO, "commandstats");
        for (String line : info.split("\r\n")) {
            if (line.startsWith("cmdstat_json.set:")) {
                return Long.parseLong(line.substring(line.indexOf("calls=") + 6, line.indexOf(',')));
            }
        }
        return 0;
    }

    @Test
    void aReplayOfABusyWindowWritesNothingToAKeyThatSawIt() {
        RedisJsonSinkTask t = windowTask();
        t.put(busy());
        String right = RedisJsonSinkTaskTest.doc("jdoe", 120_000, 2);
        assertEquals(right, redis.jsonGet(KEY));
        assertEquals("0:4:1000004:" + TOPIC, redis.call(Command.HGET, OFFSETS, KEY));

        long before = jsonSets();
        t.put(busy()); // the sink's offsets moved back to 0
        assertEquals(before, jsonSets(), "a replayed record must not reach JSON.SET");
        assertEquals(5, t.lastOutcome().replayed());
        assertEquals(0, t.lastOutcome().written());
        assertEquals(right, redis.jsonGet(KEY));

        t.put(List.of(at(0, 5, 120_000, 3L))); // the stream goes on past the replay
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 120_000, 3), redis.jsonGet(KEY));
    }

    @Test
    void aRedeliveredBatchAfterACrashIsSkippedToo() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(at(0, 7, 60_000, 4L)));
        t.put(List.of(at(0, 7, 60_000, 4L)));
        assertEquals(1, t.lastOutcome().replayed());
    }

    @Test
    void aKeyWhosePositionWasClearedIsRebuiltByTheReplayToItsNewestValue() {
        RedisJsonSinkTask t = windowTask();
        t.put(busy());
        redis.call(Command.DEL, KEY);
        t.put(busy());
        assertNull(redis.jsonGet(KEY), "the key's position still says it saw these records: a rebuild clears it");

        redis.call(Command.HDEL, OFFSETS, KEY); // what rebuild_redis does for a missing or wrong key
        t.put(busy());
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 120_000, 2), redis.jsonGet(KEY));
        assertEquals(5, t.lastOutcome().written());
    }

    @Test
    void aRetractedWindowStaysDeletedThroughAReplay() {
        RedisJsonSinkTask t = windowTask();
        List<SinkRecord> records = List.of(at(0, 0, 60_000, 1L), at(0, 1, 60_000, null));
        t.put(records);
        assertNull(redis.jsonGet(KEY));
        t.put(records);
        assertNull(redis.jsonGet(KEY), "the replayed count 1 must not come back before its tombstone");
        assertEquals(2, t.lastOutcome().replayed());
    }

    @Test
    void anotherPartitionOrTopicIsNotComparedAndTheWindowRuleDecides() {
        // a fixed keyspace, so a second topic writes the same key
        RedisJsonSinkTask t = task("redis.key", TOPIC, "redis.key.field", "NAME", "redis.window.field", "WINDOW_START");
        t.put(List.of(at(0, 9, 60_000, 5L)));
        t.put(List.of(at(1, 0, 120_000, 1L))); // a recreated topic with another layout: offsets start again
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 120_000, 1), redis.jsonGet(KEY));
        t.put(List.of(new SinkRecord("OTHER", 1, null, RedisJsonSinkTaskTest.windowKey("jdoe", 60_000), null,
                RedisJsonSinkTaskTest.count("jdoe", 60_000, 7), 0)));
        assertEquals(1, t.lastOutcome().stale(), "another topic: not a replay, but an older window");
    }

    @Test
    void aTopicCreatedAgainStartsItsOffsetsOverAndIsWrittenBecauseItsRecordsAreNewer() {
        RedisJsonSinkTask t = windowTask();
        t.put(busy());
        // the topic was deleted and created again: offsets from 0, stamped later than anything the key has seen
        t.put(List.of(at(0, 0, 180_000, 1L, 2_000_000L)));
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 180_000, 1), redis.jsonGet(KEY));
        t.put(List.of(at(0, 1, 180_000, 2L, 2_000_001L)));
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 180_000, 2), redis.jsonGet(KEY));
        t.put(List.of(at(0, 0, 180_000, 1L, 2_000_000L))); // and a replay of the new topic is still one
        assertEquals(1, t.lastOutcome().replayed());
    }

    @Test
    void aLateRecordStampedEarlierStillCountsAsSeen() {
        // ksqlDB stamps an output with its input's event time: a late event gives a key an older timestamp
        RedisJsonSinkTask t = windowTask();
        List<SinkRecord> records = List.of(at(0, 0, 60_000, 1L, 500L), at(0, 1, 60_000, 2L, 100L));
        t.put(records);
        t.put(records);
        assertEquals(2, t.lastOutcome().replayed(), "the key's largest timestamp, not its last, decides");
        assertEquals(RedisJsonSinkTaskTest.doc("jdoe", 60_000, 2), redis.jsonGet(KEY));
    }

    @Test
    void recordsWithoutATimestampAreComparedByOffsetAlone() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(at(0, 3, 60_000, 1L, null)));
        t.put(List.of(at(0, 3, 60_000, 1L, null)));
        assertEquals(1, t.lastOutcome().replayed());
        assertEquals("0:3:-:" + TOPIC, redis.call(Command.HGET, OFFSETS, KEY));
    }

    @Test
    void aStaleRecordMovesTheKeysPositionOn() {
        RedisJsonSinkTask t = windowTask();
        t.put(List.of(at(0, 0, 120_000, 1L), at(0, 1, 60_000, 5L)));
        assertEquals(1, t.lastOutcome().stale());
        assertEquals("0:1:1000001:" + TOPIC, redis.call(Command.HGET, OFFSETS, KEY));
    }

    @Test
    void withoutAWindowFieldTheGuardStillSkipsReplays() {
        RedisJsonSinkTask t = task();
        SinkRecord a = new SinkRecord(TOPIC, 0, null, "k", null, Map.of("N", 1L), 0, 10L, TimestampType.CREATE_TIME);
        SinkRecord b = new SinkRecord(TOPIC, 0, null, "k", null, Map.of("N", 2L), 1, 11L, TimestampType.CREATE_TIME);
        t.put(List.of(a, b));
        t.put(List.of(a));
        assertEquals("{\"N\":2}", redis.jsonGet(TOPIC + ":k"));
        assertEquals(1, t.lastOutcome().replayed());
    }
}
