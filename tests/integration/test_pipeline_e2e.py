"""The whole pipeline, provisioned by the Dagster jobs, on the real local stack (see pipeline_env.py)."""

from __future__ import annotations

import os
import time

import pytest

from pipeline_defs.core.nodes import asset_key_component
from pipeline_defs.definitions import build_definitions
from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import parse_spec
from pipeline_defs.systems.oracle.connectors import topic_for
from tests.integration.pipeline_env import CountingConnect, _spec_text, checks, ksql_writes, materializations, pipeline_env, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def e2e(stack, connect_plugin_doubles, tmp_path_factory):
    yield from pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)


def test_1_provisioning_from_empty_creates_everything(e2e):
    result = run(e2e, "provision_pipeline")
    mats = materializations(result)
    assert result.success, [str(ev.event_specific_data) for ev in result.all_events if ev.is_failure]
    assert len(mats) == len(build_lineage(e2e.spec).nodes)
    for key in (
        "oracle/role/C__CDC_PRIVS",
        "oracle/user/C__MYUSER",
        "oracle/table/POC_CLICKSTREAM",
        "connect/clickstream_avro",
        "connect/redis-sink-json",
        "ksqldb/USER_AGGREGATE_EVENTS",
    ):
        assert mats[key]["action"] == "created", (key, mats[key])
    assert mats["connect/clickstream_avro"]["state"] == "RUNNING"
    assert mats["connect/redis-sink-json"]["state"] == "RUNNING"
    assert mats["ksqldb/USER_AGGREGATE_EVENTS"]["query_state"] == "RUNNING"
    topic = topic_for(e2e.spec.source, "POC_CLICKSTREAM")
    assert topic == f"{e2e.database}.C__MYUSER.POC_CLICKSTREAM"
    key = "kafka/" + asset_key_component(topic)
    assert mats[key]["partitions"] == 1
    # structural checks ran with provisioning and pass
    c = checks(result)
    for name in (
        "oracle/role/C__CDC_PRIVS:role_grants",
        "connect/clickstream_avro:running",
        "connect/clickstream_avro:config_matches_spec",
        "connect/clickstream_avro:redo_log_topic_single_partition",
        "connect/redis-sink-json:plugins_installed",
        "ksqldb/USER_AGGREGATE_EVENTS:query_running",
        "ksqldb/USER_AGGREGATE_EVENTS:matches_spec",
    ):
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
