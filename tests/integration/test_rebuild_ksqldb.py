"""rebuild_redis on the compose pipeline (Oracle double -> Confluent Oracle CDC double in the real Connect
worker -> Kafka -> the ksqlDB double over real Kafka -> redis-kafka-connect double -> Redis): when the
aggregate topic lost the data, the ksqlDB engine's path terminates the query, drops and creates the
aggregate table again from the earliest CDC records, and the sink replays; when the CDC topic itself was
cut (retention), the redis_rebuild sensor ends in one incident naming what cannot be rebuilt."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from confluent_kafka import TopicPartition

from pipeline_defs.core import registry
from pipeline_defs.systems.oracle.connectors import topic_for
from tests.integration.pipeline_env import SINK, checks, pipeline_env, run

pytestmark = pytest.mark.integration
AGG = "USER_AGGREGATE_EVENTS"
PREFIX = f"{AGG}:"
MATCHES = f"redis/{AGG}:matches_oracle"


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    yield from pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)


def data_check(env):
    result = run(env, "data_quality")
    return checks(result)[MATCHES]


def docs(env) -> dict:
    return {k: v for k, v in env.redis.read_prefix(PREFIX).items() if isinstance(v, dict)}


def agg_queries(env) -> dict[str, str]:
    return {q.id: q.state for q in env.ksql.queries.values() if q.sink == AGG}


def tick(env, cursor):
    sensor = env.defs.resolve_sensor_def("redis_rebuild")
    with dg.build_sensor_context(instance=env.instance, cursor=cursor) as sctx:
        data = sensor.evaluate_tick(sctx)
    return data.run_requests or [], data.cursor, data.skip_message


def rebuild_evaluations(result):
    return [e for e in result.get_asset_check_evaluations() if e.check_name == "matches_oracle"]


def ksql_statements(env, since: int) -> list[str]:
    return [" ".join(r.json().get("ksql", "").split()) for r in env.ksql.requests[since:] if r.method == "POST" and r.path == "/ksql"]


def test_1_topic_lost_the_engine_rebuilds_it_and_the_sink_replays(env):
    assert run(env, "provision_pipeline").success
    assert run(env, "seed_demo_events").success
    deadline = time.monotonic() + 120
    while not (ev := data_check(env)).passed and time.monotonic() < deadline:
        time.sleep(2)
    assert ev.passed, ev.metadata
    before = docs(env)
    assert {f"{PREFIX}jdoe", f"{PREFIX}rsmith", f"{PREFIX}amary"} <= set(before)
    [old_id] = agg_queries(env)

    assert env.kafka.delete_topic(AGG)
    env.redis.r.delete(f"{PREFIX}rsmith")
    env.redis.r.execute_command("JSON.SET", f"{PREFIX}jdoe", "$.EVENT_COUNT", "999")
    mark = len(env.ksql.requests)
    result = run(env, "rebuild_redis", run_config={"ops": {"rebuild": {"config": {"sinks": [SINK]}}}})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    [row] = [r.data for r in _sinks_table(result).records]
    assert row["action"] == "engine_rebuilt", row
    assert f"terminated {old_id}" in row["detail"] and "from the earliest offset with empty state" in row["detail"]
    stmts = ksql_statements(env, mark)
    assert [s.split()[0] for s in stmts if s.split()[0] in ("TERMINATE", "DROP", "CREATE")] == ["TERMINATE", "DROP", "CREATE"], stmts
    assert f"TERMINATE {old_id}" in stmts[[s.split()[0] for s in stmts].index("TERMINATE")]
    queries = agg_queries(env)
    assert list(queries.values()) == ["RUNNING"] and old_id not in queries  # one new query, the old one gone
    [after_ev] = rebuild_evaluations(result)
    assert after_ev.passed
    assert docs(env) == before


def _sinks_table(result):
    for ev in result.all_events:
        if ev.event_type_value == "STEP_OUTPUT" and ev.step_key == "rebuild":
            md = ev.event_specific_data.metadata
            if "sinks" in md:
                return md["sinks"].value
    raise AssertionError("rebuild reported no sinks table")


def _truncate(kafka, topic: str) -> dict[int, int]:
    """What retention does to a topic: every record so far deleted (DeleteRecords to the high watermark)."""
    marks = dict(kafka.topic_counts([topic])[topic].watermarks)
    futs = kafka._admin.delete_records([TopicPartition(topic, p, hi) for p, (_, hi) in marks.items()])
    for f in futs.values():
        f.result(timeout=30)
    return {p: hi for p, (_, hi) in marks.items()}


def test_2_cdc_topic_cut_by_retention_is_one_incident(env):
    before_ids = agg_queries(env)
    _, cursor, _ = tick(env, None)
    cdc = topic_for(env.spec.source, "POC_CLICKSTREAM")
    cut = _truncate(env.kafka, cdc)
    assert all(hi > 0 for hi in cut.values())
    assert env.kafka.delete_topic(AGG)
    time.sleep(2)
    env.redis.r.execute_command("JSON.SET", f"{PREFIX}amary", "$.EVENT_COUNT", "77")
    assert not data_check(env).passed

    [rr], cursor, _ = tick(env, cursor)
    assert rr.job_name == "rebuild_redis"
    result = env.defs.resolve_job_def(rr.job_name).execute_in_process(
        instance=env.instance, raise_on_error=False, run_config=rr.run_config, tags=rr.tags
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = failure.event_specific_data.error.message
    assert f"the aggregate topic {AGG} does not exist" in text or f"the aggregate topic {AGG} is empty" in text, text
    assert f"the CDC topic {cdc} was truncated" in text and "the engine could not rebuild it" in text, text
    assert "not rebuilt: the window of amary starting " in text, text  # precisely what stays wrong
    [ev] = rebuild_evaluations(result)
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    assert {r.data["problem"] for r in ev.metadata["mismatch_table"].records} == {"count"}

    # the engine's own refusal, through the plug-in interface, names the topic, its reader and the cut, and drops nothing
    agg = next(a for a in registry.engine_of(env.spec).aggregates(env.spec) if a.name == AGG)
    with dg.build_resources(env.resources) as res, pytest.raises(registry.CannotRebuild) as refused:
        registry.engine_of(env.spec).rebuild_from_source(env.spec, agg, res)
    msg = str(refused.value)
    assert f"the CDC topic {cdc} (read by POC_CLICKSTREAM_STREAM) lost its records before offset p0:{cut[0]}" in msg, msg
    assert f"every {AGG} window counting those records would come out short" in msg
    assert agg_queries(env) == before_ids  # nothing terminated or dropped

    # one incident, not a loop: the failed re-check is the incident; further failing checks request nothing
    for _ in range(2):
        requests, cursor, skip = tick(env, cursor)
        assert requests == [], skip
        assert not data_check(env).passed
    requests, cursor, skip = tick(env, cursor)
    assert requests == [] and "exhausted" in skip, skip
