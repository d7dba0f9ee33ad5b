package com.cdcplane.redis;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes each record's value as a JSON document: {@code JSON.SET <keyspace><separator><id> $ <document>}.
 *
 * <ul>
 * <li><b>Batching and delivery.</b> {@link #put} sends the whole batch in one pipeline (one round trip) and returns
 * only after Redis acknowledged every command; Connect then commits the offsets, so delivery is at-least-once and
 * {@link #flush} has nothing pending. Records of one batch are applied in order.</li>
 * <li><b>Latest window.</b> With {@code redis.window.field} set, a Lua script (EVALSHA) reads the stored document
 * and calls JSON.SET only if the stored window field is &lt;= the record's, so an update for an older window never
 * replaces a newer window's document, whichever task writes first. Equal windows are written (the window's count
 * moved on). A stored document without the field is overwritten.</li>
 * <li><b>Replays.</b> With {@code redis.offsets.key} set, each write or delete also records the record's
 * partition, offset and topic for its key, in that hash, inside the same script; a record at or before the recorded
 * offset of the same topic-partition is skipped. Moving the sink's offsets back (a rebuild) or a redelivery after a
 * crash therefore writes only keys that lack a record, and a busy window's intermediate counts never reappear.</li>
 * <li><b>Tombstones</b> (null value) never fail the task. With {@code redis.window.field} set and the record key
 * carrying that field, a second script deletes the document only if it still holds that same window (the
 * window's count was retracted). Every other tombstone is ignored and counted in a debug log line: Flink's
 * upsert-kafka with {@code PRIMARY KEY (NAME)} precedes every update with a tombstone, and deleting on it would
 * empty the key between updates.</li>
 * <li><b>Bad records</b> (a key that yields no id, a value that is neither Map nor Struct, a missing window field)
 * go to Connect's ErrantRecordReporter when the worker offers one, so {@code errors.tolerance=all} (and a dead
 * letter queue) skips them and {@code errors.tolerance=none} fails the task; without a reporter they fail the task.
 * The message names topic, partition and offset.</li>
 * <li><b>Redis errors.</b> Connection loss, timeouts, LOADING/BUSY: {@link RetriableException}, after asking
 * Connect to wait a second before redelivering. A rejected command, such as a key of another type, fails the task
 * with Redis's own message and the key. Passwords never appear in messages or logs.</li>
 * </ul>
 */
public class RedisJsonSinkTask extends SinkTask {
    private static final Logger log = LoggerFactory.getLogger(RedisJsonSinkTask.class);
    static final long RETRY_BACKOFF_MS = 1000;

    private RedisJsonSinkConfig config;
    private RecordFields fields;
    private RedisWrites writes;
    private ErrantRecordReporter reporter;
    private RedisWrites.Outcome lastOutcome;
    private int lastTombstonesIgnored;

    @Override
    public String version() {
        return RedisJsonSinkConnector.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        try {
            config = new RedisJsonSinkConfig(props);
        } catch (ConfigException e) {
            throw new ConnectException("invalid Redis JSON sink configuration: " + Redaction.uri(e.getMessage()));
        }
        fields = new RecordFields(config.keyspace(), config.separator(), config.keyField(), config.windowField());
        writes = new RedisWrites(config);
        reporter = errantRecordReporter();
        log.info("Redis JSON sink task writing to {} (key {}{}<id>, id from {}, latest-window guard {}, replay guard {})",
                config.safeUri(), config.keyspace(), config.separator(),
                config.keyField() == null ? "the record key" : "key field " + config.keyField(),
                config.windowField() == null ? "off" : "on field " + config.windowField(),
                config.offsetsKey() == null ? "off" : "in hash " + config.offsetsKey());
    }

    private ErrantRecordReporter errantRecordReporter() {
        if (context == null) {
            return null;
        }
        try {
            return context.errantRecordReporter();
        } catch (NoSuchMethodError | NoClassDefFoundError e) {
            return null; // worker older than Kafka 2.6
        }
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        if (records.isEmpty()) {
            return;
        }
        List<RedisWrites.Op> ops = new ArrayList<>(records.size());
        int ignored = 0;
        for (SinkRecord record : records) {
            try {
                RedisWrites.Op op = plan(record);
                if (op == null) {
                    ignored++;
                } else {
                    ops.add(op);
                }
            } catch (DataException e) {
                rejectRecord(record, e);
            }
        }
        RedisWrites.Outcome outcome;
        try {
            outcome = writes.write(ops);
        } catch (RetriableException e) {
            context.timeout(RETRY_BACKOFF_MS);
            throw e;
        }
        lastOutcome = outcome;
        lastTombstonesIgnored = ignored;
        if (log.isDebugEnabled()) {
            log.debug("batch of {}: {} written, {} stale (older window) skipped, {} deleted, {} tombstones kept the"
                    + " document (window moved on), {} tombstones ignored, {} already seen (replay) skipped",
                    records.size(), outcome.written(), outcome.stale(), outcome.deleted(), outcome.tombstonesKept(),
                    ignored, outcome.replayed());
        }
    }

    /** The write for one record, or null for a tombstone the sink ignores. */
    RedisWrites.Op plan(SinkRecord record) {
        String windowField = config.windowField();
        if (record.value() == null) {
            if (windowField == null) {
                return null;
            }
            RecordFields.Window window = fields.keyWindow(record);
            if (window == null) {
                return null;
            }
            String key;
            try {
                key = fields.redisKey(record);
            } catch (DataException e) {
                return null; // a tombstone never fails the task
            }
            return new RedisWrites.Op(RedisWrites.Kind.DELETE_IF_SAME_WINDOW, key, null, window, record);
        }
        String key = fields.redisKey(record);
        String doc = JsonDocuments.object(record.value(), record.valueSchema());
        if (windowField == null) {
            return new RedisWrites.Op(RedisWrites.Kind.SET, key, doc, null, record);
        }
        return new RedisWrites.Op(RedisWrites.Kind.SET_IF_NOT_OLDER, key, doc, fields.valueWindow(record), record);
    }

    private void rejectRecord(SinkRecord record, DataException cause) {
        DataException e = new DataException("Redis JSON sink cannot write record " + RedisWrites.describe(record)
                + ": " + cause.getMessage());
        if (reporter == null) {
            throw e;
        }
        // errors.tolerance=none makes the reporter throw (the task fails); =all logs it or sends it to the DLQ
        reporter.report(record, e);
    }

    @Override
    public void flush(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
        // put() returns only after Redis acknowledged every write: nothing is pending here
    }

    /** The last batch's counts (tests and debugging). */
    RedisWrites.Outcome lastOutcome() {
        return lastOutcome;
    }

    int lastTombstonesIgnored() {
        return lastTombstonesIgnored;
    }

    @Override
    public void stop() {
        if (writes != null) {
            writes.close();
            writes = null;
        }
    }
}
