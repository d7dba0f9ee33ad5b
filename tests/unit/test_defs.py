"""The Definitions load, every job resolves, and the lineage is one graph with kinds and groups."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline_defs import defs
from pipeline_defs.definitions import build_definitions
from pipeline_defs.spec import load_spec

pytestmark = pytest.mark.unit

JOBS = [
    "provision_pipeline",
    "data_quality",
    "plan",
    "reregister_connectors",
    "restart_connectors",
    "seed_demo_events",
    "connector_incident",
    "repair_ksql_queries",
]


def test_definitions_are_loadable():
    dg.Definitions.validate_loadable(defs)


@pytest.mark.parametrize("job", JOBS)
def test_every_job_resolves(job):
    assert defs.resolve_job_def(job).name == job


def test_one_lineage_graph_from_oracle_to_redis():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "oracle/role/C__CDC_PRIVS",
        "oracle/user/C__MYUSER",
        "oracle/table/POC_CLICKSTREAM",
        "connect/clickstream_avro",
        "kafka/ORCLCDB_C__MYUSER_POC_CLICKSTREAM",
        "ksqldb/POC_CLICKSTREAM_STREAM",
        "ksqldb/USER_AGGREGATE_EVENTS",
        "kafka/USER_AGGREGATE_EVENTS",
        "connect/redis-sink-json",
        "redis/USER_AGGREGATE_EVENTS",
    } <= keys
    # walk upstream from the Redis aggregates: every hop back to the Oracle role
    node = dg.AssetKey(["redis", "USER_AGGREGATE_EVENTS"])
    seen = []
    while True:
        parents = sorted(graph.get(node).parent_keys, key=lambda k: k.to_user_string())
        if not parents:
            break
        node = parents[-1] if len(parents) > 1 else parents[0]
        seen.append(node.to_user_string())
    assert seen[-1] == "oracle/role/C__CDC_PRIVS"
    assert "connect/clickstream_avro" in seen and "ksqldb/POC_CLICKSTREAM_STREAM" in seen


def test_kinds_and_groups():
    graph = defs.resolve_asset_graph()
    expect = {"oracle": "oracle", "connect": "kafka", "kafka": "kafka", "ksqldb": "ksqldb", "redis": "redis"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        system = key.path[0]
        assert node.group_name == system
        assert expect[system] in node.kinds


def test_checks_cover_every_system():
    names = {(k.asset_key.path[0], k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    for want in [
        ("oracle", "archivelog_mode"),
        ("oracle", "supplemental_logging"),
        ("oracle", "role_grants"),
        ("oracle", "primary_key"),
        ("oracle", "log_retention"),
        ("connect", "plugins_installed"),
        ("connect", "running"),
        ("connect", "config_matches_spec"),
        ("connect", "redo_log_topic_single_partition"),
        ("connect", "consumer_lag"),
        ("ksqldb", "query_running"),
        ("ksqldb", "matches_spec"),
        ("redis", "matches_oracle"),
        ("redis", "fresh"),
    ]:
        assert want in names, want


def test_redis_data_checks_are_one_multi_check_per_keyspace():
    # one read of Redis serves both checks: they share one AssetChecksDefinition
    redis = [
        c
        for c in defs.asset_checks
        if any(k.asset_key.path[0] == "redis" for k in c.check_keys) and any(k.name.startswith("matches_") for k in c.check_keys)
    ]
    assert len(redis) == 1
    # the persistence finding is a check of its own (it reads INFO, not the keys)
    assert {k.name for c in defs.asset_checks for k in c.check_keys if k.asset_key.path[0] == "redis"} == {
        "matches_oracle",
        "fresh",
        "persistence",
    }
    assert {(tuple(k.asset_key.path), k.name) for k in redis[0].check_keys} == {
        (("redis", "USER_AGGREGATE_EVENTS"), "matches_oracle"),
        (("redis", "USER_AGGREGATE_EVENTS"), "fresh"),
    }
    specs = {s.name: s for s in redis[0].check_specs}
    assert specs["matches_oracle"].blocking and not specs["fresh"].blocking

    # the data checks run in data_quality, not in provision_pipeline
    def check_names(job):
        return {k.name for k in defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys}

    assert {"matches_oracle", "fresh"} <= check_names("data_quality")
    assert not {"matches_oracle", "fresh"} & check_names("provision_pipeline")
    assert "archivelog_mode" in check_names("provision_pipeline")


def test_sensors_and_schedules():
    assert {s.name for s in defs.sensors} == {
        "connector_health",
        "ksqldb_health",
        "data_quality_trigger",
        "redis_rebuild",
        "alert_on_run_failure",
    }
    assert {s.name for s in defs.schedules} == {"hourly_data_quality", "daily_plan"}
    health = next(s for s in defs.sensors if s.name == "connector_health")
    assert health.default_status == dg.DefaultSensorStatus.RUNNING and health.minimum_interval_seconds == 30


def test_a_second_aggregate_is_a_spec_edit(monkeypatch):
    from pathlib import Path

    spec = load_spec(Path(__file__).resolve().parents[1] / "specs" / "three_tables.yaml")
    d = build_definitions(spec)
    keys = {k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys()}
    assert sum(k.startswith("oracle/table/") for k in keys) == 3
    assert sum(k.startswith("redis/") for k in keys) == 2


def test_code_version_follows_the_spec():
    import yaml

    from pipeline_defs.lineage import build_lineage as lineage
    from pipeline_defs.spec import default_spec_path, parse_spec

    doc = yaml.safe_load(default_spec_path().read_text())
    base = parse_spec(yaml.safe_dump(doc), "pipeline.yaml")
    doc["sinks"][0]["tasks_max"] = 2
    edited = parse_spec(yaml.safe_dump(doc), "edited.yaml")
    a = {n.key: n.code_version for n in lineage(base).nodes}
    b = {n.key: n.code_version for n in lineage(edited).nodes}
    # the sink and the Redis keyspace it writes (whose version covers the sink's settings); nothing upstream
    assert [k for k in a if a[k] != b[k]] == [("connect", "redis-sink-json"), ("redis", "USER_AGGREGATE_EVENTS")]


def test_local_instance_config_loads(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.get()
    limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    assert limits == [{"key": "cdc/connector", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    assert instance.run_monitoring_enabled
