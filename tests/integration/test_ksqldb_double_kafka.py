"""The ksqlDB double in Kafka-backed mode against the real local broker: topics exist or are created
like ksqlDB does, and the pipeline's windowed count runs for real (JSON clicks in, windowed-key
aggregates out), driven through resources.ksqldb.KsqlDbResource."""

from __future__ import annotations

import json
import struct
import time
import uuid

import pytest
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from pipeline_defs.spec import default_spec_path, parse_spec
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from resources.ksqldb import KsqlDbResource, KsqlStatementError
from tests.doubles.ksql_windowed_count import partition_for_key

pytestmark = pytest.mark.integration

MINUTE = 60_000
# A minute-aligned event-time origin, far from "now" so nothing depends on the wall clock.
BASE = 1_700_000_040_000
assert BASE % MINUTE == 0


def _client(double):
    return KsqlDbResource(url=double.url, max_retries=0, timeout_seconds=20).get_client()


def _pipeline(unique: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The pipeline's ksqlDB statements (CDC_FORMAT=json) with each KAFKA_TOPIC made unique, so runs
    against the shared broker never see each other's records. Returns (statements, topics, props).
    The windowed COUNT(*) straight over the clicks stream (the spec without its deltas stream): the windowing
    core these tests pin; the deltas path runs in tests/integration/test_compose_semantics_e2e.py."""
    doc = yaml.safe_load(default_spec_path(env={}).read_text())
    objects = doc["engine"]["objects"]
    clicks = next(o for o in objects if o["name"] == "POC_CLICKSTREAM_STREAM")
    clicks.pop("changes")
    doc["engine"]["objects"] = [o for o in objects if "deltas" not in o]
    next(o for o in objects if o["name"] == "USER_AGGREGATE_EVENTS")["aggregate"]["from"] = "POC_CLICKSTREAM_STREAM"
    spec = parse_spec(yaml.safe_dump(doc), "pipeline.yaml", env={"CDC_FORMAT": "json"})
    statements, topics = {}, {}
    compiler = KsqlCompiler(spec)
    for st in compiler.statements():
        topic = compiler.output_topic(st.name)
        mine = f"{unique}-{st.name.lower()}"
        assert f"KAFKA_TOPIC='{topic}'" in st.statement
        statements[st.name] = st.statement.replace(f"KAFKA_TOPIC='{topic}'", f"KAFKA_TOPIC='{mine}'")
        topics[st.name] = mine
    return statements, topics, compiler.properties()


def _click(name: str, ts: int, n: int, **extra) -> tuple[str, str]:
    """A JSON click as the CDC source double writes it: upper-case column names, epoch-ms time."""
    value = {
        "EVENTID": str(n),
        "ID": "101",
        "NAME": name,
        "SESSIONID": "s1",
        "EVENTTYPE": "page_view",
        "PAGEURL": "https://example.com/home",
        "EVENTTIMESTAMP": ts,
        **extra,
    }
    return str(n), json.dumps(value)


def _read_all(bootstrap: str, topic: str, partition: int = 0) -> list:
    """Every record of `partition` up to its current end offset."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 2000,
        }
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a topic created a moment ago: wait until it has a leader
            t = c.list_topics(timeout=10).topics.get(topic)
            if t is not None and t.error is None and partition in t.partitions and t.partitions[partition].leader >= 0:
                break
            time.sleep(0.1)
        _, high = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        out, errors, deadline = [], [], time.monotonic() + 30
        while len(out) < high and time.monotonic() < deadline:
            for m in c.consume(100, timeout=0.5):
                (out if m.error() is None else errors).append(m if m.error() is None else str(m.error()))
        assert len(out) == high, f"read {len(out)} of {high} records of {topic}; errors {errors[:5]}"
        return out
    finally:
        c.close()


def _decode(m) -> tuple[str, int, dict]:
    key = m.key()
    (start,) = struct.unpack(">q", key[-8:])
    return key[:-8].decode("utf-8"), start, json.loads(m.value())


def _latest(records: list) -> dict[tuple[str, int], tuple[dict, int]]:
    """{(name, window start): (value, record timestamp) of the last record of that window}: what a reader
    of the topic (the Redis sink, a compacted view) ends up with, whatever the emission sequence was."""
    out = {}
    for m in records:
        name, start, value = _decode(m)
        out[(name, start)] = (value, m.timestamp()[1])
    return out


def test_create_over_a_missing_topic_fails_unless_partitions_creates_it(ksqldb_kafka_double, kafka_client, unique):
    client = _client(ksqldb_kafka_double)
    missing = f"{unique}-missing"
    stmt = f"CREATE STREAM S1 (NAME STRING) WITH (KAFKA_TOPIC='{missing}', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');"
    with pytest.raises(KsqlStatementError) as e:
        client.execute(stmt)
    assert (e.value.status, e.value.error_code) == (400, 40001)
    assert e.value.server_message.startswith(f"Topic '{missing}' does not exist.")
    assert "'PARTITIONS'" in e.value.server_message
    # a rejected request creates nothing (describe_topic would auto-create it: the broker allows that)
    assert missing not in kafka_client.list_topics()
    assert ksqldb_kafka_double.sources == {}

    # the same statement with PARTITIONS creates the topic; a table's topic is compacted
    client.execute(stmt.replace("VALUE_FORMAT='JSON'", "VALUE_FORMAT='JSON', PARTITIONS=2"))
    client.execute(
        f"CREATE TABLE T1 (ID STRING PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='{unique}-t', "
        "KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    assert kafka_client.describe_topic(missing).partitions == 2
    assert kafka_client.describe_topic(f"{unique}-t").configs.get("cleanup.policy") == "compact"
    assert client.describe("S1").partitions == 2

    # an existing topic: no PARTITIONS needed; a PARTITIONS that disagrees is refused
    kafka_client.create_topic(f"{unique}-existing", partitions=3)
    # topic creation is asynchronous in the broker: the double reads metadata as ksqlDB does, so wait for it
    deadline = time.monotonic() + 30
    while kafka_client.describe_topic(f"{unique}-existing") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    client.execute(f"CREATE STREAM S2 (NAME STRING) WITH (KAFKA_TOPIC='{unique}-existing', VALUE_FORMAT='JSON');")
    assert client.describe("S2").partitions == 3
    with pytest.raises(KsqlStatementError, match="already exists, with different partition/replica configuration"):
        client.execute(f"CREATE STREAM S3 (NAME STRING) WITH (KAFKA_TOPIC='{unique}-existing', VALUE_FORMAT='JSON', PARTITIONS=1);")
    client.close()


def test_pipeline_windowed_count_by_event_time(ksqldb_kafka_double, kafka_client, stack, unique):
    statements, topics, props = _pipeline(unique)
    assert props == {"auto.offset.reset": "earliest"}
    src, sink = topics["POC_CLICKSTREAM_STREAM"], topics["USER_AGGREGATE_EVENTS"]
    kafka_client.create_topic(src)
    kafka_client.create_topic(topics["POC_USERDATA_STREAM"])
    # produced before the query exists: auto.offset.reset=earliest reads them
    clicks = [
        _click("jdoe", BASE + 1_000, 1),  # window 0
        _click("jdoe", BASE + 5_000, 2),  # window 0 again -> count 2
        _click("jdoe", BASE + MINUTE + 1_000, 3),  # a minute later: window 1
        (None, json.dumps({"name": "alice", "eventtimestamp": BASE + 2_000})),  # lower-case fields, window 0
        (None, "{not json"),  # skipped, like a deserialization error
        (None, json.dumps({"NAME": None, "EVENTTIMESTAMP": BASE})),  # null group value: skipped
        _click("jdoe", BASE + 3 * MINUTE + 20_000, 4),  # stream time -> BASE+200s
        _click("jdoe", BASE + 30_000, 5),  # window 0 closed at BASE+60s+grace 60s: dropped
        _click("jdoe", BASE + 2 * MINUTE + 30_000, 6),  # window 2 ends BASE+180s > 200s-60s: counted
    ]
    assert kafka_client.produce(src, clicks) == len(clicks)

    client = _client(ksqldb_kafka_double)
    for name in ("POC_USERDATA_STREAM", "POC_CLICKSTREAM_STREAM", "USER_AGGREGATE_EVENTS"):
        client.execute(statements[name], props)
    query = next(q for q in client.list_queries() if "USER_AGGREGATE_EVENTS" in q.sinks)
    assert query.is_running and query.id.startswith("CTAS_USER_AGGREGATE_EVENTS_")
    # only the CTAS runs a thread; the plain CREATE TABLE over the userdata topic just registers
    assert list(ksqldb_kafka_double.aggregations) == [query.id]
    sink_info = kafka_client.describe_topic(sink)
    assert sink_info is not None and sink_info.partitions == 1

    agg = ksqldb_kafka_double.aggregation("USER_AGGREGATE_EVENTS")
    final = {
        ("jdoe", BASE): 2,
        ("jdoe", BASE + MINUTE): 1,
        ("alice", BASE): 1,
        ("jdoe", BASE + 2 * MINUTE): 1,
        ("jdoe", BASE + 3 * MINUTE): 1,
    }
    # updates are produced per commit (ksqlDB's record cache), so wait for the state, not a sequence
    assert agg.wait(lambda a: a.consumed >= len(clicks) and a.emitted_counts() == final, timeout=30), (
        agg.emitted_counts(),
        agg.processing_log,
    )
    assert agg.dropped_late == 1 and len(agg.processing_log) == 3  # bad JSON, null group, the late record
    assert agg.counts() == final

    records = _read_all(stack["KAFKA_BOOTSTRAP_SERVERS"], sink)
    # at most one record per update (fewer when a commit coalesced updates of one window)
    assert len(final) <= len(records) <= 6
    latest = _latest(records)
    assert {k: v["EVENT_COUNT"] for k, (v, _) in latest.items()} == final
    for (name, start), (value, _) in latest.items():
        assert value == {"USER_NAME": name, "EVENT_COUNT": final[(name, start)], "WINDOW_START": start, "WINDOW_END": start + MINUTE}
    assert latest[("jdoe", BASE)][1] == BASE + 5_000  # the result carries the window's highest event time
    raw = next(m for m in records if m.key().startswith(b"alice"))
    assert raw.key() == b"alice" + struct.pack(">q", BASE)  # UTF-8 name + 8-byte big-endian window start
    assert (
        raw.value()
        == json.dumps(
            {"USER_NAME": "alice", "EVENT_COUNT": 1, "WINDOW_START": BASE, "WINDOW_END": BASE + MINUTE}, separators=(",", ":")
        ).encode()
    )

    # a pull query sees the live table: key, window bounds, value columns
    pulled = client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS WHERE NAME = 'jdoe';")
    assert pulled.column_names == ("NAME", "WINDOWSTART", "WINDOWEND", "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END")
    assert [(r["WINDOWSTART"], r["EVENT_COUNT"]) for r in pulled.rows] == [
        (BASE, 2),
        (BASE + MINUTE, 1),
        (BASE + 2 * MINUTE, 1),
        (BASE + 3 * MINUTE, 1),
    ]

    # records produced while the query runs are counted as they arrive
    kafka_client.produce(src, [_click("alice", BASE + 3 * MINUTE + 30_000, 7)])
    assert agg.wait(lambda a: a.emitted_counts().get(("alice", BASE + 3 * MINUTE)) == 1, timeout=30)
    client.close()


def test_latest_offset_reset_and_record_timestamps(ksqldb_kafka_double, kafka_client, stack, unique):
    """Without a TIMESTAMP column the record timestamp is event time; `latest` starts at the end
    offsets the topic had when the CREATE was answered."""
    src, sink = f"{unique}-clicks", f"{unique}-counts"
    kafka_client.create_topic(src)
    producer = Producer({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]})
    producer.produce(src, value=json.dumps({"NAME": "old"}), timestamp=BASE + 1_000)
    producer.flush(10)
    client = _client(ksqldb_kafka_double)
    client.execute(f"CREATE STREAM CLICKS (NAME STRING) WITH (KAFKA_TOPIC='{src}', VALUE_FORMAT='JSON');")
    client.execute(
        f"CREATE TABLE COUNTS WITH (KAFKA_TOPIC='{sink}', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON') AS "
        "SELECT NAME, COUNT(*) AS N FROM CLICKS WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) "
        "GROUP BY NAME EMIT CHANGES;",
        {"auto.offset.reset": "latest"},
    )
    for ts in (BASE + 1_000, BASE + 12_000, BASE + 5_000):  # the last one is late with no grace: dropped
        producer.produce(src, value=json.dumps({"NAME": "new"}), timestamp=ts)
    producer.flush(10)
    agg = ksqldb_kafka_double.aggregation("COUNTS")
    final = {("new", BASE): 1, ("new", BASE + 10_000): 1}
    assert agg.wait(lambda a: a.consumed >= 3 and a.emitted_counts() == final, timeout=30), agg.emitted_counts()
    latest = _latest(_read_all(stack["KAFKA_BOOTSTRAP_SERVERS"], sink))
    assert {k: v for k, (v, _) in latest.items()} == {("new", BASE): {"N": 1}, ("new", BASE + 10_000): {"N": 1}}
    assert {k: ts for k, (_, ts) in latest.items()} == {("new", BASE): BASE + 1_000, ("new", BASE + 10_000): BASE + 12_000}
    assert agg.dropped_late == 1 and ("old", BASE) not in agg.counts()
    client.close()


def test_drop_terminate_and_fail_stop_the_query(ksqldb_kafka_double, kafka_client, stack, unique):
    statements, topics, props = _pipeline(unique)
    src, sink = topics["POC_CLICKSTREAM_STREAM"], topics["USER_AGGREGATE_EVENTS"]
    kafka_client.create_topic(src)
    kafka_client.produce(src, [_click("jdoe", BASE + 1_000, 1)])
    client = _client(ksqldb_kafka_double)
    client.execute(statements["POC_CLICKSTREAM_STREAM"], props)
    client.execute(statements["USER_AGGREGATE_EVENTS"], props)
    first = ksqldb_kafka_double.aggregation("USER_AGGREGATE_EVENTS")
    assert first.wait(lambda a: a.emitted_counts() == {("jdoe", BASE): 1}, timeout=30)

    # fail_query: the thread stops and the health view shows ERROR
    ksqldb_kafka_double.fail_query(first.plan.query_id)
    assert not first.running
    [q] = client.list_queries()
    assert (q.id, q.state, q.is_running) == (first.plan.query_id, "ERROR", False)
    assert client.describe("USER_AGGREGATE_EVENTS").write_queries[0].state == "ERROR"
    kafka_client.produce(src, [_click("jdoe", BASE + 2_000, 2)])
    time.sleep(1.0)
    assert first.consumed == 1  # a failed query reads nothing more

    # DROP terminates the query; re-creating starts a new query id that reads from earliest again
    client.drop("TABLE", "USER_AGGREGATE_EVENTS")
    assert client.list_queries() == []
    client.execute(statements["USER_AGGREGATE_EVENTS"], props)
    second = ksqldb_kafka_double.aggregation("USER_AGGREGATE_EVENTS")
    assert second is not first and second.plan.query_id != first.plan.query_id
    assert second.wait(lambda a: a.emitted_counts() == {("jdoe", BASE): 2}, timeout=30)
    assert second.counts() == {("jdoe", BASE): 2}
    [q] = client.list_queries()
    assert (q.id, q.state) == (second.plan.query_id, "RUNNING")

    # TERMINATE stops the thread too; the table stays but is no longer materialized
    client.terminate(second.plan.query_id)
    assert not second.running
    with pytest.raises(Exception, match="Materializing query has been stopped"):
        client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS;")

    # DROP ... DELETE TOPIC deletes the sink topic from Kafka
    assert sink in kafka_client.list_topics()
    client.drop("TABLE", "USER_AGGREGATE_EVENTS", delete_topic=True)
    assert sink not in kafka_client.list_topics()
    client.close()


def test_a_query_whose_topic_vanishes_goes_to_error(ksqldb_kafka_double, kafka_client, unique):
    statements, topics, props = _pipeline(unique)
    src = topics["POC_CLICKSTREAM_STREAM"]
    kafka_client.create_topic(src)
    client = _client(ksqldb_kafka_double)
    client.execute(statements["POC_CLICKSTREAM_STREAM"], props)
    client.execute(statements["USER_AGGREGATE_EVENTS"], props)
    agg = ksqldb_kafka_double.aggregation("USER_AGGREGATE_EVENTS")
    kafka_client.delete_topic(src)
    deadline = time.monotonic() + 60
    while agg.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert agg.error is not None
    [q] = client.list_queries()
    assert q.state == "ERROR"
    client.close()


def test_shapes_the_kafka_mode_does_not_run_are_refused(ksqldb_kafka_double, kafka_client, unique):
    kafka_client.create_topic(unique)
    client = _client(ksqldb_kafka_double)
    client.execute(f"CREATE STREAM S (NAME STRING, AMOUNT BIGINT) WITH (KAFKA_TOPIC='{unique}', VALUE_FORMAT='JSON');")
    for sql in (
        "CREATE TABLE X AS SELECT NAME, AVG(AMOUNT) AS MEAN FROM S WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY NAME;",
        "CREATE TABLE X AS SELECT NAME, COUNT(*) AS N FROM S GROUP BY NAME;",
        "CREATE TABLE X WITH (KEY_FORMAT='JSON') AS SELECT NAME, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY NAME;",
        "CREATE STREAM Y AS SELECT * FROM S;",
    ):
        with pytest.raises(KsqlStatementError, match="Kafka-backed mode"):
            client.execute(sql)
    assert set(ksqldb_kafka_double.sources) == {"S"} and ksqldb_kafka_double.aggregations == {}
    assert "X" not in kafka_client.list_topics()
    client.close()


def test_windows_follow_event_time_not_record_time(ksqldb_kafka_double, kafka_client, stack, unique):
    """Rows carrying explicit event times (minutes in the past, out of order, across minute boundaries)
    in records whose Kafka timestamps say something else: the stream's TIMESTAMP column decides."""
    src, sink = f"{unique}-clicks", f"{unique}-counts"
    kafka_client.create_topic(src)
    producer = Producer({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]})
    far = BASE + 10 * MINUTE  # the record time of every record: if it counted, all would sit in one window
    events = [
        ("jdoe", BASE + 2 * MINUTE + 10_000),
        ("jdoe", BASE + MINUTE + 59_999),
        ("jdoe", BASE + 2 * MINUTE),
        ("alice", BASE + MINUTE),
        ("jdoe", BASE + MINUTE + 1),
    ]
    for name, ts in events:
        producer.produce(src, value=json.dumps({"NAME": name, "EVENTTIMESTAMP": ts}), timestamp=far)
    producer.produce(src, value=json.dumps({"NAME": "nobody"}))  # no event time: skipped, not record time
    producer.flush(10)
    client = _client(ksqldb_kafka_double)
    client.execute(
        f"CREATE STREAM CLICKS (NAME STRING, EVENTTIMESTAMP BIGINT) WITH (KAFKA_TOPIC='{src}', "
        "VALUE_FORMAT='JSON', TIMESTAMP='EVENTTIMESTAMP');"
    )
    client.execute(
        f"CREATE TABLE COUNTS WITH (KAFKA_TOPIC='{sink}', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON') AS "
        "SELECT NAME, COUNT(*) AS N FROM CLICKS WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 MINUTES) "
        "GROUP BY NAME EMIT CHANGES;",
        {"auto.offset.reset": "earliest"},
    )
    agg = ksqldb_kafka_double.aggregation("COUNTS")
    final = {("jdoe", BASE + MINUTE): 2, ("jdoe", BASE + 2 * MINUTE): 2, ("alice", BASE + MINUTE): 1}
    assert agg.wait(lambda a: a.consumed >= len(events) + 1 and a.emitted_counts() == final, timeout=30), (
        agg.emitted_counts(),
        agg.processing_log,
    )
    assert agg.processing_log[-1].endswith("column EVENTTIMESTAMP is null")
    latest = _latest(_read_all(stack["KAFKA_BOOTSTRAP_SERVERS"], sink))
    assert {k: v["N"] for k, (v, _) in latest.items()} == final
    # each result's timestamp is the highest event time of its window, never the record time
    assert {k: ts for k, (_, ts) in latest.items()} == {
        ("jdoe", BASE + MINUTE): BASE + MINUTE + 59_999,
        ("jdoe", BASE + 2 * MINUTE): BASE + 2 * MINUTE + 10_000,
        ("alice", BASE + MINUTE): BASE + MINUTE,
    }
    assert agg.stream_time == BASE + 2 * MINUTE + 10_000
    client.close()


def test_windowed_output_is_partitioned_by_the_base_key(ksqldb_kafka_double, kafka_client, stack, unique):
    """WindowedStreamPartitioner: the partition comes from the group value alone, so every window of a
    name is in one partition. With the cache off (cache.max.bytes.buffering=0) every update is a record."""
    src, sink = f"{unique}-clicks", f"{unique}-counts"
    kafka_client.create_topic(src, partitions=2)
    names = [f"user{i}" for i in range(8)]
    windows = [BASE + i * MINUTE for i in range(4)]
    rows = [(name, w + 1_000) for w in windows for name in names]
    kafka_client.produce(src, [(None, json.dumps({"NAME": n, "EVENTTIMESTAMP": ts})) for n, ts in rows])
    client = _client(ksqldb_kafka_double)
    client.execute(
        f"CREATE STREAM CLICKS (NAME STRING, EVENTTIMESTAMP BIGINT) WITH (KAFKA_TOPIC='{src}', "
        "VALUE_FORMAT='JSON', TIMESTAMP='EVENTTIMESTAMP');"
    )
    client.execute(
        f"CREATE TABLE COUNTS WITH (KAFKA_TOPIC='{sink}', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON', "
        "PARTITIONS=4) AS SELECT NAME, COUNT(*) AS N FROM CLICKS WINDOW TUMBLING (SIZE 1 MINUTE, "
        "GRACE PERIOD 10 MINUTES) GROUP BY NAME EMIT CHANGES;",
        {"auto.offset.reset": "earliest", "cache.max.bytes.buffering": 0},
    )
    agg = ksqldb_kafka_double.aggregation("COUNTS")
    assert agg.plan.sink_partitions == 4 and agg.plan.cache_max_bytes == 0
    assert agg.wait(lambda a: a.emitted == len(rows), timeout=30), (agg.emitted, agg.processing_log)
    by_partition = {p: _read_all(stack["KAFKA_BOOTSTRAP_SERVERS"], sink, p) for p in range(4)}
    assert sum(len(v) for v in by_partition.values()) == len(rows)
    hashed_whole_key_differs = False
    for p, records in by_partition.items():
        for m in records:
            name, _, value = _decode(m)
            assert p == partition_for_key(name.encode(), 4), (name, p)
            assert value == {"N": 1}
            hashed_whole_key_differs |= partition_for_key(m.key(), 4) != p
    assert hashed_whole_key_differs  # the data tells base-key partitioning from whole-key partitioning
    assert len({p for p, records in by_partition.items() if records}) > 1
    client.close()
