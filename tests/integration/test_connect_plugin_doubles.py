"""The Java connector doubles (Redis sink 0.9.1, Confluent Oracle CDC source 2.14.2) in the real Connect
worker of the local stack, against real Kafka topics and the real Redis (with RedisJSON).

Fixtures: `connect_plugin_doubles` (the plugin tests.doubles.connect_plugins_fixture, loaded by the root
conftest, whose `stack` depends on it) builds and installs the plugins before the stack starts.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer

from resources.connect import ConnectError, ConnectorConfigInvalid, ConnectorNotFound, connector_health
from tests.doubles.connect_plugins.redo import SEED_DATABASE, SEED_OWNER

pytestmark = pytest.mark.integration

REDIS_SINK = "com.redis.kafka.connect.RedisSinkConnector"
ORACLE_CDC = "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector"
SEED_DROPPED = ["scn", "op_type", "op_ts", "current_ts", "row_id", "username"]
CLICKSTREAM_COLUMNS = {"EVENTID", "ID", "NAME", "SESSIONID", "EVENTTYPE", "PAGEURL", "EVENTTIMESTAMP"}


# ---------------------------------------------------------------------------------------------- helpers


def wait_for(what: str, probe: Callable[[], object], timeout: float = 45.0, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def status_of(client, name: str) -> dict:
    try:
        return client.status(name)
    except ConnectorNotFound:  # just created: no status written yet
        return {"connector": {}, "tasks": []}


def running(client, name: str) -> bool:
    s = status_of(client, name)
    return connector_health(s)[0] == "RUNNING" and bool(s.get("tasks"))


def task_failed(client, name: str) -> str | None:
    for t in status_of(client, name).get("tasks", []):
        if t.get("state") == "FAILED":
            return t.get("trace", "")
    return None


def rebalance_tolerant(call: Callable[[], object]) -> bool:
    """True once `call` went through; False on 409 (a rebalance, e.g. another session's connectors)."""
    try:
        call()
        return True
    except ConnectError as e:
        if e.status == 409:
            return False
        raise


def raw_redis(stack) -> redis.Redis:
    return redis.Redis.from_url(stack["REDIS_URL"], decode_responses=False)


def consume(bootstrap: str, topic: str, done: Callable[[list], bool], timeout: float = 45.0) -> list:
    """Every record of `topic` from the beginning until done(records) or timeout."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"doubles-test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(out):
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                out.append(m)
    finally:
        c.close()
    return out


def aggregate(name: str, count: int, window_start_ms: int) -> dict:
    """A USER_AGGREGATE_EVENTS value (1-minute tumbling window, window bounds projected into the value)."""
    return {"USER_NAME": name, "EVENT_COUNT": count, "WINDOW_START": window_start_ms, "WINDOW_END": window_start_ms + 60_000}


def windowed_key(name: str, window_start_ms: int) -> bytes:
    """ksqlDB's KAFKA-format key of a TUMBLING window: the UTF-8 key, then the window start (int64, big-endian)."""
    return name.encode() + struct.pack(">q", window_start_ms)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """127.0.0.1:<port> -> target. down(): stop listening and cut every connection (connection refused
    from then on); up(): listen on the same port again."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.port = s.getsockname()[1]
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()

    def down(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


@pytest.fixture
def cleanup(connect_client, kafka_client, redis_client):
    """Register connectors, topics and Redis key prefixes to remove after the test."""
    made: dict[str, list[str]] = {"connectors": [], "topics": [], "prefixes": []}
    yield made
    for name in made["connectors"]:
        try:
            connect_client.delete(name)
        except Exception:
            pass
    for topic in made["topics"]:
        try:
            kafka_client.delete_topic(topic)
        except Exception:
            pass
    for prefix in made["prefixes"]:
        redis_client.delete_prefix(prefix)


def redis_sink_config(stack, topic: str, **overrides) -> dict:
    cfg = {
        "connector.class": REDIS_SINK,
        "tasks.max": "1",
        "topics": topic,
        "redis.uri": stack["REDIS_URL"],
        "redis.command": "JSONSET",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    cfg.update(overrides)
    return cfg


SMTS = {
    "transforms": "valueToKey,extractKey",
    "transforms.valueToKey.type": "org.apache.kafka.connect.transforms.ValueToKey",
    "transforms.valueToKey.fields": "USER_NAME",
    "transforms.extractKey.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
    "transforms.extractKey.field": "USER_NAME",
}


# ---------------------------------------------------------------------------------------------- plugins


def test_worker_lists_both_doubles_with_the_seed_versions(connect_plugin_doubles, connect_client):
    listed = {p["class"]: p for p in connect_client.plugins()}
    assert listed[REDIS_SINK]["version"] == "0.9.1" and listed[REDIS_SINK]["type"] == "sink"
    assert listed[ORACLE_CDC]["version"] == "2.14.2" and listed[ORACLE_CDC]["type"] == "source"
    assert connect_plugin_doubles.oracle_dir.is_dir()


# ---------------------------------------------------------------------------------------------- Redis sink


def test_sink_writes_aggregate_documents_from_windowed_keys_rekeyed_by_the_smts(
    connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup
):
    tag = uuid.uuid4().hex[:8]
    topic = f"USER_AGGREGATE_EVENTS-{tag}"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    w1, w2 = 1_732_400_000_000, 1_732_400_060_000  # two 1-minute tumbling windows
    jdoe, rsmith, amary = f"jdoe-{tag}", f"rsmith-{tag}", f"amary-{tag}"
    rows = [(jdoe, w1, 2), (rsmith, w1, 2), (amary, w1, 2), (jdoe, w2, 1)]
    kafka_client.produce(topic, [(windowed_key(n, w), json.dumps(aggregate(n, c, w))) for n, w, c in rows])

    # the fix: re-key from the value with the stock SMTs -> USER_AGGREGATE_EVENTS:<name>
    fixed = f"{unique}-smt"
    cleanup["connectors"].append(fixed)
    for n in (jdoe, rsmith, amary):
        cleanup["prefixes"].append(f"USER_AGGREGATE_EVENTS:{n}")
    connect_client.apply(fixed, redis_sink_config(stack, topic, **{"redis.key": "USER_AGGREGATE_EVENTS"}, **SMTS))

    # the seed's latent fault: the windowed key as it is (the default key space ${topic})
    seedlike = f"{unique}-raw"
    cleanup["connectors"].append(seedlike)
    cleanup["prefixes"].append(f"{topic}:")
    connect_client.apply(seedlike, redis_sink_config(stack, topic))

    keys = [f"USER_AGGREGATE_EVENTS:{n}" for n in (jdoe, rsmith, amary)]
    docs = wait_for("the re-keyed documents", lambda: (d := redis_client.json_mget(keys)) and all(d.values()) and d)
    assert docs == {
        f"USER_AGGREGATE_EVENTS:{jdoe}": aggregate(jdoe, 1, w2),
        f"USER_AGGREGATE_EVENTS:{rsmith}": aggregate(rsmith, 2, w1),
        f"USER_AGGREGATE_EVENTS:{amary}": aggregate(amary, 2, w1),
    }  # one key per name: the later window of jdoe overwrote the earlier one (a latest-window count, not a total)

    r = raw_redis(stack)
    raw_keys = wait_for("the raw-keyed documents", lambda: (ks := sorted(r.scan_iter(match=f"{topic}:*".encode()))) and len(ks) == 4 and ks)
    # StringConverter decodes the 8 window bytes as UTF-8 (invalid bytes -> U+FFFD): unreadable keys
    expected = sorted(f"{topic}:".encode() + windowed_key(n, w).decode("utf-8", errors="replace").encode() for n, w, _ in rows)
    assert raw_keys == expected
    assert not r.exists(f"{topic}:{jdoe}".encode())  # what a reader of "<keyspace>:<name>" looks for is not there
    assert all(b"\x00\x00\x01" in k for k in raw_keys)
    jdoe_docs = [json.loads(r.execute_command("JSON.GET", k, "$"))[0] for k in raw_keys if jdoe.encode() in k]
    assert sorted(d["EVENT_COUNT"] for d in jdoe_docs) == [1, 2]  # and each window is a separate key

    # 0.9.1's offset bookkeeping in Redis (written on every commit)
    state = wait_for("the sink offset key", lambda: r.get(f"com.redis.kafka.connect.sink.offset.{topic}.0".encode()))
    assert json.loads(state) == {"topic": topic, "partition": 0, "offset": 4}
    wait_for("the consumer group to commit", lambda: kafka_client.consumer_group_lag(f"connect-{fixed}").per_partition)
    assert kafka_client.consumer_group_lag(f"connect-{fixed}").total == 0


def test_sink_stays_running_and_lags_while_redis_is_unreachable_then_catches_up(
    connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup
):
    topic = f"{unique}-agg"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    redis_port = int(stack["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(("127.0.0.1", redis_port))
    try:
        cleanup["connectors"].append(unique)
        connect_client.apply(
            unique, redis_sink_config(stack, topic, **{"redis.uri": f"redis://127.0.0.1:{proxy.port}", "redis.timeout": "2"})
        )

        def produce(first: int, n: int) -> None:
            kafka_client.produce(topic, [(f"u{i}", json.dumps({"USER_NAME": f"u{i}", "EVENT_COUNT": i})) for i in range(first, first + n)])

        def lag() -> int:
            return kafka_client.consumer_group_lag(f"connect-{unique}").total

        produce(0, 5)
        wait_for("the first records in Redis", lambda: redis_client.json_mget([f"{topic}:u4"])[f"{topic}:u4"])
        wait_for("lag 0", lambda: kafka_client.consumer_group_lag(f"connect-{unique}").per_partition and lag() == 0)

        proxy.down()  # Redis unreachable: connection refused, like a closed port
        produce(5, 20)
        wait_for("lag 20", lambda: lag() == 20, timeout=20)
        for _ in range(4):  # still RUNNING while it cannot write: only the lag tells
            time.sleep(2)
            status = status_of(connect_client, unique)
            assert connector_health(status) == ("RUNNING", []), status
            assert lag() == 20
        assert redis_client.json_mget([f"{topic}:u5"])[f"{topic}:u5"] is None

        proxy.up()  # same port: the task reconnects by itself and the redelivered batch goes through
        wait_for("catch-up", lambda: redis_client.json_mget([f"{topic}:u24"])[f"{topic}:u24"], timeout=45)
        wait_for("lag back to 0", lambda: lag() == 0)
        docs = redis_client.json_mget([f"{topic}:u{i}" for i in range(25)])
        assert all(docs[f"{topic}:u{i}"] == {"USER_NAME": f"u{i}", "EVENT_COUNT": i} for i in range(25))
        assert connector_health(status_of(connect_client, unique)) == ("RUNNING", [])
    finally:
        proxy.down()


def test_sink_pointed_at_a_closed_port_fails_at_start_and_recovers_when_pointed_back(
    connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup
):
    # 0.9.1 connects in start(): a wrong address at (re)start fails the task -- unlike an outage while running
    topic = f"{unique}-agg"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    kafka_client.produce(topic, [(f"u{i}", json.dumps({"USER_NAME": f"u{i}", "EVENT_COUNT": i})) for i in range(3)])
    port = closed_port()
    cleanup["connectors"].append(unique)
    connect_client.apply(unique, redis_sink_config(stack, topic, **{"redis.uri": f"redis://127.0.0.1:{port}"}))
    trace = wait_for("the task to fail", lambda: task_failed(connect_client, unique))
    assert f"Unable to connect to redis://127.0.0.1:{port}" in trace
    assert status_of(connect_client, unique)["connector"]["state"] == "RUNNING"

    connect_client.apply(unique, redis_sink_config(stack, topic))  # a config change restarts the task
    wait_for("RUNNING", lambda: running(connect_client, unique))
    wait_for("the records in Redis", lambda: redis_client.json_mget([f"{topic}:u2"])[f"{topic}:u2"])
    wait_for(
        "lag 0",
        lambda: (
            kafka_client.consumer_group_lag(f"connect-{unique}").per_partition
            and kafka_client.consumer_group_lag(f"connect-{unique}").total == 0
        ),
    )


def test_sink_fails_on_a_tombstone_with_jsonset_as_0_9_1_does(
    connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup
):
    """0.9.1 hands a tombstone to JSON.SET (no delete-on-null). With JsonConverter the value is null
    with no schema, lettucemod rejects it and the task fails; with StringConverter JsonConverter
    renders the optional-schema null as the JSON text null and the key is set to JSON null."""
    topic = f"{unique}-agg"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    kafka_client.produce(topic, [("jdoe", json.dumps({"EVENT_COUNT": 1})), ("jdoe", None)])
    cleanup["connectors"].append(unique)
    connect_client.apply(unique, redis_sink_config(stack, topic))
    trace = wait_for("the task to fail", lambda: task_failed(connect_client, unique))
    assert "JSON must not be null" in trace
    assert redis_client.json_mget([f"{topic}:jdoe"])[f"{topic}:jdoe"] is None  # the failing batch wrote nothing
    assert not raw_redis(stack).exists(f"{topic}:jdoe")

    stringy = f"{unique}-str"
    cleanup["connectors"].append(stringy)
    connect_client.apply(
        stringy,
        redis_sink_config(
            stack, topic, **{"value.converter": "org.apache.kafka.connect.storage.StringConverter", "redis.key": f"{topic}:s"}
        ),
    )
    wait_for(
        "lag 0",
        lambda: (
            kafka_client.consumer_group_lag(f"connect-{stringy}").per_partition
            and kafka_client.consumer_group_lag(f"connect-{stringy}").total == 0
        ),
    )
    assert task_failed(connect_client, stringy) is None
    assert raw_redis(stack).execute_command("JSON.GET", f"{topic}:s:jdoe") == b"null"  # set to null, not deleted


def test_sink_offsets_stored_in_redis_are_not_used_on_start(
    connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup
):
    """0.9.1 reads its Redis offset keys in start() only for context.assignment(), which is still
    empty there: an offset stored in Redis does not move the consumer (the consumer group does)."""
    topic = f"{unique}-agg"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    offset_key = f"com.redis.kafka.connect.sink.offset.{topic}.0"
    cleanup["prefixes"].append(offset_key)
    kafka_client.produce(topic, [(f"u{i}", json.dumps({"EVENT_COUNT": i})) for i in range(3)])
    r = raw_redis(stack)
    # "u0 and u1 are already written": a task that honoured it would write u2 only
    r.set(offset_key, json.dumps({"topic": topic, "partition": 0, "offset": 2}))
    cleanup["connectors"].append(unique)
    connect_client.apply(unique, redis_sink_config(stack, topic))
    keys = [f"{topic}:u{i}" for i in range(3)]
    docs = wait_for("all three documents", lambda: (d := redis_client.json_mget(keys)) and all(d.values()) and d)
    assert docs == {f"{topic}:u{i}": {"EVENT_COUNT": i} for i in range(3)}
    # and flush() overwrites the key with the consumer's position
    wait_for("the flushed offset", lambda: json.loads(r.get(offset_key))["offset"] == 3)


def test_sink_validation_mirrors_0_9_1_and_names_what_the_double_does_not_model(connect_plugin_doubles, connect_client, unique):
    base = {"connector.class": REDIS_SINK, "name": unique, "topics": unique}
    assert connect_client.validate({**base, "redis.command": "JSONSET"}).ok
    xadd = connect_client.validate(base)  # 0.9.1's default command is XADD
    assert "not modelled by this test double" in xadd.errors["redis.command"][0]
    bad = connect_client.validate({**base, "redis.command": "JSONSET", "redis.multiexec": "true"})
    assert bad.errors["redis.multiexec"] == ["multi/exec is only supported with these data structures: XADD, LPUSH, RPUSH, SADD, ZADD"]
    typo = connect_client.validate({**base, "redis.command": "JSON.SET"})
    assert "No enum constant" in typo.errors["redis.command"][0]


def test_sink_set_hset_del_and_struct_values(connect_plugin_doubles, stack, connect_client, kafka_client, redis_client, unique, cleanup):
    topic = f"{unique}-cmds"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    for prefix in (f"{topic}:", f"{topic}-hash:", f"{topic}-str:", f"{topic}-plain"):
        cleanup["prefixes"].append(prefix)
    schema = {
        "type": "struct",
        "name": "Agg",
        "optional": False,
        "fields": [
            {"field": "USER_NAME", "type": "string", "optional": False},
            {"field": "EVENT_COUNT", "type": "int64", "optional": False},
            {"field": "LAST_SEEN", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "optional": True},
        ],
    }
    payload = {"USER_NAME": "jdoe", "EVENT_COUNT": 3, "LAST_SEEN": 1700000000000}
    envelope = json.dumps({"schema": schema, "payload": payload})
    kafka_client.produce(topic, [("jdoe", envelope)])
    with_schema = {"value.converter.schemas.enable": "true"}
    r = raw_redis(stack)

    # JSONSET of a Struct: JsonConverter(schemas.enable=false) output, logical types as their JSON form
    cleanup["connectors"].append(f"{unique}-json")
    connect_client.apply(f"{unique}-json", redis_sink_config(stack, topic, **with_schema))
    doc = wait_for("the JSON document", lambda: redis_client.json_mget([f"{topic}:jdoe"])[f"{topic}:jdoe"])
    assert doc == {"USER_NAME": "jdoe", "EVENT_COUNT": 3, "LAST_SEEN": 1700000000000}

    # HSET of a Struct: one field per struct field, values by toString()
    cleanup["connectors"].append(f"{unique}-hash")
    connect_client.apply(
        f"{unique}-hash", redis_sink_config(stack, topic, **with_schema, **{"redis.command": "HSET", "redis.key": f"{topic}-hash"})
    )
    h = wait_for("the hash", lambda: r.hgetall(f"{topic}-hash:jdoe"))
    assert set(h) == {b"USER_NAME", b"EVENT_COUNT", b"LAST_SEEN"}
    assert h[b"USER_NAME"] == b"jdoe" and h[b"EVENT_COUNT"] == b"3"
    assert h[b"LAST_SEEN"].endswith(b" 2023")  # java.util.Date#toString ("Tue Nov 14 22:13:20 UTC 2023"), like 0.9.1

    # SET: the value must be a string or bytes (StringConverter passes the record through unchanged)
    cleanup["connectors"].append(f"{unique}-str")
    connect_client.apply(
        f"{unique}-str",
        redis_sink_config(
            stack,
            topic,
            **{"redis.command": "SET", "redis.key": f"{topic}-str", "value.converter": "org.apache.kafka.connect.storage.StringConverter"},
        ),
    )
    assert json.loads(wait_for("the string", lambda: r.get(f"{topic}-str:jdoe"))) == json.loads(envelope)

    # DEL: the same key formation, the value is ignored
    cleanup["connectors"].append(f"{unique}-del")
    connect_client.apply(f"{unique}-del", redis_sink_config(stack, topic, **{"redis.command": "DEL", "redis.key": f"{topic}-hash"}))
    wait_for("the hash to be deleted", lambda: not r.exists(f"{topic}-hash:jdoe"))

    # an empty key space: the record key is the Redis key (it must be a string or bytes)
    plain = f"{topic}-plain"
    kafka_client.produce(topic, [(plain, json.dumps({"EVENT_COUNT": 1}))])
    cleanup["connectors"].append(f"{unique}-plain")
    connect_client.apply(
        f"{unique}-plain",
        redis_sink_config(
            stack, topic, **{"redis.key": "", "redis.command": "SET", "value.converter": "org.apache.kafka.connect.storage.StringConverter"}
        ),
    )
    assert json.loads(wait_for("the plain key", lambda: r.get(plain))) == {"EVENT_COUNT": 1}


def test_sink_authenticates_with_acl_user_and_fails_at_start_on_a_wrong_password(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    topic = f"{unique}-auth"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    kafka_client.produce(topic, [("jdoe", "v1")])
    user, password = f"sink-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    r = raw_redis(stack)
    r.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    try:
        ok = f"{unique}-ok"
        cleanup["connectors"].append(ok)
        string_values = {
            "redis.command": "SET",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "redis.username": user,
        }
        connect_client.apply(ok, redis_sink_config(stack, topic, **string_values, **{"redis.password": password}))
        assert wait_for("the value", lambda: r.get(f"{topic}:jdoe")) == b"v1"

        bad = f"{unique}-bad"
        cleanup["connectors"].append(bad)
        connect_client.apply(bad, redis_sink_config(stack, topic, **string_values, **{"redis.password": "wrong"}))
        trace = wait_for("the task to fail", lambda: task_failed(connect_client, bad))
        assert "AUTH failed" in trace and "WRONGPASS" in trace
    finally:
        r.execute_command("ACL", "DELUSER", user)


def test_worker_resolves_env_placeholders_and_stores_only_the_placeholder(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    """What the stack must guarantee for the product's connector configs: the Connect worker enables the env
    config provider and has the session's secret variables (tests.doubles.connect_plugins_fixture.WORKER_SECRET_ENV)
    in its own environment. ${env:VAR} is resolved inside the worker; the REST API keeps the placeholder."""
    from tests.doubles.connect_plugins_fixture import WORKER_SECRET_ENV

    topic = f"{unique}-envsecret"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    cleanup["prefixes"].append(f"{topic}:")
    kafka_client.produce(topic, [("jdoe", "v1")])
    r = raw_redis(stack)
    string_values = {"redis.command": "SET", "value.converter": "org.apache.kafka.connect.storage.StringConverter"}

    # REDIS_PASSWORD is blank in the worker: resolved, the sink sends no AUTH to the password-less Redis
    # (the literal placeholder would be sent as a password and fail the task)
    blank = f"{unique}-blank"
    cleanup["connectors"].append(blank)
    connect_client.apply(blank, redis_sink_config(stack, topic, **string_values, **{"redis.password": "${env:REDIS_PASSWORD}"}))
    assert wait_for("the value written without AUTH", lambda: r.get(f"{topic}:jdoe") or task_failed(connect_client, blank)) == b"v1"
    assert connect_client.get_config(blank)["redis.password"] == "${env:REDIS_PASSWORD}"

    # a non-blank variable: an ACL user whose password is the worker's ORACLE_PASSWORD authenticates
    user = f"sink-{uuid.uuid4().hex[:8]}"
    secret = WORKER_SECRET_ENV["ORACLE_PASSWORD"]
    r.execute_command("ACL", "SETUSER", user, "on", f">{secret}", "~*", "+@all")
    try:
        r.delete(f"{topic}:jdoe")
        resolved = f"{unique}-resolved"
        cleanup["connectors"].append(resolved)
        connect_client.apply(
            resolved,
            redis_sink_config(stack, topic, **string_values, **{"redis.username": user, "redis.password": "${env:ORACLE_PASSWORD}"}),
        )
        assert (
            wait_for("the value written as the ACL user", lambda: r.get(f"{topic}:jdoe") or task_failed(connect_client, resolved)) == b"v1"
        )
        stored = connect_client.get_config(resolved)
        assert stored["redis.password"] == "${env:ORACLE_PASSWORD}" and secret not in json.dumps(stored)
    finally:
        r.execute_command("ACL", "DELUSER", user)


@pytest.fixture
def tls_redis(tmp_path):
    """A throwaway redis-server speaking only TLS, certificate for IP 127.0.0.1 signed by a test CA."""
    openssl, server = shutil.which("openssl"), shutil.which("redis-server")
    assert openssl and server, "openssl and redis-server are needed for the TLS test: run scripts/bootstrap"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cdc-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    port = closed_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(tmp_path / "server.pem"),
            "--tls-key-file",
            str(tmp_path / "server.key"),
            "--tls-ca-cert-file",
            str(tmp_path / "ca.pem"),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the TLS redis to listen", lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=10)
        client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(tmp_path / "ca.pem"))
        yield {"port": port, "ca": str(tmp_path / "ca.pem"), "client": client}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sink_tls_verified_with_cacert_insecure_without_and_failing_on_an_untrusted_certificate(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup, tls_redis
):
    topic = f"{unique}-tls"
    kafka_client.create_topic(topic)
    cleanup["topics"].append(topic)
    kafka_client.produce(topic, [("jdoe", "v1")])
    port, r = tls_redis["port"], tls_redis["client"]
    strings = {"redis.command": "SET", "value.converter": "org.apache.kafka.connect.storage.StringConverter"}

    verified = f"{unique}-ca"
    cleanup["connectors"].append(verified)
    connect_client.apply(
        verified,
        redis_sink_config(
            stack, topic, **strings, **{"redis.uri": f"rediss://127.0.0.1:{port}", "redis.cacert": tls_redis["ca"], "redis.key": "verified"}
        ),
    )
    assert wait_for("the verified write", lambda: r.get("verified:jdoe")) == b"v1"

    insecure = f"{unique}-insecure"
    cleanup["connectors"].append(insecure)
    connect_client.apply(
        insecure,
        redis_sink_config(
            stack,
            topic,
            **strings,
            **{
                "redis.uri": "",
                "redis.host": "127.0.0.1",
                "redis.port": str(port),
                "redis.tls": "true",
                "redis.insecure": "true",
                "redis.key": "insecure",
            },
        ),
    )
    assert wait_for("the insecure write", lambda: r.get("insecure:jdoe")) == b"v1"

    untrusted = f"{unique}-untrusted"
    cleanup["connectors"].append(untrusted)
    connect_client.apply(
        untrusted, redis_sink_config(stack, topic, **strings, **{"redis.uri": f"rediss://127.0.0.1:{port}", "redis.key": "untrusted"})
    )
    trace = wait_for("the task to fail", lambda: task_failed(connect_client, untrusted))
    assert "Unable to connect to rediss://127.0.0.1" in trace and "SSLHandshakeException" in trace


# ---------------------------------------------------------------------------------------------- Oracle CDC source


def oracle_source_config(stack, name: str, **overrides) -> dict:
    """The seed's clickstream_avro connector, with JSON instead of Avro (no Schema Registry) and the local stack."""
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    cfg = {
        "connector.class": ORACLE_CDC,
        "name": name,
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "confluent.topic.bootstrap.servers": bootstrap,
        "oracle.server": "oracle",
        "oracle.port": 1521,
        "oracle.sid": "ORCLCDB",
        "oracle.username": "C##MYUSER",
        "oracle.password": "password",
        "start.from": "snapshot",
        "table.inclusion.regex": "ORCLCDB\\.C##MYUSER\\.POC_CLICK(.*)",
        "table.exclusion.regex": "",
        "table.topic.name.template": "${fullyQualifiedTableName}",
        "connection.pool.max.size": 20,
        "confluent.topic.replication.factor": 1,
        "redo.log.consumer.bootstrap.servers": bootstrap,
        "redo.log.corruption.topic": "redo-corruption-topic",
        "redo.log.poll.interval.ms": "200",
        "topic.creation.groups": "redo",
        "topic.creation.redo.include": "redo-log-topic",
        "topic.creation.redo.replication.factor": 1,
        "topic.creation.redo.partitions": 1,
        "topic.creation.redo.cleanup.policy": "delete",
        "topic.creation.redo.retention.ms": 1209600000,
        "topic.creation.default.replication.factor": 1,
        "topic.creation.default.partitions": 1,
        "topic.creation.default.cleanup.policy": "delete",
        "transforms": "dropExtraFields",
        "transforms.dropExtraFields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.dropExtraFields.blacklist": ", ".join(SEED_DROPPED),
    }
    cfg.update(overrides)
    return cfg


def click(tag: str, n: int, user_id: str, name: str, session: str, kind: str, url: str, ts: dt.datetime) -> dict:
    return {
        "EVENTID": f"{tag}-{n}",
        "ID": user_id,
        "NAME": name,
        "SESSIONID": session,
        "EVENTTYPE": kind,
        "PAGEURL": url,
        "EVENTTIMESTAMP": ts.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }


def test_source_emits_the_seed_rows_to_the_sanitised_topic_and_the_seed_smt_leaves_only_columns(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    redo = connect_plugin_doubles.redo
    tag = uuid.uuid4().hex[:8]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=123000)
    # before the connector exists: the seed's setup inserts (taken by the snapshot)
    redo.insert("POC_USERDATA", {"ID": f"101-{tag}", "NAME": "jdoe"})
    home = "https://example.com/home"
    redo.insert("POC_CLICKSTREAM", click(tag, 1, "101", "jdoe", "sess456", "page_view", home, now))

    name = f"clickstream_avro-{tag}"
    redo_topic = f"{name}-ORCLCDB-redo-log"
    cleanup["connectors"].append(name)
    cleanup["topics"].append(redo_topic)
    connect_client.apply(name, oracle_source_config(stack, name))
    wait_for("RUNNING", lambda: running(connect_client, name))

    # the seed's later transaction (one commit)
    later = [
        click(tag, 2, "101", "jdoe", "sess456", "click", "https://example.com/product/123", now),
        click(tag, 3, "101", "jdoe", "sess456", "click", "https://example.com/product/125", now),
        click(tag, 4, "102", "rsmith", "sess789", "click", "https://example.com/about", now),
        click(tag, 5, "102", "rsmith", "sess101", "click", "https://example.com/checkout", now),
        click(tag, 6, "103", "amary", "sess101", "click", "https://example.com/checkout", now),
        click(tag, 7, "103", "amary", "sess101", "click", "https://example.com/checkout", now),
    ]
    redo.append(
        [
            redo.change("I", "POC_USERDATA", {"ID": f"{i}-{tag}", "NAME": n})
            for i, n in ((102, "rsmith"), (103, "amary"), (104, "jwick"), (105, "jcena"))
        ]
        + [redo.change("I", "POC_CLICKSTREAM", row) for row in later]
    )

    # ${fullyQualifiedTableName} = ORCLCDB.C##MYUSER.POC_CLICKSTREAM; '#' is not valid in a topic name -> '_'
    topic = "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
    mine = {f"{tag}-{n}" for n in range(1, 8)}

    def my_records(msgs):
        return [m for m in msgs if m.key() and json.loads(m.key()) in mine]

    msgs = my_records(consume(stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: len(my_records(out)) >= 7))
    assert sorted(json.loads(m.key()) for m in msgs) == sorted(mine)  # key: the single-column primary key's value
    ts_ms = int(now.replace(tzinfo=dt.UTC).timestamp() * 1000)
    for m in msgs:
        value = json.loads(m.value())
        assert set(value) == CLICKSTREAM_COLUMNS | {"table"}  # the SMT dropped every other metadata field
        assert value["table"] == "ORCLCDB.C##MYUSER.POC_CLICKSTREAM"
        assert value["EVENTTIMESTAMP"] == ts_ms  # TIMESTAMP -> Connect Timestamp -> epoch millis
    first = next(json.loads(m.value()) for m in msgs if json.loads(m.key()) == f"{tag}-1")
    assert first == {
        **click(tag, 1, "101", "jdoe", "sess456", "page_view", home, now),
        "EVENTTIMESTAMP": ts_ms,
        "table": "ORCLCDB.C##MYUSER.POC_CLICKSTREAM",
    }

    # nothing of POC_USERDATA (not matched by the inclusion regex) anywhere in this connector's output
    assert "ORCLCDB.C__MYUSER.POC_USERDATA" not in {m.topic() for m in msgs}
    # the raw changes went to the connector's redo log topic, one partition; snapshot rows do not
    assert kafka_client.describe_topic(redo_topic).partitions == 1
    raw = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], redo_topic, lambda out: len(out) >= 6)
    rows = [json.loads(m.value()) for m in raw]
    assert len(rows) == 6 and all(
        r["OPERATION"] == "INSERT"
        and r["SEG_OWNER"] == SEED_OWNER
        and r["TABLE_NAME"] == "POC_CLICKSTREAM"
        and r["SRC_CON_NAME"] == SEED_DATABASE
        for r in rows
    )
    assert all(m.partition() == 0 for m in raw)
    last_scn = max(r["SCN"] for r in rows)
    offsets = wait_for(
        "committed source offsets", lambda: (o := connect_client.offsets(name)) and o[0]["offset"].get("scn", 0) >= last_scn and o
    )
    assert offsets[0]["partition"] == {"database": "ORCLCDB"}
    assert set(offsets[0]["offset"]) == {"scn", "pos"}


def test_source_change_events_carry_metadata_and_deletes_follow_emit_tombstone(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    redo = connect_plugin_doubles.redo
    tag = uuid.uuid4().hex[:6].upper()
    table = f"POC_USERDATA_{tag}"  # a table of its own: its own topic
    topic = f"ORCLCDB.C__MYUSER.{table}"
    name = f"{unique}-src"
    cleanup["connectors"].append(name)
    cleanup["topics"] += [topic, f"{name}-ORCLCDB-redo-log"]
    cfg = oracle_source_config(
        stack,
        name,
        **{
            "table.inclusion.regex": f"ORCLCDB\\.C##MYUSER\\.{table}",
            "table.topic.name.template": "${databaseName}.${schemaName}.${tableName}",
            "start.from": "current",
            "emit.tombstone.on.delete": "true",
            "transforms": "",
        },
    )
    cfg.pop("transforms.dropExtraFields.type")
    cfg.pop("transforms.dropExtraFields.blacklist")
    connect_client.apply(name, cfg)
    wait_for("RUNNING", lambda: running(connect_client, name))
    time.sleep(1.0)  # start.from=current: only changes after the task started
    scn_i = redo.insert(table, {"ID": "201", "NAME": "before"})
    scn_u = redo.update(table, {"ID": "201", "NAME": "after"})
    scn_d = redo.delete(table, {"ID": "201", "NAME": "after"})
    msgs = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: len(out) >= 4)
    assert [json.loads(m.key()) for m in msgs] == ["201"] * 4
    values = [json.loads(m.value()) if m.value() is not None else None for m in msgs]
    assert values[3] is None  # emit.tombstone.on.delete=true: a tombstone follows the delete
    assert [v["op_type"] for v in values[:3]] == ["I", "U", "D"]
    assert [v["scn"] for v in values[:3]] == [str(scn_i), str(scn_u), str(scn_d)]
    assert [v["NAME"] for v in values[:3]] == ["before", "after", "after"]
    for v in values[:3]:
        assert set(v) == {"ID", "NAME", "table", "scn", "op_type", "op_ts", "current_ts", "row_id", "username"}
        assert v["table"] == f"ORCLCDB.C##MYUSER.{table}" and v["username"] == SEED_OWNER
        assert len(v["row_id"]) == 18 and v["row_id"] == values[0]["row_id"]


def test_source_never_streams_changes_logminer_would_not_return(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    """Rows committed while supplemental logging / ARCHIVELOG was off ("minable": false in the redo feed,
    as the Oracle double writes them) never reach the topic as changes; a snapshot, which reads the
    table, still has them."""
    redo = connect_plugin_doubles.redo
    tag = uuid.uuid4().hex[:6].upper()
    table = f"POC_USERDATA_{tag}"
    topic = f"ORCLCDB.C__MYUSER.{table}"
    name = f"{unique}-gap"
    cleanup["connectors"].append(name)
    cleanup["topics"] += [topic, f"{name}-ORCLCDB-redo-log"]
    gap = {"minable": False, "unminable": f"C##MYUSER.{table} has no ALL COLUMN supplemental log group"}
    redo.insert(table, {"ID": "1", "NAME": "before the connector"}, **gap)
    cfg = oracle_source_config(stack, name, **{"table.inclusion.regex": f"ORCLCDB\\.C##MYUSER\\.{table}", "transforms": ""})
    cfg.pop("transforms.dropExtraFields.type")
    cfg.pop("transforms.dropExtraFields.blacklist")
    connect_client.apply(name, cfg)
    snap = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: len(out) >= 1)
    assert [(json.loads(m.key()), json.loads(m.value())["op_type"]) for m in snap] == [("1", "R")]
    wait_for("the snapshot offset", lambda: (o := connect_client.offsets(name)) and "snapshot" not in o[0]["offset"])
    logged = redo.insert(table, {"ID": "2", "NAME": "logged"})
    redo.insert(table, {"ID": "3", "NAME": "lost"}, **gap)
    redo.update(table, {"ID": "1", "NAME": "lost too"}, **gap)
    last = redo.insert(table, {"ID": "4", "NAME": "logged"})
    msgs = consume(
        stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: any(json.loads(m.value())["scn"] == str(last) for m in out if m.value())
    )
    assert [(json.loads(m.key()), json.loads(m.value())["op_type"]) for m in msgs] == [("1", "R"), ("2", "I"), ("4", "I")]
    raw = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], f"{name}-ORCLCDB-redo-log", lambda out: len(out) >= 2)
    assert [json.loads(m.value())["SCN"] for m in raw] == [logged, last]  # nor to the redo log topic


def test_source_snapshot_folds_history_maps_oracle_types_and_resumes_after_a_restart(
    connect_plugin_doubles, stack, connect_client, kafka_client, unique, cleanup
):
    redo = connect_plugin_doubles.redo
    tag = uuid.uuid4().hex[:6].upper()
    table = f"POC_TYPES_{tag}"
    topic = f"ORCLCDB.C__MYUSER.{table}"
    name = f"{unique}-snap"
    cleanup["connectors"].append(name)
    cleanup["topics"] += [topic, f"{name}-ORCLCDB-redo-log"]
    types = {
        "ID": "NUMBER(10)",
        "NAME": "VARCHAR2(20)",
        "PRICE": "NUMBER(10,2)",
        "QTY": "NUMBER(3)",
        "AMOUNT": "NUMBER",
        "BORN": "DATE",
        "AT": "TIMESTAMP(6)",
        "NOTE": "CLOB",
    }

    def row(i: int, name: str, price: float) -> dict:
        return {
            "ID": i,
            "NAME": name,
            "PRICE": price,
            "QTY": 7,
            "AMOUNT": 7,
            "BORN": "2001-02-03",
            "AT": "2024-01-02T03:04:05.678",
            "NOTE": "a LOB",
        }

    kw = {"pk": ["ID"], "types": types}
    redo.append([redo.change("I", table, row(1, "one", 1.5), **kw), redo.change("I", table, row(2, "two", 2.5), **kw)])
    redo.append([redo.change("U", table, row(1, "uno", 12.5), **kw)])
    redo.append([redo.change("D", table, row(2, "two", 2.5), **kw), redo.change("I", table, row(3, "three", 3.5), **kw)])
    history_scn = redo.last_scn()

    cfg = oracle_source_config(
        stack, name, **{"table.inclusion.regex": f"ORCLCDB\\.C##MYUSER\\.{table}", "numeric.mapping": "best_fit", "transforms": ""}
    )
    cfg.pop("transforms.dropExtraFields.type")
    cfg.pop("transforms.dropExtraFields.blacklist")
    connect_client.apply(name, cfg)
    snap = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: len(out) >= 2)
    assert [json.loads(m.key()) for m in snap] == [1, 3]  # the current rows only: 2 was deleted, 1 updated
    v1, v3 = (json.loads(m.value()) for m in snap)
    assert {v1["op_type"], v3["op_type"]} == {"R"} and v1["scn"] == v3["scn"] and int(v1["scn"]) >= history_scn
    assert "NOTE" not in v1  # LOB columns are left out without lob.topic.name.template
    assert (v1["NAME"], v1["PRICE"], v1["QTY"]) == ("uno", 12.5, 7)  # best_fit: NUMBER(10,2) double, NUMBER(3) int
    assert v1["BORN"] == (dt.date(2001, 2, 3) - dt.date(1970, 1, 1)).days  # DATE -> Connect Date (days)
    assert v1["AT"] == int(dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC).timestamp() * 1000)
    unscaled = int.from_bytes(base64.b64decode(v1["AMOUNT"]), "big", signed=True)
    assert decimal.Decimal(unscaled).scaleb(-127) == 7  # bare NUMBER -> Decimal(numeric.default.scale=127), base64

    wait_for("the snapshot offset", lambda: (o := connect_client.offsets(name)) and "snapshot" not in o[0]["offset"])
    wait_for("the restart to be accepted", lambda: rebalance_tolerant(lambda: connect_client.restart(name, include_tasks=True)))
    time.sleep(1)
    wait_for("RUNNING again", lambda: running(connect_client, name))
    scn = redo.update(table, row(3, "tres", 3.5), **kw)
    # read for a while past the expected 3 records: a re-snapshot or a replay would show up as more
    after = consume(stack["KAFKA_BOOTSTRAP_SERVERS"], topic, lambda out: len(out) > 3, timeout=10)
    values = [json.loads(m.value()) for m in after]
    assert [(v["ID"], v["op_type"]) for v in values] == [(1, "R"), (3, "R"), (3, "U")]  # resumed: no second snapshot
    assert values[2]["scn"] == str(scn) and values[2]["NAME"] == "tres"


def test_source_licence_topic_replication_factor_3_fails_on_a_single_broker(connect_plugin_doubles, stack, connect_client, unique, cleanup):
    name = f"{unique}-lic"
    cleanup["connectors"].append(name)
    cfg = oracle_source_config(stack, name, **{"confluent.topic": f"_confluent-command-{unique}"})
    cfg.pop("confluent.topic.replication.factor")  # default 3
    connect_client.apply(name, cfg)
    status = wait_for("the connector to fail", lambda: (s := status_of(connect_client, name))["connector"].get("state") == "FAILED" and s)
    trace = status["connector"]["trace"]
    assert "Licence topic _confluent-command-" in trace
    assert "replication factor of 3 cannot be reached because only 1 broker(s) are registered" in trace


def test_source_with_the_seed_bootstrap_servers_verbatim_fails_at_start(connect_plugin_doubles, stack, connect_client, unique, cleanup):
    # the seed's broker:29092 only resolves inside its docker-compose network
    name = f"{unique}-verbatim"
    cleanup["connectors"].append(name)
    connect_client.apply(
        name,
        oracle_source_config(
            stack, name, **{"confluent.topic.bootstrap.servers": "broker:29092", "redo.log.consumer.bootstrap.servers": "broker:29092"}
        ),
    )
    status = wait_for("the connector to fail", lambda: (s := status_of(connect_client, name))["connector"].get("state") == "FAILED" and s)
    assert "Licence topic _confluent-command: cannot reach [broker:29092]" in status["connector"]["trace"]
    assert "No resolvable bootstrap urls" in status["connector"]["trace"]


def test_source_validation_errors_for_a_missing_required_key(connect_plugin_doubles, stack, connect_client, unique):
    good = oracle_source_config(stack, unique)
    assert connect_client.validate(good).ok
    missing = {k: v for k, v in good.items() if k != "oracle.sid"}
    result = connect_client.validate(missing)
    assert result.errors == {"oracle.sid": ['Missing required configuration "oracle.sid" which has no default value.']}
    with pytest.raises(ConnectorConfigInvalid) as e:
        connect_client.apply(unique, missing)
    assert "oracle.sid" in e.value.message
    assert connect_client.get_config(unique) is None
    bad_regex = connect_client.validate({**good, "table.inclusion.regex": "ORCLCDB\\.C##MYUSER\\.(POC"})
    assert "invalid Java regular expression" in bad_regex.errors["table.inclusion.regex"][0]


HARNESS = """
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigValue;
import io.confluent.connect.oracle.cdc.OracleCdcSourceConnector;

public class ValidateHarness {
    public static void main(String[] args) {
        Map<String, String> props = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            props.put(args[i], args[i + 1]);
        }
        for (ConfigValue v : new OracleCdcSourceConnector().validate(props).configValues()) {
            for (String e : v.errorMessages()) {
                System.out.println(v.name() + "\\t" + e);
            }
        }
    }
}
"""


def test_source_validation_reports_an_unreachable_database_when_the_directory_is_unset_or_missing(connect_plugin_doubles, stack, tmp_path):
    # The worker's environment is fixed for its lifetime, so the connector's validate() runs in a JVM of
    # its own here: the same code the worker runs for PUT .../config/validate, with other environments.
    from tests.doubles.connect_plugins import build as plugin_build

    lib = plugin_build.default_stack_home() / "lib"
    jar = connect_plugin_doubles.jars["oracle-cdc-double"]
    (tmp_path / "ValidateHarness.java").write_text(HARNESS)
    cp = f"{lib}/*:{jar}"
    subprocess.run(
        [shutil.which("javac"), "-cp", cp, "-d", str(tmp_path), str(tmp_path / "ValidateHarness.java")], check=True, capture_output=True
    )
    args = [
        "oracle.server",
        "oracle",
        "oracle.port",
        "1521",
        "oracle.sid",
        "ORCLCDB",
        "table.inclusion.regex",
        "ORCLCDB\\.C##MYUSER\\.POC_CLICK(.*)",
        "confluent.topic.bootstrap.servers",
        stack["KAFKA_BOOTSTRAP_SERVERS"],
    ]

    def errors(env_dir: str | None) -> list[tuple[str, str]]:
        env = {k: v for k, v in os.environ.items() if k != "CDC_ORACLE_DOUBLE_DIR"}
        if env_dir is not None:
            env["CDC_ORACLE_DOUBLE_DIR"] = env_dir
        out = subprocess.run(
            [shutil.which("java"), "-cp", f"{cp}:{tmp_path}", "ValidateHarness", *args], capture_output=True, text=True, env=env, check=True
        ).stdout
        return [tuple(line.split("\t", 1)) for line in out.splitlines() if line]

    unset = errors(None)
    assert len(unset) == 1 and unset[0][0] == "oracle.server"
    assert unset[0][1].startswith("Unable to connect to Oracle at oracle:1521")
    assert "CDC_ORACLE_DOUBLE_DIR is not set" in unset[0][1]
    missing = errors(str(tmp_path / "no-such-db"))
    assert len(missing) == 1 and missing[0][0] == "oracle.server"
    assert missing[0][1].startswith("Unable to connect to Oracle at oracle:1521")
    assert errors(str(connect_plugin_doubles.oracle_dir)) == []
    assert Path(connect_plugin_doubles.oracle_dir).is_dir()
