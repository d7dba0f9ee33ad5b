package io.confluent.connect.oracle.cdc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.confluent.connect.oracle.cdc.OracleCdcSourceConnectorConfig.StartFrom;

/**
 * TEST DOUBLE of the Oracle CDC source task: tails DIR/redo.jsonl (DIR = $CDC_ORACLE_DOUBLE_DIR).
 *
 * Captured changes: the event's database equals ${databaseName} (oracle.pdb.name, else oracle.sid; case
 * ignored) and DATABASE.OWNER.TABLE matches table.inclusion.regex and not table.exclusion.regex.
 * Source partition {"database": ${databaseName}}; source offset {"scn": SCN of the change, "pos": byte
 * offset just after its line}. On restart the task resumes at "pos" when that is still a line boundary of
 * the file, else it re-reads the file skipping SCNs up to "scn" (so an offset written by hand as
 * {"scn": n} works too). Resuming below the oldest redo the database still holds (DoubleDatabase.redoHorizon)
 * fails the task with ORA-01291.
 *
 * Changes marked "minable": false (see RedoEvent) are never streamed; snapshots include them.
 *
 * start.from (first start, or force_current on every start): snapshot (default) -- the current rows of the
 * captured tables, folded from the whole file by primary key (row_id, or the whole row, for tables without
 * one), are emitted as op_type R at the file's highest SCN, then streaming continues after them; current /
 * force_current -- only changes appended after the start; an SCN -- changes with SCN >= it; a timestamp
 * DD-MON-YYYY HH24:MI:SS (UTC) -- changes with ts_ms >= it.
 *
 * A line that is not a valid change follows behavior.on.unparsable.statement (fail: the task fails; log:
 * skipped; write: the raw line goes to redo.log.corruption.topic). A database directory that disappears
 * is retried for max.retry.time.ms, then the task fails. If redo.log.consumer.bootstrap.servers is set,
 * the task fails at start when no Kafka client can be built for it (e.g. an unresolvable host), as the
 * real connector's redo log consumer would; the double does not read the redo log topic back.
 */
public class OracleCdcSourceTask extends SourceTask {

    private static final Logger log = LoggerFactory.getLogger(OracleCdcSourceTask.class);
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    private static final int MAX_CHUNK = 8 * 1024 * 1024;

    private OracleCdcSourceConnectorConfig config;
    private ChangeRecords records;
    private Map<String, Object> partition;
    private Path redoFile;
    private long position;
    private long skipThroughScn = -1;
    private long minTsMillis = -1;
    private long lastEmittedScn = -1;
    private long databaseMissingSince = -1;
    private final Deque<SourceRecord> pending = new ArrayDeque<>();
    private final Object wakeup = new Object();
    private volatile boolean stopping;

    private int maxBatch;
    private long lingerMillis;
    private long pollIntervalMillis;
    private String onUnparsable;
    private String corruptionTopic;

    @Override
    public String version() {
        return OracleCdcSourceConnector.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        stopping = false;
        config = new OracleCdcSourceConnectorConfig(props);
        String connectorName = props.getOrDefault("name", "oracle-cdc-source");
        String why = DoubleDatabase.unreachable(config.where());
        if (why != null) {
            throw new ConnectException(why);
        }
        redoFile = DoubleDatabase.redoFile();
        checkRedoLogConsumer();
        records = new ChangeRecords(config, connectorName);
        partition = Collections.singletonMap("database", config.databaseName());
        maxBatch = config.getInt(OracleCdcSourceConnectorConfig.MAX_BATCH_SIZE);
        lingerMillis = Math.max(0, config.getLong(OracleCdcSourceConnectorConfig.POLL_LINGER_MS));
        pollIntervalMillis = Math.max(10, config.getLong(OracleCdcSourceConnectorConfig.REDO_LOG_POLL_INTERVAL_MS));
        onUnparsable = config.getString(OracleCdcSourceConnectorConfig.BEHAVIOR_ON_UNPARSABLE);
        String corruption = config.getString(OracleCdcSourceConnectorConfig.REDO_LOG_CORRUPTION_TOPIC);
        corruptionTopic = corruption == null || corruption.trim().isEmpty() ? null : corruption.trim();

        StartFrom from = config.startFrom();
        Map<String, Object> offset = context.offsetStorageReader().offset(partition);
        boolean resumable = offset != null && offset.get("scn") instanceof Number && !offset.containsKey("snapshot");
        if (from.mode == StartFrom.Mode.FORCE_CURRENT) {
            position = endOfLastLine();
            log.info("{}: start.from=force_current: stored offsets ignored, streaming from byte {} of {}", connectorName,
                    position, redoFile);
        } else if (resumable) {
            requireRedo(((Number) offset.get("scn")).longValue() + 1, config.databaseName());
            resume(offset);
        } else {
            switch (from.mode) {
                case SNAPSHOT:
                    snapshot();
                    break;
                case CURRENT:
                    position = endOfLastLine();
                    break;
                case SCN:
                    position = 0;
                    skipThroughScn = from.scn - 1;
                    break;
                default:
                    position = 0;
                    minTsMillis = from.timestampMillis;
            }
        }
        log.info("{}: capturing {} from {}, redo log topic {}", connectorName,
                config.getString(OracleCdcSourceConnectorConfig.TABLE_INCLUSION_REGEX), redoFile, records.redoTopic());
    }

    private void checkRedoLogConsumer() {
        List<String> servers = config.listOrEmpty(OracleCdcSourceConnectorConfig.REDO_LOG_CONSUMER_BOOTSTRAP);
        if (servers.isEmpty()) {
            return;
        }
        Map<String, Object> props = new HashMap<>();
        for (Map.Entry<String, Object> e : config.originalsWithPrefix("redo.log.consumer.").entrySet()) {
            if (AdminClientConfig.configNames().contains(e.getKey())) {
                props.put(e.getKey(), e.getValue());
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, String.join(",", servers));
        try {
            Admin.create(props).close(java.time.Duration.ZERO);
        } catch (KafkaException e) {
            throw new ConnectException("Cannot create the redo log consumer for "
                    + OracleCdcSourceConnectorConfig.REDO_LOG_CONSUMER_BOOTSTRAP + "=" + servers + ": "
                    + LicenseTopic.rootMessage(e), e);
        }
    }

    /**
     * LogMiner can only start where a log still covers the SCN: resuming below the oldest log left fails
     * as DBMS_LOGMNR does for a range without its log file (ORA-01291). The real connector's exact text
     * is not public; the ORA code is LogMiner's.
     */
    private static void requireRedo(long needScn, String database) {
        Long horizon = DoubleDatabase.redoHorizon(database);
        if (horizon != null && needScn < horizon) {
            throw new ConnectException("ORA-01291: missing logfile: resuming at SCN " + needScn + " of " + database
                    + " needs a redo log that was deleted (the oldest log still available starts at SCN " + horizon
                    + "); restore the archived logs or take a new snapshot");
        }
    }

    private void resume(Map<String, Object> offset) {
        long scn = ((Number) offset.get("scn")).longValue();
        Object pos = offset.get("pos");
        if (pos instanceof Number && isLineBoundary(((Number) pos).longValue())) {
            position = ((Number) pos).longValue();
            log.info("Resuming {} at byte {} (SCN {})", redoFile, position, scn);
        } else {
            position = 0;
            skipThroughScn = scn;
            log.info("Resuming {} after SCN {} (re-reading the file)", redoFile, scn);
        }
        lastEmittedScn = scn;
    }

    private boolean isLineBoundary(long pos) {
        if (pos == 0) {
            return true;
        }
        try (FileChannel ch = FileChannel.open(redoFile, StandardOpenOption.READ)) {
            if (pos > ch.size()) {
                return false;
            }
            ByteBuffer b = ByteBuffer.allocate(1);
            return ch.read(b, pos - 1) == 1 && b.get(0) == '\n';
        } catch (IOException e) {
            return false;
        }
    }

    private long endOfLastLine() {
        try (FileChannel ch = FileChannel.open(redoFile, StandardOpenOption.READ)) {
            long size = ch.size();
            long p = size;
            ByteBuffer b = ByteBuffer.allocate(1);
            while (p > 0) {
                b.clear();
                ch.read(b, p - 1);
                if (b.get(0) == '\n') {
                    return p;
                }
                p--;
            }
            return 0;
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new ConnectException("Cannot read " + redoFile, e);
        }
    }

    /** Current rows of the captured tables, emitted as reads at the highest SCN of the file. */
    private void snapshot() {
        Map<String, RedoEvent> current = new LinkedHashMap<>();
        long snapshotScn = 0;
        position = 0;
        List<SourceRecord> corrupt = new ArrayList<>();
        while (true) {
            List<Line> lines = readLines(Integer.MAX_VALUE);
            if (lines.isEmpty()) {
                break;
            }
            for (Line line : lines) {
                RedoEvent e = parse(line, corrupt);
                position = line.end;
                if (e == null) {
                    continue;
                }
                snapshotScn = Math.max(snapshotScn, e.scn);
                if (!captured(e)) {
                    continue;
                }
                if (e.op == 'T') {
                    String prefix = e.fullyQualifiedName() + "|";
                    current.keySet().removeIf(k -> k.startsWith(prefix));
                    continue;
                }
                String id = identity(e);
                current.remove(id);
                if (e.op != 'D') {
                    current.put(id, e);
                }
            }
        }
        pending.addAll(corrupt);
        int n = 0;
        for (Iterator<RedoEvent> it = current.values().iterator(); it.hasNext();) {
            RedoEvent e = it.next();
            Map<String, Object> offset = new HashMap<>();
            offset.put("scn", snapshotScn);
            offset.put("pos", position);
            if (it.hasNext()) {
                offset.put("snapshot", "running"); // a restart before the last snapshot record re-snapshots
            }
            pending.addAll(records.snapshot(e, snapshotScn, partition, offset));
            n++;
        }
        lastEmittedScn = snapshotScn;
        log.info("Snapshot of {} rows at SCN {} from {}", n, snapshotScn, redoFile);
    }

    private static String identity(RedoEvent e) {
        StringBuilder id = new StringBuilder(e.fullyQualifiedName()).append('|');
        if (e.rowId != null) {
            id.append("rowid:").append(e.rowId);
        } else if (!e.pk.isEmpty()) {
            for (String c : e.pk) {
                id.append(e.row.get(c)).append('|');
            }
        } else {
            id.append(e.row);
        }
        return id.toString();
    }

    private boolean captured(RedoEvent e) {
        return e.database.equalsIgnoreCase(config.databaseName()) && config.captures(e.fullyQualifiedName());
    }

    @Override
    public List<SourceRecord> poll() throws InterruptedException {
        if (!pending.isEmpty()) {
            return drainPending();
        }
        long deadline = System.currentTimeMillis() + lingerMillis;
        while (!stopping) {
            List<SourceRecord> out = readAvailable();
            if (!out.isEmpty()) {
                return out;
            }
            long wait = Math.min(pollIntervalMillis, deadline - System.currentTimeMillis());
            if (wait <= 0) {
                return null;
            }
            synchronized (wakeup) {
                wakeup.wait(wait);
            }
        }
        return null;
    }

    private List<SourceRecord> drainPending() {
        List<SourceRecord> out = new ArrayList<>(Math.min(maxBatch, pending.size()));
        while (!pending.isEmpty() && out.size() < maxBatch) {
            out.add(pending.poll());
        }
        return out;
    }

    private List<SourceRecord> readAvailable() {
        if (!databaseReachable()) {
            return Collections.emptyList();
        }
        List<SourceRecord> out = new ArrayList<>();
        for (Line line : readLines(maxBatch)) {
            RedoEvent e = parse(line, out);
            position = line.end;
            if (e == null || e.scn <= skipThroughScn || (minTsMillis >= 0 && e.tsMs < minTsMillis) || !captured(e)) {
                continue;
            }
            if (!e.minable) {
                // committed, but LogMiner returns nothing for it (no supplemental logging / ARCHIVELOG when
                // it was written): the real connector never sees the change, so neither does the double
                log.debug("SCN {} of {} is not in the mined redo; skipped", e.scn, e.fullyQualifiedName());
                continue;
            }
            Map<String, Object> offset = new HashMap<>();
            offset.put("scn", e.scn);
            offset.put("pos", line.end);
            try {
                out.addAll(records.streamed(e, partition, offset));
            } catch (DataException ex) {
                unparsable(line, ex, out);
                continue;
            }
            lastEmittedScn = Math.max(lastEmittedScn, e.scn);
            if (out.size() >= maxBatch) {
                break;
            }
        }
        return out;
    }

    private boolean databaseReachable() {
        if (DoubleDatabase.redoFile() != null) {
            databaseMissingSince = -1;
            return true;
        }
        long now = System.currentTimeMillis();
        if (databaseMissingSince < 0) {
            databaseMissingSince = now;
            log.warn("{}; retrying for up to {} ms", DoubleDatabase.unreachable(config.where()),
                    config.getLong(OracleCdcSourceConnectorConfig.MAX_RETRY_TIME_MS));
        } else if (now - databaseMissingSince > config.getLong(OracleCdcSourceConnectorConfig.MAX_RETRY_TIME_MS)) {
            throw new ConnectException(DoubleDatabase.unreachable(config.where()) + " (for longer than "
                    + OracleCdcSourceConnectorConfig.MAX_RETRY_TIME_MS + ")");
        }
        return false;
    }

    /** A complete line of the redo file: its text and the byte offset just after its newline. */
    private static final class Line {
        final String text;
        final long end;

        Line(String text, long end) {
            this.text = text;
            this.end = end;
        }
    }

    /** Complete lines from {@link #position} on (at most max, and at most one chunk). */
    private List<Line> readLines(int max) {
        List<Line> lines = new ArrayList<>();
        long size;
        try (FileChannel ch = FileChannel.open(redoFile, StandardOpenOption.READ)) {
            size = ch.size();
            if (size < position) {
                log.warn("{} shrank from {} to {} bytes: re-reading it, skipping SCNs up to {}", redoFile, position, size,
                        lastEmittedScn);
                position = 0;
                skipThroughScn = Math.max(skipThroughScn, lastEmittedScn);
            }
            if (size == position) {
                return lines;
            }
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - position, MAX_CHUNK));
            while (buf.hasRemaining() && ch.read(buf, position + buf.position()) > 0) {
                // fill
            }
            byte[] bytes = buf.array();
            int len = buf.position();
            int start = 0;
            for (int i = 0; i < len && lines.size() < max; i++) {
                if (bytes[i] == '\n') {
                    lines.add(new Line(new String(bytes, start, i - start, StandardCharsets.UTF_8), position + i + 1));
                    start = i + 1;
                }
            }
            if (lines.isEmpty() && len == MAX_CHUNK) {
                throw new ConnectException("A line of " + redoFile + " at byte " + position + " is longer than "
                        + MAX_CHUNK + " bytes");
            }
        } catch (NoSuchFileException e) {
            return lines; // nothing committed yet
        } catch (IOException e) {
            throw new ConnectException("Cannot read " + redoFile, e);
        }
        return lines;
    }

    private RedoEvent parse(Line line, List<SourceRecord> out) {
        if (line.text.trim().isEmpty()) {
            return null;
        }
        try {
            return RedoEvent.parse(MAPPER.readTree(line.text), config.databaseName());
        } catch (IOException | IllegalArgumentException e) {
            unparsable(line, e, out);
            return null;
        }
    }

    private void unparsable(Line line, Exception why, List<SourceRecord> out) {
        String where = redoFile + " (line ending at byte " + line.end + ")";
        if ("fail".equals(onUnparsable)) {
            throw new ConnectException("Unparsable redo log row in " + where + ": " + why.getMessage()
                    + " (behavior.on.unparsable.statement=fail)", why);
        }
        if ("write".equals(onUnparsable) && corruptionTopic != null) {
            Map<String, Object> offset = new HashMap<>();
            offset.put("scn", Math.max(lastEmittedScn, 0));
            offset.put("pos", line.end);
            out.add(new SourceRecord(partition, offset, corruptionTopic, 0, null, null, Schema.STRING_SCHEMA, line.text));
            log.warn("Unparsable redo log row in {} written to {}: {}", where, corruptionTopic, why.getMessage());
            return;
        }
        // log, or write without a corruption topic
        log.warn("Skipping unparsable redo log row in {}: {}", where, why.getMessage());
    }

    @Override
    public void stop() {
        stopping = true;
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
    }
}
