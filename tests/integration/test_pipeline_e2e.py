"""The whole pipeline, provisioned by the Dagster jobs, on the real local stack.

Real: Kafka, the Kafka Connect worker (with the contract doubles of the Confluent Oracle CDC source
and the Redis sink as plugins), Redis with JSON. Doubles: Oracle (in-process, writing the redo log
the CDC source double tails) and ksqlDB (an HTTP server running the windowed aggregation on real
topics). Data flows Oracle double -> CDC source -> Kafka -> ksqlDB double -> Kafka -> Redis sink ->
Redis, and the checks judge Redis against Oracle.

Each module run uses its own database name, so topics and redo entries never meet another run's.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipeline_defs import derive
from pipeline_defs.definitions import build_definitions
from pipeline_defs.spec import default_spec_path, parse_spec
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.redis_json import RedisResource
from resources.schema_registry import SchemaRegistryResource

pytestmark = pytest.mark.integration

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
    for path, value in edits.items():
        node = doc
        *head, last = path.split(".")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return yaml.safe_dump(doc)


@pytest.fixture(scope="module")
def e2e(stack, connect_plugin_doubles, tmp_path_factory):
    from tests.doubles.ksqldb_server import KsqlDbDouble
    from tests.doubles.oracle_db import TEST_ADMIN_PASSWORD, FakeOracleDatabase, double_resource, register_database, unregister_database

    database = "E2E" + uuid.uuid4().hex[:6].upper()
    env_overrides = {
        "CDC_FORMAT": "json",  # no Schema Registry here
        "CDC_CONNECT_BOOTSTRAP_SERVERS": stack["KAFKA_BOOTSTRAP_SERVERS"],
        "CDC_CONNECT_REDIS_URI": stack["REDIS_URL"].rsplit("/", 1)[0],
        "ORACLE_PASSWORD": "Cdc-User-Pw-1",
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
    for topic in ("USER_AGGREGATE_EVENTS",):
        kafka.delete_topic(topic)
    redis = RedisResource(url=stack["REDIS_URL"]).get_client()
    redis.delete_prefix("USER_AGGREGATE_EVENTS:")
    redis.delete_prefix("com.redis.kafka.connect.sink.offset.USER_AGGREGATE_EVENTS")
    time.sleep(1)  # topic deletion is asynchronous

    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD, redo_dir=connect_plugin_doubles.oracle_dir,
                            redo_database=database)
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
        "schema_registry": SchemaRegistryResource(url="http://127.0.0.1:1"),
    }
    instance = dg.DagsterInstance.ephemeral()
    ctx = type("E2E", (), {})()
    ctx.spec, ctx.db, ctx.ksql, ctx.connect, ctx.kafka, ctx.redis = spec, db, ksql, connect, kafka, redis
    ctx.resources, ctx.instance, ctx.database, ctx.spec_file = resources, instance, database, spec_file
    ctx.defs = build_definitions(spec, resources)
    yield ctx
    ksql.stop()
    unregister_database(key)
    for name in SPEC_CONNECTORS:
        connect.delete(name)
    mp.undo()


def run(ctx, job: str, defs=None, run_config=None):
    result = (defs or ctx.defs).resolve_job_def(job).execute_in_process(
        instance=ctx.instance, raise_on_error=False, run_config=run_config or {})
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
    return sum(1 for r in ctx.ksql.requests if r.method == "POST" and r.path == "/ksql"
               and any(w in r.json().get("ksql", "").upper() for w in ("CREATE ", "DROP ", "TERMINATE ")))


def test_1_provisioning_from_empty_creates_everything(e2e):
    result = run(e2e, "provision_pipeline")
    mats = materializations(result)
    assert result.success, [str(ev.event_specific_data) for ev in result.all_events if ev.is_failure]
    assert len(mats) == len(derive.lineage(e2e.spec).nodes)
    for key in ("oracle/role/C__CDC_PRIVS", "oracle/user/C__MYUSER", "oracle/table/POC_CLICKSTREAM",
                "connect/clickstream_avro", "connect/redis-sink-json", "ksqldb/USER_AGGREGATE_EVENTS"):
        assert mats[key]["action"] == "created", (key, mats[key])
    assert mats["connect/clickstream_avro"]["state"] == "RUNNING"
    assert mats["connect/redis-sink-json"]["state"] == "RUNNING"
    assert mats["ksqldb/USER_AGGREGATE_EVENTS"]["query_state"] == "RUNNING"
    topic = derive.cdc_topic(e2e.spec, "POC_CLICKSTREAM")
    assert topic == f"{e2e.database}.C__MYUSER.POC_CLICKSTREAM"
    key = "kafka/" + derive.asset_key_component(topic)
    assert mats[key]["partitions"] == 1
    # structural checks ran with provisioning and pass
    c = checks(result)
    for name in ("oracle/role/C__CDC_PRIVS:role_grants", "connect/clickstream_avro:running",
                 "connect/clickstream_avro:config_matches_spec", "connect/clickstream_avro:redo_log_topic_single_partition",
                 "connect/redis-sink-json:plugins_installed", "ksqldb/USER_AGGREGATE_EVENTS:query_running",
                 "ksqldb/USER_AGGREGATE_EVENTS:matches_spec"):
        assert c[name].passed, (name, c[name].metadata)
    assert CountingConnect.writes() > 0 and len(e2e.db.ddl_statements()) > 0 and ksql_writes(e2e) > 0


def test_2_second_run_writes_nothing(e2e):
    connect_before, ddl_before, ksql_before = CountingConnect.writes(), len(e2e.db.ddl_statements()), ksql_writes(e2e)
    result = run(e2e, "provision_pipeline")
    assert result.success
    mats = materializations(result)
    assert {k: m["writes"] for k, m in mats.items() if m["writes"]} == {}
    assert {m["action"] for m in mats.values()} <= {"unchanged", "observed"}
    assert CountingConnect.writes() == connect_before  # no PUT, no POST: Connect restarted nothing
    assert len(e2e.db.ddl_statements()) == ddl_before
    assert ksql_writes(e2e) == ksql_before


def wait_for_redis(e2e, expected: dict[str, int], timeout=90.0) -> dict:
    deadline = time.monotonic() + timeout
    docs = {}
    while time.monotonic() < deadline:
        docs = e2e.redis.read_prefix("USER_AGGREGATE_EVENTS:")
        if all(k in docs and isinstance(docs[k], dict) for k in expected):
            return docs
        time.sleep(1)
    raise AssertionError(f"Redis never got {sorted(expected)}; has {sorted(docs)}")


def test_3_data_flows_and_reconciliation_passes(e2e):
    result = run(e2e, "seed_demo_events")
    assert result.success
    expected_keys = {f"USER_AGGREGATE_EVENTS:{n}": 0 for n in ("jdoe", "rsmith", "amary")}
    docs = wait_for_redis(e2e, expected_keys)
    assert set(docs) == set(expected_keys)  # readable keys: the windowed-key fix holds end to end
    doc = docs["USER_AGGREGATE_EVENTS:rsmith"]
    assert doc["USER_NAME"] == "rsmith" and doc["WINDOW_END"] - doc["WINDOW_START"] == 60_000
    deadline = time.monotonic() + 60
    while True:  # the last events may still be on their way through the pipeline
        dq = run(e2e, "data_quality")
        c = checks(dq)["redis/USER_AGGREGATE_EVENTS:matches_oracle"]
        if c.passed or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert c.passed, c.metadata
    assert c.metadata["keys_checked"].value == 3 and c.metadata["mismatches"].value == 0
    assert checks(dq)["redis/USER_AGGREGATE_EVENTS:fresh"].passed


def test_4_corrupted_document_fails_naming_name_and_window(e2e):
    e2e.redis.r.execute_command("JSON.SET", "USER_AGGREGATE_EVENTS:jdoe", "$.EVENT_COUNT", "99")
    dq = run(e2e, "data_quality")
    c = checks(dq)["redis/USER_AGGREGATE_EVENTS:matches_oracle"]
    assert not c.passed
    rows = c.metadata["mismatch_table"].value.records
    [row] = [r.data for r in rows]
    assert row["name"] == "jdoe" and row["problem"] == "count" and row["redis_count"] == 99
    assert row["window_start"].endswith("Z") and row["window_end"] > row["window_start"]
    assert "jdoe (count)" in c.description
    # a blocking check failed with ERROR: the run reports it rather than passing silently
    assert not dq.success


def test_5_plan_reports_drift_behind_its_back(e2e):
    cfg = e2e.connect.get_config("clickstream_avro")
    e2e.connect.put_config("clickstream_avro", {**cfg, "poll.linger.ms": "1234"})
    result = run(e2e, "plan")
    assert result.success
    summary = result.output_for_node("plan_pipeline")
    drifted = {d["object"]: d for d in summary["drift"]}
    assert set(drifted) == {"clickstream_avro"}
    assert drifted["clickstream_avro"]["action"] == "would_update"
    assert "poll.linger.ms" in drifted["clickstream_avro"]["changes"][0]
    assert e2e.connect.get_config("clickstream_avro")["poll.linger.ms"] == "1234"  # plan wrote nothing
    # reregister puts it back
    fix = run(e2e, "reregister_connectors", run_config={"ops": {"reregister": {"config": {"connectors": ["clickstream_avro"]}}}})
    assert fix.success and "poll.linger.ms" not in e2e.connect.get_config("clickstream_avro")


def test_6_edited_spec_changes_exactly_what_changed(e2e):
    edited = parse_spec(_spec_text(e2e.database, **{"sinks.0.tasks_max": 2}), "edited.yaml", env=os.environ)
    defs = build_definitions(edited, e2e.resources)
    result = run(e2e, "provision_pipeline", defs=defs)
    assert result.success
    mats = materializations(result)
    changed = {k: m for k, m in mats.items() if m["action"] not in ("unchanged", "observed")}
    assert list(changed) == ["connect/redis-sink-json"]
    assert changed["connect/redis-sink-json"]["action"] == "updated"
    assert changed["connect/redis-sink-json"]["changed_keys"] == ["tasks.max"]
    assert e2e.connect.get_config("redis-sink-json")["tasks.max"] == "2"
