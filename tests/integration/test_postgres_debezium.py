"""The PostgreSQL source end to end on the local stack: PostgreSQL 15 (wal_level=logical), the real Debezium
PostgreSQL connector in the Kafka Connect worker, Kafka. The package provisions a fresh database, the connector
is registered with the generated config (password as ${env:POSTGRES_CDC_PASSWORD}), and the records on
pg.public.POC_CLICKSTREAM are checked: upper-case fields, EVENTTIMESTAMP in epoch ms, deletes as __deleted=true rows.
Then the slot checks on a slot Debezium created, and what happens to it when the connector goes.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import secrets
import statistics
import time

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline_defs.core.types import Neutral
from pipeline_defs.systems.postgres import (
    PostgresSource,
    cdc_topic,
    column_neutral_type,
    connector_config,
    db,
    read_catalog,
    secret_keys,
)
from pipeline_defs.systems.postgres import checks as C
from pipeline_defs.systems.postgres.connectors import ConnectEndpoints
from pipeline_defs.systems.postgres.plan import demo_row_statements, drop_slot_statement, plan
from resources.connect import ConnectorNotFound

pytestmark = pytest.mark.integration

TABLE = {
    "name": "POC_CLICKSTREAM",
    "columns": [
        {"name": "EVENTID", "type": "VARCHAR(50)", "primary_key": True},
        {"name": "NAME", "type": "VARCHAR(50)"},
        {"name": "EVENTTYPE", "type": "VARCHAR(50)"},
        {"name": "EVENTTIMESTAMP", "type": "TIMESTAMP"},
    ],
    "initial_rows": [{"EVENTID": 1, "NAME": "jdoe", "EVENTTYPE": "page_view", "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"}],
    "demo_rows": [
        {"EVENTID": i, "NAME": n, "EVENTTYPE": "click", "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"} for i, n in ((2, "jdoe"), (3, "rsmith"))
    ],
}


def _admin(dbname: str) -> psycopg.Connection:
    e = os.environ
    return db.connect(e["POSTGRES_HOST"], int(e["POSTGRES_PORT"]), dbname, e["POSTGRES_ADMIN_USER"], e["POSTGRES_ADMIN_PASSWORD"])


def _source(dbname: str, tag: str, tables: list[dict]) -> PostgresSource:
    return PostgresSource.model_validate(
        {
            "kind": "postgres",
            "database": dbname,
            "role": {"name": f"cdc_{tag}"},
            "tables": tables,
            "connectors": [{"name": f"pg-cdc-{tag}", "tables": [t["name"] for t in tables], "slot_name": f"pg_cdc_{tag}"}],
        }
    )


@pytest.fixture
def pg(stack, request):
    """A fresh database on the stack's PostgreSQL and a source spec for it (default topic prefix 'pg');
    the tables are TABLE unless the test is parametrized indirectly with others."""
    tag = secrets.token_hex(3)
    dbname = f"cdc_{tag}"
    with _admin(os.environ["POSTGRES_DB"]) as a:
        a.execute(f'CREATE DATABASE "{dbname}"')
    source = _source(dbname, tag, getattr(request, "param", [TABLE]))
    admin = _admin(dbname)
    yield source, admin
    admin.close()
    with _admin(os.environ["POSTGRES_DB"]) as a:
        for r in db.query_fn(a)("SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s", [dbname]):
            if r["active_pid"]:
                a.execute("SELECT pg_terminate_backend(%s)", [r["active_pid"]])
                time.sleep(1)
            a.execute("SELECT pg_drop_replication_slot(%s)", [r["slot_name"]])
        a.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
        a.execute(f'DROP ROLE IF EXISTS "{source.role.name}"')


def _consumer(topic: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "group.id": f"t-{secrets.token_hex(4)}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    md = c.list_topics(topic, timeout=10).topics.get(topic)
    # start after what earlier runs left on the shared topic; a topic that does not exist yet starts at 0
    if md is not None and md.error is None and md.partitions:
        c.assign([TopicPartition(topic, p, c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]) for p in md.partitions])
    else:
        c.assign([TopicPartition(topic, 0, 0)])
    return c


def _read(consumer: Consumer, n: int, timeout: float = 60) -> list[tuple[dict, dict | None, float, int]]:
    """(key, value, time received, record timestamp ms) of the next n records."""
    out: list[tuple[dict, dict | None, float, int]] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        value = json.loads(m.value()) if m.value() is not None else None
        out.append((json.loads(m.key()), value, time.time(), m.timestamp()[1]))
    assert len(out) == n, f"expected {n} records, got {len(out)}: {out}"
    return out


def _wait_running(client, name: str, timeout: float = 90) -> None:
    deadline, status = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            status = client.status(name)
        except ConnectorNotFound:  # just created: the status topic has not caught up yet
            time.sleep(0.5)
            continue
        tasks = status.get("tasks", [])
        if status["connector"]["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks):
            return
        if any(t["state"] == "FAILED" for t in tasks):
            break
        time.sleep(0.5)
    pytest.fail(f"connector {name} not running: {json.dumps(status)[:3000]}")


def _slot_state(source, admin, timeout: float = 30, *, active: bool):
    deadline = time.monotonic() + timeout
    while True:
        state = read_catalog(source, db.query_fn(admin))
        slot = state.slots.get(source.connectors[0].slot_name)
        if (slot is not None and slot.active == active) or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def test_debezium_reads_what_the_package_provisions(pg, connect_client):
    source, admin = pg
    password = os.environ["POSTGRES_CDC_PASSWORD"]
    db.apply(admin, plan(source, read_catalog(source, db.query_fn(admin), cdc_password=password), password))
    conn = source.connectors[0]
    topic = cdc_topic(source, "POC_CLICKSTREAM")
    assert topic == "pg.public.POC_CLICKSTREAM"
    consumer = _consumer(topic)
    config = connector_config(source, conn, ConnectEndpoints.from_env())
    assert config["database.password"] == "${env:POSTGRES_CDC_PASSWORD}" and secret_keys(config) == {"database.password"}
    connect_client.create(conn.name, config)
    try:
        _wait_running(connect_client, conn.name)
        assert connect_client.get_config(conn.name)["database.password"] == "${env:POSTGRES_CDC_PASSWORD}"

        # the snapshot of the initial row
        ((key, value, _, _),) = _read(consumer, 1)
        assert key == {"EVENTID": "1"}
        assert set(value) == {"EVENTID", "NAME", "EVENTTYPE", "EVENTTIMESTAMP", "__op", "__source_ts_ms", "__deleted"}
        assert value["__deleted"] == "false"
        assert value["__op"] == "r" and value["NAME"] == "jdoe"
        assert isinstance(value["EVENTTIMESTAMP"], int)
        assert abs(value["EVENTTIMESTAMP"] - time.time() * 1000) < 300_000  # epoch ms, UTC: within minutes of now

        # streamed changes: inserts, an update, a delete
        db.apply(admin, demo_row_statements(source))
        admin.execute('UPDATE "POC_CLICKSTREAM" SET "NAME" = %s WHERE "EVENTID" = %s', ["amary", "3"])
        admin.execute('DELETE FROM "POC_CLICKSTREAM" WHERE "EVENTID" = %s', ["2"])
        records = _read(consumer, 4)
        assert [(k["EVENTID"], v and v["__op"]) for k, v, _, _ in records] == [("2", "c"), ("3", "c"), ("3", "u"), ("2", "d")]
        assert records[2][1]["NAME"] == "amary"
        # the delete is a row the engine retracts (rewrite mode), carrying the key under the default replica identity
        assert records[3][1]["__deleted"] == "true" and records[3][1]["EVENTID"] == "2"
        assert [v["__deleted"] for _, v, _, _ in records[:3]] == ["false"] * 3
        assert records[0][1]["__source_ts_ms"] <= records[0][1]["EVENTTIMESTAMP"] + 1000

        # freshness: 1000 rows at ~1000 rows/s (100 transactions of 10), read while they are written;
        # lag = time the record is in hand - its commit time (__source_ts_ms)
        reader = concurrent.futures.ThreadPoolExecutor(1).submit(_read, consumer, 1000, 120)
        with admin.cursor() as cur:
            start = time.monotonic()
            for b in range(100):
                with admin.transaction():
                    for i in range(10):
                        cur.execute(
                            "INSERT INTO \"POC_CLICKSTREAM\" VALUES (%s, %s, %s, statement_timestamp() AT TIME ZONE 'UTC')",
                            [f"lat{b}-{i}", "lat", "click"],
                        )
                time.sleep(max(0.0, start + (b + 1) * 0.01 - time.monotonic()))
        records = reader.result()
        lags = sorted(got * 1000 - v["__source_ts_ms"] for _, v, got, _ in records)
        appended = sorted(ts - v["__source_ts_ms"] for _, v, _, ts in records)  # producer CreateTime
        p50, p99 = statistics.median(lags), lags[int(len(lags) * 0.99) - 1]
        print(
            f"commit->consumer lag over {len(lags)} rows: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {lags[-1]:.0f} ms; "
            f"commit->record timestamp p50 {statistics.median(appended):.0f} ms, p99 {appended[989]:.0f} ms"
        )
        assert p99 <= 1000, f"p99 commit->topic lag {p99:.0f} ms exceeds the 1 s goal"

        # the slot Debezium created: checks pass while it streams, and it cannot be dropped from under it
        state = _slot_state(source, admin, active=True)
        assert C.check_slot(source, state, conn)[0], C.check_slot(source, state, conn)
        ok, md = C.check_wal_retention(source, state)
        assert ok and md["severity"] == "OK" and md["slots"][0]["slot_name"] == conn.slot_name
        assert C.check_publication(source, state)[0] and C.check_role(source, state)[0]
        assert db.apply(admin, [drop_slot_statement(conn.slot_name)]) == [0]
        assert conn.slot_name in read_catalog(source, db.query_fn(admin)).slots
    finally:
        connect_client.delete(conn.name)
        consumer.close()

    # the connector is gone, its slot stays and holds WAL: the checks say so, and it can be dropped now
    state = _slot_state(source, admin, active=False)
    ok, md = C.check_slot(source, state, conn)
    assert not ok and "inactive" in md["problem"]
    ok, md = C.check_wal_retention(source, state)
    assert not ok and md["severity"] == "WARN"
    assert db.apply(admin, [drop_slot_statement(conn.slot_name)]) == [1]
    assert conn.slot_name not in read_catalog(source, db.query_fn(admin)).slots


TYPES = {
    "name": "ALL_TYPES",
    "columns": [
        {"name": "ID", "type": "INTEGER", "primary_key": True},
        {"name": "T_TEXT", "type": "TEXT"},
        {"name": "T_VARCHAR", "type": "VARCHAR(10)"},
        {"name": "T_BIGINT", "type": "BIGINT"},
        {"name": "T_BOOLEAN", "type": "BOOLEAN"},
        {"name": "T_DOUBLE", "type": "DOUBLE PRECISION"},
        {"name": "T_NUMERIC", "type": "NUMERIC(10,2)"},
        {"name": "T_TIMESTAMP", "type": "TIMESTAMP"},
        {"name": "T_TIMESTAMPTZ", "type": "TIMESTAMPTZ"},
        {"name": "T_DATE", "type": "DATE"},
        {"name": "T_BYTEA", "type": "BYTEA"},
    ],
    "initial_rows": [
        {
            "ID": 7,
            "T_TEXT": "t",
            "T_VARCHAR": "v",
            "T_BIGINT": 2**40,
            "T_BOOLEAN": True,
            "T_DOUBLE": 0.25,
            "T_NUMERIC": 12.5,
            "T_TIMESTAMP": "2024-05-01 12:00:00.123456",
            "T_TIMESTAMPTZ": "2024-05-01 12:00:00+02",
            "T_DATE": "2024-05-02",
            "T_BYTEA": "\\x0102ff",
        }
    ],
}
# what each neutral type looks like in a JSON value (schemas.enable=false)
JSON_SHAPE = {
    Neutral.STRING: str,
    Neutral.INT32: int,
    Neutral.INT64: int,
    Neutral.BOOLEAN: bool,
    Neutral.FLOAT64: float,
    Neutral.TIMESTAMP: int,
    Neutral.DATE: int,
    Neutral.BYTES: str,
}


@pytest.mark.parametrize("pg", [[TYPES]], indirect=True)
def test_wire_types_match_column_neutral_type(pg, connect_client):
    source, admin = pg
    password = os.environ["POSTGRES_CDC_PASSWORD"]
    db.apply(admin, plan(source, read_catalog(source, db.query_fn(admin), cdc_password=password), password))
    conn = source.connectors[0]
    consumer = _consumer(cdc_topic(source, "ALL_TYPES"))
    connect_client.create(conn.name, connector_config(source, conn, ConnectEndpoints.from_env()))
    try:
        _wait_running(connect_client, conn.name)
        ((key, value, _, _),) = _read(consumer, 1)
    finally:
        connect_client.delete(conn.name)
        consumer.close()
    assert key == {"ID": 7}
    for col in TYPES["columns"]:
        neutral = column_neutral_type(col["type"])
        assert type(value[col["name"]]) is JSON_SHAPE[neutral], (col, value[col["name"]])
    assert value["T_TIMESTAMP"] == 1714564800123  # 2024-05-01T12:00:00.123 read as UTC, microseconds cut
    assert value["T_TIMESTAMPTZ"] == "2024-05-01T10:00:00.000000Z"  # ZonedTimestamp: ISO string, UTC, 6 digits
    assert value["T_DATE"] == 19845  # days since 1970-01-01
    assert value["T_NUMERIC"] == 12.5 and value["T_BIGINT"] == 2**40 and value["T_BOOLEAN"] is True
    assert base64.b64decode(value["T_BYTEA"]) == b"\x01\x02\xff"
