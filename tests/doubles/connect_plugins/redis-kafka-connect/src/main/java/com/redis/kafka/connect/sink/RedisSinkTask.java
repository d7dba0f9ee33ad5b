package com.redis.kafka.connect.sink;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.redis.kafka.connect.RedisSinkConnector;

/**
 * TEST DOUBLE of the redis-kafka-connect 0.9.1 sink task (com.redis:redis-kafka-connect is not on Maven
 * Central). Behaviour mirrored from 0.9.1's RedisSinkTask and the spring-batch-redis 3.7.5 / lettucemod
 * 3.7.3 operations it delegates to:
 *
 * - Key: key space empty -> the record key itself (String or byte[], else DataException); otherwise
 *   keyspace.replace("${topic}", topic) + separator + String.valueOf(record.key()) -- so a Struct key
 *   becomes "Struct{...}", a byte[] key "[B@...", and a windowed key keeps its 8 window bytes.
 * - JSONSET: JSON.SET key $ value; String/byte[] values pass through, anything else goes through
 *   JsonConverter(schemas.enable=false) (0.9.1 RedisSinkTask.java:218-227). 0.9.1 has no delete-on-null:
 *   a tombstone goes to JSON.SET like any record, so what happens depends on the value converter:
 *   - JsonConverter reads a tombstone as SchemaAndValue.NULL (Kafka 3.9 JsonConverter.java:339-342), and
 *     JsonConverter.fromConnectData(null, null) returns null (Kafka 3.9 JsonConverter.java:322-325); lettucemod
 *     3.7.3 JSONCommandBuilder.set checks notNull(json, "JSON") (JSONCommandBuilder.java:114) ->
 *     IllegalArgumentException "JSON must not be null", which 0.9.1's put() does not catch (it only maps
 *     RedisConnectionException / RedisCommandTimeoutException to RetriableException, RedisSinkTask.java:324-335):
 *     the task FAILS. spring-batch-redis 3.7.5 builds the whole batch before flushing it, so nothing of that
 *     batch is written.
 *   - StringConverter / ByteArrayConverter give an optional schema with a null value; JsonConverter turns
 *     that into a JSON null node (JsonConverter.java:590-591), serialised as the 4 bytes "null": JSON.SET
 *     key $ null succeeds and the key holds a JSON null (it is neither deleted nor failing).
 * - SET: value must be String/byte[] (DataException otherwise). HSET: Struct fields (toString) or Map
 *   entries (String.valueOf) as hash fields; anything else fails the task. DEL: DEL key.
 * - A batch is built completely before anything is sent (a bad record sends nothing), then pipelined.
 *   A Redis error reply fails the task (ConnectException); redis.wait.replicas > 0 appends WAIT and
 *   fails the task on "Insufficient replication level".
 * - start() connects: an unreachable Redis at start fails the task, as lettuce's connect() does in 0.9.1.
 * - While running, a lost connection is re-established until redis.timeout (seconds) has passed -- lettuce
 *   queues commands during auto-reconnect and times them out -- then put() throws RetriableException:
 *   the task stays RUNNING, the worker redelivers the batch, the consumer group's offsets do not move and
 *   its lag grows.
 * - Offsets: flush() MSETs com.redis.kafka.connect.sink.offset.TOPIC.PARTITION =
 *   {"topic":..,"partition":..,"offset":..} (0.9.1 RedisSinkTask.java:337-346). start() reads them back only
 *   for context.assignment() and returns when it is empty (RedisSinkTask.java:121-124); 0.9.1 does not override
 *   open(). The worker subscribes, then calls task.start() (Kafka 3.9 WorkerSinkTask.java:310-324), and
 *   WorkerSinkTaskContext.assignment() is consumer.assignment() (WorkerSinkTaskContext.java:102-106), empty
 *   until the first poll's rebalance (KafkaConsumer.assignment() javadoc). So the stored offsets are written
 *   but never used to seek: the consumer group's committed offsets (and KIP-875 resets) are what counts.
 */
public class RedisSinkTask extends SinkTask {

    private static final Logger log = LoggerFactory.getLogger(RedisSinkTask.class);

    static final String OFFSET_KEY_FORMAT = "com.redis.kafka.connect.sink.offset.%s.%s";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private RedisSinkConfig config;
    private RedisEndpoint endpoint;
    private JsonConverter jsonConverter;
    private RespClient client;
    private volatile boolean stopping;

    @Override
    public String version() {
        return RedisSinkConnector.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        stopping = false;
        config = new RedisSinkConfig(props);
        endpoint = RedisEndpoint.of(config);
        jsonConverter = new JsonConverter();
        jsonConverter.configure(Collections.singletonMap("schemas.enable", "false"), false);
        try {
            client = RespClient.connect(endpoint);
        } catch (IOException e) {
            throw new ConnectException("Unable to connect to " + endpoint + ": " + e
                    + " (redis-kafka-connect 0.9.1 connects in start(): an unreachable Redis fails the task)", e);
        }
        Set<TopicPartition> assignment = context.assignment();
        if (assignment == null || assignment.isEmpty()) {
            log.debug("No partitions assigned yet; stored Redis offsets are not used");
            return;
        }
        List<TopicPartition> partitions = new ArrayList<>(assignment);
        byte[][] mget = new byte[partitions.size() + 1][];
        mget[0] = bytesOf("MGET");
        for (int i = 0; i < partitions.size(); i++) {
            mget[i + 1] = bytesOf(offsetKey(partitions.get(i).topic(), partitions.get(i).partition()));
        }
        Object reply = execute(Collections.singletonList(mget), "reading offsets").get(0);
        Map<TopicPartition, Long> offsets = new HashMap<>();
        if (reply instanceof List) {
            for (Object item : (List<?>) reply) {
                if (item instanceof byte[]) {
                    try {
                        JsonNode state = MAPPER.readTree((byte[]) item);
                        TopicPartition tp = new TopicPartition(state.get("topic").asText(), state.get("partition").asInt());
                        offsets.put(tp, state.get("offset").asLong());
                        log.info("Requesting offset {} for {}", state.get("offset").asLong(), tp);
                    } catch (IOException | RuntimeException e) {
                        throw new DataException("Could not parse sink offset state", e);
                    }
                }
            }
        }
        for (TopicPartition tp : partitions) {
            offsets.putIfAbsent(tp, 0L);
        }
        context.offset(offsets);
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        if (records.isEmpty()) {
            return;
        }
        List<byte[][]> commands = new ArrayList<>(records.size() + 1);
        for (SinkRecord record : records) {
            byte[][] cmd = command(record);
            if (cmd != null) {
                commands.add(cmd);
            }
        }
        int waitReplicas = config.waitReplicas();
        if (waitReplicas > 0) {
            commands.add(new byte[][] { bytesOf("WAIT"), bytesOf(Integer.toString(waitReplicas)),
                    bytesOf(Long.toString(config.waitTimeoutMillis())) });
        }
        List<Object> replies = execute(commands, "writing sink records");
        for (int i = 0; i < replies.size(); i++) {
            Object reply = replies.get(i);
            if (reply instanceof RespClient.ErrorReply) {
                byte[][] cmd = commands.get(i);
                throw new ConnectException("Redis answered " + reply + " to " + new String(cmd[0], StandardCharsets.UTF_8)
                        + (cmd.length > 1 ? " " + new String(cmd[1], config.charset()) : ""));
            }
        }
        if (waitReplicas > 0) {
            Object acked = replies.get(replies.size() - 1);
            long actual = acked instanceof Long ? (Long) acked : -1;
            if (actual < waitReplicas) {
                throw new ConnectException("Insufficient replication level (" + actual + "/" + waitReplicas + ")");
            }
        }
        log.info("Wrote {} records", records.size());
    }

    @Override
    public void flush(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
        if (currentOffsets.isEmpty()) {
            return;
        }
        byte[][] mset = new byte[1 + 2 * currentOffsets.size()][];
        mset[0] = bytesOf("MSET");
        int i = 1;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : currentOffsets.entrySet()) {
            TopicPartition tp = e.getKey();
            mset[i++] = bytesOf(offsetKey(tp.topic(), tp.partition()));
            mset[i++] = bytesOf("{\"topic\":\"" + tp.topic() + "\",\"partition\":" + tp.partition() + ",\"offset\":"
                    + e.getValue().offset() + "}");
        }
        log.trace("Writing offsets: {}", currentOffsets);
        Object reply = execute(Collections.singletonList(mset), "writing offsets").get(0);
        if (reply instanceof RespClient.ErrorReply) {
            throw new ConnectException("Redis answered " + reply + " to MSET of sink offsets");
        }
    }

    @Override
    public void stop() {
        stopping = true;
        closeClient();
    }

    // ------------------------------------------------------------------ commands

    private byte[][] command(SinkRecord record) {
        switch (config.command()) {
            case JSONSET: {
                byte[] value = jsonValue(record);
                if (value == null) {
                    throw new DataException("JSON must not be null (record " + record.topic() + "-" + record.kafkaPartition()
                            + "@" + record.kafkaOffset() + " has a null value: redis-kafka-connect 0.9.1 hands tombstones "
                            + "to JSON.SET, whose argument check fails the task; it has no delete-on-null)");
                }
                return new byte[][] { bytesOf("JSON.SET"), key(record), bytesOf("$"), value };
            }
            case SET:
                return new byte[][] { bytesOf("SET"), key(record), bytes("value", record.value()) };
            case HSET: {
                Map<byte[], byte[]> fields = map(record);
                if (fields.isEmpty()) {
                    return null;
                }
                byte[][] cmd = new byte[2 + 2 * fields.size()][];
                cmd[0] = bytesOf("HSET");
                cmd[1] = key(record);
                int i = 2;
                for (Map.Entry<byte[], byte[]> e : fields.entrySet()) {
                    cmd[i++] = e.getKey();
                    cmd[i++] = e.getValue() == null ? new byte[0] : e.getValue();
                }
                return cmd;
            }
            case DEL:
                return new byte[][] { bytesOf("DEL"), key(record) };
            default:
                throw new ConnectException(RedisSinkConfigDef.notModelled("redis.command=" + config.command()));
        }
    }

    private byte[] key(SinkRecord record) {
        if (config.keyspace().isEmpty()) {
            return bytes("key", record.key());
        }
        String keyspace = config.keyspace().replace(RedisSinkConfigDef.TOKEN_TOPIC, record.topic());
        return (keyspace + config.separator() + String.valueOf(record.key())).getBytes(config.charset());
    }

    private byte[] jsonValue(SinkRecord record) {
        Object value = record.value();
        if (value instanceof byte[]) {
            return (byte[]) value;
        }
        if (value instanceof String) {
            return ((String) value).getBytes(config.charset());
        }
        return jsonConverter.fromConnectData(record.topic(), record.valueSchema(), value);
    }

    private byte[] bytes(String source, Object input) {
        if (input instanceof byte[]) {
            return (byte[]) input;
        }
        if (input instanceof String) {
            return ((String) input).getBytes(config.charset());
        }
        throw new DataException(String.format("The %s for the record must be a string or byte array. Consider using "
                + "the StringConverter or ByteArrayConverter if the data is stored in Kafka in the format needed in Redis.",
                source));
    }

    private Map<byte[], byte[]> map(SinkRecord record) {
        Object value = record.value();
        Map<byte[], byte[]> body = new LinkedHashMap<>();
        if (value instanceof Struct) {
            Struct struct = (Struct) value;
            for (Field field : struct.schema().fields()) {
                Object v = struct.get(field);
                body.put(field.name().getBytes(config.charset()), v == null ? null : v.toString().getBytes(config.charset()));
            }
            return body;
        }
        if (value instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                body.put(String.valueOf(e.getKey()).getBytes(config.charset()),
                        String.valueOf(e.getValue()).getBytes(config.charset()));
            }
            return body;
        }
        if (record.valueSchema() == null) {
            // 0.9.1 dereferences the null schema while building this message: a NullPointerException fails the task
            throw new ConnectException("Unsupported source value type: no value schema (value "
                    + (value == null ? "null" : value.getClass().getName()) + "; redis-kafka-connect 0.9.1 fails "
                    + "with a NullPointerException here)");
        }
        throw new ConnectException("Unsupported source value type: " + record.valueSchema().type().name());
    }

    // ------------------------------------------------------------------ connection

    /**
     * Sends the commands, (re)connecting as needed for up to redis.timeout; then RetriableException.
     */
    private List<Object> execute(List<byte[][]> commands, String what) {
        long deadline = System.currentTimeMillis() + endpoint.timeoutMillis;
        long backoff = 50;
        while (true) {
            try {
                if (client == null) {
                    client = RespClient.connect(endpoint);
                    log.info("Reconnected to {}", endpoint);
                }
                return client.pipeline(commands);
            } catch (IOException e) {
                closeClient();
                long now = System.currentTimeMillis();
                if (stopping || now >= deadline || e instanceof SocketTimeoutException) {
                    if (e instanceof SocketTimeoutException) {
                        throw new RetriableException("Timeout while " + what + " (" + endpoint + ")", e);
                    }
                    throw new RetriableException("Could not get connection to Redis at " + endpoint + " while " + what
                            + ": " + e, e);
                }
                log.debug("Redis at {} unavailable ({}); retrying", endpoint, e.toString());
                try {
                    Thread.sleep(Math.min(backoff, deadline - now));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new RetriableException("Interrupted while " + what, ie);
                }
                backoff = Math.min(backoff * 2, 1000);
            }
        }
    }

    private void closeClient() {
        RespClient c = client;
        client = null;
        if (c != null) {
            c.close();
        }
    }

    private static String offsetKey(String topic, int partition) {
        return String.format(OFFSET_KEY_FORMAT, topic, partition);
    }

    private static byte[] bytesOf(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
