"""A whole pipeline on the real local stack, for the end-to-end and healing tests.

Real: Kafka, the Kafka Connect worker (with the contract doubles of the Confluent Oracle CDC source
and the Redis sink as plugins), Redis with JSON. Doubles: Oracle (in-process, writing the redo log
the CDC source double tails) and ksqlDB (an HTTP server running the windowed aggregation on real
topics). Each environment uses its own database name, so topics and redo entries never meet
another run's.
"""

from __future__ import annotations

import os
import time
import uuid

import dagster as dg
import pytest
import yaml

from pipeline_defs.definitions import build_definitions
from pipeline_defs.spec import default_spec_path, parse_spec
from pipeline_defs.systems.oracle.catalog import insert_statement
from pipeline_defs.systems.redis.config import offsets_key_of
from resources.connect import KafkaConnectResource, connector_health
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.redis_json import RedisResource
from tests.doubles.connect_plugins_fixture import WORKER_SECRET_ENV

SPEC_CONNECTORS = ("userdata_avro", "clickstream_avro", "redis-sink-json")


class CountingConnect(KafkaConnectResource):
    """Records every client it hands out, so a test can count the writes Connect received."""

    clients: list = []

    def get_client(self):
        client = super().get_client()
        if client not in CountingConnect.clients:
            CountingConnect.clients.append(client)
        return client

    @classmethod
    def writes(cls) -> int:
        return sum(1 for c in cls.clients for m, _ in c.requests_made if m in ("PUT", "POST", "DELETE"))


def _spec_text(database: str, **edits) -> str:
    doc = yaml.safe_load(default_spec_path().read_text())
    doc["source"]["database"] = database
    # the local stack's Redis has no requirepass (compose's has): no redis.password in the sink config
    for sink in doc["sinks"]:
        sink.pop("password_env", None)
    for path, value in edits.items():
        node = doc
        *head, last = path.split(".")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return yaml.safe_dump(doc)


def pipeline_env(stack, connect_plugin_doubles, tmp_path_factory):
    """Generator for a module fixture: a fresh pipeline environment, torn down after the module."""
    from tests.doubles.ksqldb_server import KsqlDbDouble
    from tests.doubles.oracle_database import FakeOracleDatabase
    from tests.doubles.oracle_registry import TEST_ADMIN_PASSWORD, double_resource, register_database, unregister_database

    database = "E2E" + uuid.uuid4().hex[:6].upper()
    env_overrides = {
        "CDC_FORMAT": "json",  # no Schema Registry here
        "CDC_CONNECT_BOOTSTRAP_SERVERS": stack["KAFKA_BOOTSTRAP_SERVERS"],
        "CDC_CONNECT_REDIS_URI": stack["REDIS_URL"].rsplit("/", 1)[0],
        # the CDC user's password: the same value the Connect worker resolves ${env:ORACLE_PASSWORD} to
        "ORACLE_PASSWORD": WORKER_SECRET_ENV["ORACLE_PASSWORD"],
    }
    mp = pytest.MonkeyPatch()
    for k, v in env_overrides.items():
        mp.setenv(k, v)
    spec_file = tmp_path_factory.mktemp("spec") / "pipeline.yaml"
    spec_file.write_text(_spec_text(database))
    spec = parse_spec(spec_file.read_text(), str(spec_file), env=os.environ)

    # start from empty: the spec's connectors, the aggregate topic, the sink's Redis keys and offsets
    connect = KafkaConnectResource(url=stack["KAFKA_CONNECT_URL"]).get_client()
    for name in SPEC_CONNECTORS:
        connect.delete(name)
    kafka = KafkaResource(bootstrap_servers=stack["KAFKA_BOOTSTRAP_SERVERS"]).get_client()
    for topic in ("USER_AGGREGATE_EVENTS", "POC_CLICKSTREAM_DELTAS"):  # engine-written topics of the spec
        kafka.delete_topic(topic)
    redis = RedisResource(url=stack["REDIS_URL"]).get_client()
    redis.delete_prefix("USER_AGGREGATE_EVENTS:")
    redis.delete_prefix("com.redis.kafka.connect.sink.offset.USER_AGGREGATE_EVENTS")
    redis.r.delete(offsets_key_of("USER_AGGREGATE_EVENTS"))  # our sink's replay guard: the topic starts over
    time.sleep(1)  # topic deletion is asynchronous

    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD, redo_dir=connect_plugin_doubles.oracle_dir, redo_database=database)
    key = register_database(db)
    ksql = KsqlDbDouble(kafka_bootstrap=stack["KAFKA_BOOTSTRAP_SERVERS"])
    ksql.start()
    CountingConnect.clients = []
    oracle_res = double_resource(db, key, password=env_overrides["ORACLE_PASSWORD"])
    resources = {
        "oracle": oracle_res,
        "connect": CountingConnect(url=stack["KAFKA_CONNECT_URL"], backoff_seconds=0.2),
        "kafka": KafkaResource(bootstrap_servers=stack["KAFKA_BOOTSTRAP_SERVERS"]),
        "ksqldb": KsqlDbResource(url=ksql.url),
        "redis": RedisResource(url=stack["REDIS_URL"]),
    }
    instance = dg.DagsterInstance.ephemeral()
    ctx = type("E2E", (), {})()
    ctx.spec, ctx.db, ctx.ksql, ctx.connect, ctx.kafka, ctx.redis = spec, db, ksql, connect, kafka, redis
    ctx.resources, ctx.instance, ctx.database, ctx.spec_file = resources, instance, database, spec_file
    ctx.env = {**env_overrides, "CDC_PIPELINE_SPEC": str(spec_file)}
    try:
        ctx.defs = build_definitions(spec, resources)
        yield ctx
    finally:  # also on generator close(), which raises GeneratorExit at the yield
        ksql.stop()
        unregister_database(key)
        for name in SPEC_CONNECTORS:
            connect.delete(name)
        mp.undo()


def run(ctx, job: str, defs=None, run_config=None):
    result = (
        (defs or ctx.defs).resolve_job_def(job).execute_in_process(instance=ctx.instance, raise_on_error=False, run_config=run_config or {})
    )
    return result


def materializations(result) -> dict[str, dict]:
    out = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def checks(result) -> dict[str, object]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def ksql_writes(ctx) -> int:
    return sum(
        1
        for r in ctx.ksql.requests
        if r.method == "POST"
        and r.path == "/ksql"
        and any(w in r.json().get("ksql", "").upper() for w in ("CREATE ", "DROP ", "TERMINATE "))
    )


SINK = "redis-sink-json"
JDOE_KEY = "USER_AGGREGATE_EVENTS:jdoe"


def wait_state(ctx, name: str, want: str, timeout: float = 40.0) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        try:
            status = ctx.connect.status(name)
            if connector_health(status)[0] == want:
                return status
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{name} never {want}: {status}")


def insert_click(ctx, name: str = "jdoe") -> None:
    """One more clickstream row through the Oracle double (its redo feeds the CDC source)."""
    table = ctx.spec.source.table("POC_CLICKSTREAM")
    row = {
        "EVENTID": f"t-{time.time_ns()}",
        "ID": "101",
        "NAME": name,
        "SESSIONID": "s",
        "EVENTTYPE": "click",
        "PAGEURL": "https://example.com/x",
        "EVENTTIMESTAMP": "CURRENT_TIMESTAMP",
    }
    with ctx.resources["oracle"].admin_client() as admin:
        admin.apply([insert_statement(ctx.spec.source.user.name, table, row)])


def break_sink(ctx) -> dict:
    """Make the sink's next write fail: jdoe's key holds a list, so JSON.SET fails
    (RedisJSON: "Existing key has wrong Redis type"); returns the FAILED status."""
    ctx.redis.r.delete(JDOE_KEY)
    ctx.redis.r.lpush(JDOE_KEY, "not json")
    insert_click(ctx, "jdoe")
    return wait_state(ctx, SINK, "FAILED", timeout=90)
