"""The local profile's chain on the session stack, each hop against the real process:
PostgreSQL -> Debezium PostgreSQL (pgoutput) -> Kafka; Kafka -> our Redis JSON sink -> Redis; Kafka -> Flink SQL
(through the SQL Gateway REST API) -> Kafka. Everything a test creates (connectors, slots, publications, roles,
tables, topics, jobs, sessions) is removed afterwards."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

pytestmark = pytest.mark.integration

PG_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
REDIS_SINK = "com.cdcplane.redis.RedisJsonSinkConnector"
JSON_NO_SCHEMA = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}


def _wait(what: str, fn: Callable[[], object], timeout: float = 60, every: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:
            last = e
        time.sleep(every)
    raise AssertionError(f"{what} not within {timeout:.0f}s; last: {last!r}")


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def pg(stack):
    import psycopg2

    conn = psycopg2.connect(
        host=stack["POSTGRES_HOST"],
        port=int(stack["POSTGRES_PORT"]),
        dbname=stack["POSTGRES_DB"],
        user=stack["POSTGRES_ADMIN_USER"],
        password=stack["POSTGRES_ADMIN_PASSWORD"],
    )
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def topics(stack) -> Iterator[list[str]]:
    """Topics a test names here are deleted after it."""
    from confluent_kafka.admin import AdminClient

    names: list[str] = []
    yield names
    admin = AdminClient({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in names if t in existing]
    if doomed:
        for fut in admin.delete_topics(doomed, operation_timeout=30).values():
            fut.result()


def consume(stack, topic: str, want: int, timeout: float = 60) -> list[tuple[object, object]]:
    """(key, value) pairs of the first `want` records of topic, JSON-decoded."""
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"],
            "group.id": f"t-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    out: list[tuple[object, object]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < want and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            decode = lambda b: None if b is None else json.loads(b)
            out.append((decode(msg.key()), decode(msg.value())))
    finally:
        c.close()
    assert len(out) >= want, f"{topic}: {len(out)} of {want} records within {timeout:.0f}s: {out}"
    return out


def produce(stack, topic: str, records: list[tuple[dict | None, dict]]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"]})
    for key, value in records:
        p.produce(topic, key=None if key is None else json.dumps(key), value=json.dumps(value))
    assert p.flush(30) == 0


def register(http: httpx.Client, stack, name: str, config: dict[str, str]) -> None:
    r = http.put(f"{stack['KAFKA_CONNECT_URL']}/connectors/{name}/config", json=config)
    assert r.status_code in (200, 201), r.text

    def task_running():
        s = http.get(f"{stack['KAFKA_CONNECT_URL']}/connectors/{name}/status").json()
        tasks = s.get("tasks", [])
        failed = [t.get("trace", "")[:2000] for t in tasks if t["state"] == "FAILED"]
        assert not failed, failed
        return s["connector"]["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks)

    _wait(f"connector {name} RUNNING", task_running, timeout=90)


def unregister(http: httpx.Client, stack, name: str) -> None:
    r = http.delete(f"{stack['KAFKA_CONNECT_URL']}/connectors/{name}")
    assert r.status_code in (204, 404), r.text
    _wait(f"connector {name} gone", lambda: http.get(f"{stack['KAFKA_CONNECT_URL']}/connectors/{name}").status_code == 404, timeout=30)


# ---------------------------------------------------------------- Postgres -> Debezium -> Kafka


def test_postgres_rows_reach_kafka_through_debezium(stack, pg, http, topics, suffix):
    table, role, slot, pub = f"chain_{suffix}", f"cdc_{suffix}", f"slot_{suffix}", f"pub_{suffix}"
    name, prefix = f"pg-{suffix}", f"chain{suffix}"
    topic = f"{prefix}.public.{table}"
    topics.append(topic)
    cur = pg.cursor()
    try:
        cur.execute(f"CREATE TABLE public.{table} (id integer PRIMARY KEY, name text NOT NULL, clicks integer)")
        cur.execute(f"INSERT INTO public.{table} VALUES (1, 'alice', 3)")
        # the CDC role as the product provisions it: the stack's generated POSTGRES_CDC_PASSWORD
        cur.execute(f"CREATE ROLE {role} LOGIN REPLICATION PASSWORD %s", (stack["POSTGRES_CDC_PASSWORD"],))
        cur.execute(f"GRANT SELECT ON public.{table} TO {role}")
        cur.execute(f"CREATE PUBLICATION {pub} FOR TABLE public.{table}")
        config = {
            "connector.class": PG_CONNECTOR,
            "tasks.max": "1",
            "database.hostname": stack["POSTGRES_HOST"],
            "database.port": stack["POSTGRES_PORT"],
            "database.dbname": stack["POSTGRES_DB"],
            "database.user": role,
            "database.password": "${env:POSTGRES_CDC_PASSWORD}",  # resolved by the worker's env provider
            "topic.prefix": prefix,
            "plugin.name": "pgoutput",
            "slot.name": slot,
            "publication.name": pub,
            "publication.autocreate.mode": "disabled",
            "table.include.list": f"public.{table}",
            "poll.interval.ms": "100",
            "transforms": "unwrap",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.add.fields": "op",
            **JSON_NO_SCHEMA,
        }
        register(http, stack, name, config)
        cur.execute(f"INSERT INTO public.{table} VALUES (2, 'bob', 5)")
        cur.execute(f"UPDATE public.{table} SET clicks = 4 WHERE id = 1")

        records = consume(stack, topic, want=3)
        values = [v for _, v in records[:3]]
        assert values == [
            {"id": 1, "name": "alice", "clicks": 3, "__op": "r"},  # snapshot
            {"id": 2, "name": "bob", "clicks": 5, "__op": "c"},
            {"id": 1, "name": "alice", "clicks": 4, "__op": "u"},
        ]
        assert records[0][0] == {"id": 1}

        stored = http.get(f"{stack['KAFKA_CONNECT_URL']}/connectors/{name}/config").json()
        assert stored["database.password"] == "${env:POSTGRES_CDC_PASSWORD}"
        assert stack["POSTGRES_CDC_PASSWORD"] not in json.dumps(stored)
        cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        assert cur.fetchone() == (True,)
    finally:
        unregister(http, stack, name)

        def slot_dropped():  # the slot outlives the connector and holds WAL until dropped
            cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
            row = cur.fetchone()
            if row is None:
                return True
            if not row[0]:
                cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return True
            return False

        _wait(f"replication slot {slot} dropped", slot_dropped, timeout=30)
        cur.execute(f"DROP PUBLICATION IF EXISTS {pub}")
        cur.execute(f"DROP TABLE IF EXISTS public.{table}")
        cur.execute(f"DROP ROLE IF EXISTS {role}")


# ---------------------------------------------------------------- Kafka -> Redis sink -> Redis


def test_redis_sink_writes_json_documents(stack, http, topics, suffix):
    import redis

    topic, name, keyspace = f"agg-{suffix}", f"redis-{suffix}", f"chain{suffix}"
    topics.append(topic)
    r = redis.Redis.from_url(stack["REDIS_URL"], decode_responses=True)
    docs = {
        "alice": {"NAME": "alice", "EVENT_COUNT": 3, "WINDOW_START": 1796131620000, "WINDOW_END": 1796131680000},
        "bob": {"NAME": "bob", "EVENT_COUNT": 1, "WINDOW_START": 1796131620000, "WINDOW_END": 1796131680000},
    }
    produce(stack, topic, [({"NAME": k}, v) for k, v in docs.items()])
    try:
        register(
            http,
            stack,
            name,
            {
                "connector.class": REDIS_SINK,
                "tasks.max": "1",
                "topics": topic,
                "redis.uri": stack["REDIS_URL"],
                "redis.key": keyspace,
                "redis.key.field": "NAME",
                **JSON_NO_SCHEMA,
            },
        )

        def stored():
            got = {k: r.execute_command("JSON.GET", f"{keyspace}:{k}") for k in docs}
            return {k: json.loads(v) for k, v in got.items()} if all(got.values()) else None

        assert _wait("JSON documents in Redis", stored, timeout=60) == docs
        assert r.type(f"{keyspace}:alice") == "ReJSON-RL"
    finally:
        unregister(http, stack, name)
        r.delete(*[f"{keyspace}:{k}" for k in docs])
        r.close()


# ---------------------------------------------------------------- Kafka -> Flink SQL (gateway) -> Kafka


class Gateway:
    """The SQL Gateway's REST API (v1), raw."""

    def __init__(self, http: httpx.Client, url: str):
        self.http, self.url = http, url
        r = http.post(f"{url}/v1/sessions", json={"properties": {"execution.runtime-mode": "streaming"}})
        assert r.status_code == 200, r.text
        self.session = r.json()["sessionHandle"]

    def run(self, statement: str, timeout: float = 90) -> list[list[object]]:
        r = self.http.post(f"{self.url}/v1/sessions/{self.session}/statements", json={"statement": statement})
        assert r.status_code == 200, r.text
        op = r.json()["operationHandle"]
        base = f"{self.url}/v1/sessions/{self.session}/operations/{op}"

        def finished():
            status = self.http.get(f"{base}/status").json()["status"]
            if status == "ERROR":
                err = self.http.get(f"{base}/result/0", params={"rowFormat": "JSON"}).json()
                raise AssertionError(f"{statement[:80]}... failed: {str(err)[-1500:]}")
            return status == "FINISHED"

        _wait(f"statement {statement[:40]!r}", finished, timeout=timeout, every=0.3)
        rows: list[list[object]] = []
        uri = f"{base}/result/0?rowFormat=JSON"
        while uri:
            page = self.http.get(uri if uri.startswith("http") else self.url + uri).json()
            rows += [d["fields"] for d in page.get("results", {}).get("data", [])]
            if page.get("resultType") == "EOS":
                break
            uri = page.get("nextResultUri")
        return rows

    def close(self) -> None:
        self.http.delete(f"{self.url}/v1/sessions/{self.session}")


def test_flink_sql_insert_through_the_gateway(stack, http, topics, suffix):
    src, dst = f"clicks-{suffix}", f"counts-{suffix}"
    topics.extend([src, dst])
    produce(stack, src, [(None, {"NAME": n, "CLICKS": c}) for n, c in (("alice", 2), ("bob", 7), ("carol", 1))])
    info = http.get(f"{stack['FLINK_GATEWAY_URL']}/v1/info").json()
    assert info["version"] == "2.2.1"
    gw = Gateway(http, stack["FLINK_GATEWAY_URL"])
    job_id = None
    try:
        kafka = f"'connector' = 'kafka', 'properties.bootstrap.servers' = '{stack['KAFKA_BOOTSTRAP_SERVERS']}', 'format' = 'json'"
        gw.run(
            f"CREATE TABLE src (NAME STRING, CLICKS INT) WITH ({kafka}, 'topic' = '{src}', "
            f"'properties.group.id' = 'flink-{suffix}', 'scan.startup.mode' = 'earliest-offset')"
        )
        gw.run(f"CREATE TABLE dst (NAME STRING, DOUBLED INT) WITH ({kafka}, 'topic' = '{dst}')")
        [[job_id]] = gw.run("INSERT INTO dst SELECT UPPER(NAME), CLICKS * 2 FROM src WHERE CLICKS > 1")
        out = consume(stack, dst, want=2, timeout=90)
        assert sorted(v["NAME"] for _, v in out) == ["ALICE", "BOB"]
        assert {v["NAME"]: v["DOUBLED"] for _, v in out} == {"ALICE": 4, "BOB": 14}
        job = http.get(f"{stack['FLINK_REST_URL']}/jobs/{job_id}").json()
        assert job["state"] == "RUNNING"
    finally:
        if job_id:
            r = http.patch(f"{stack['FLINK_REST_URL']}/jobs/{job_id}", params={"mode": "cancel"})
            assert r.status_code == 202, r.text
            _wait(f"job {job_id} canceled", lambda: http.get(f"{stack['FLINK_REST_URL']}/jobs/{job_id}").json()["state"] == "CANCELED", 60)
        gw.close()
