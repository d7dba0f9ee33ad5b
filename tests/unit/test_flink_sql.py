"""The Flink SQL engine package: spec validation, compiled SQL for the seed objects, job identity, and the
pure provisioning/health decisions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from pipeline_defs.core.types import Neutral
from pipeline_defs.systems.flink import decisions
from pipeline_defs.systems.flink.spec import FlinkEngine, flink_duration
from pipeline_defs.systems.flink.sql import (
    CompileError,
    SourceColumn,
    SourceTable,
    compile_job,
    parse_job_name,
    statement_hash,
)

pytestmark = pytest.mark.unit

TOPIC = "cdc.public.POC_CLICKSTREAM"
SEED_COLUMNS = (
    SourceColumn("EVENTID", Neutral.STRING),
    SourceColumn("ID", Neutral.STRING),
    SourceColumn("NAME", Neutral.STRING),
    SourceColumn("SESSIONID", Neutral.STRING),
    SourceColumn("EVENTTYPE", Neutral.STRING),
    SourceColumn("PAGEURL", Neutral.STRING),
    SourceColumn("EVENTTIMESTAMP", Neutral.TIMESTAMP),
)


def resolve(table: str) -> SourceTable:
    assert table == "POC_CLICKSTREAM"
    return SourceTable(TOPIC, SEED_COLUMNS, ("EVENTID",))


def seed_engine(**overrides) -> dict:
    agg = {"from": "POC_CLICKSTREAM_STREAM", "group_by": "NAME", "window": {"size": "1 MINUTE", "grace": "1 MINUTE"}}
    agg.update(overrides.pop("aggregate", {}))
    return {
        "kind": "flink",
        "objects": [
            {"name": "POC_CLICKSTREAM_STREAM", "source": {"table": "POC_CLICKSTREAM"}, "timestamp": "EVENTTIMESTAMP"},
            {"name": "USER_AGGREGATE_EVENTS", "aggregate": agg},
        ],
        **overrides,
    }


def seed_job(**overrides):
    return compile_job(FlinkEngine.model_validate(seed_engine(**overrides)), "USER_AGGREGATE_EVENTS", resolve, "127.0.0.1:9092")


SEED_INSERT = """INSERT INTO `USER_AGGREGATE_EVENTS`
SELECT `NAME`, COUNT(*) AS `EVENT_COUNT`, `__window_start` AS `WINDOW_START`, `__window_start` + 60000 AS `WINDOW_END`
FROM (
  SELECT * FROM (
    SELECT `EVENTID`, `NAME`, `EVENTTIMESTAMP` / 60000 * 60000 AS `__window_start`, `__op`, `__deleted`,
      ROW_NUMBER() OVER (PARTITION BY `EVENTID` ORDER BY `__proc_time` DESC) AS `__row_num`
    FROM (
      SELECT `EVENTID`, `NAME`, `EVENTTIMESTAMP`, `__op`, `__deleted`, `__proc_time`,
        MAX(`EVENTTIMESTAMP`) OVER (ORDER BY `__proc_time` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS `__stream_time`
      FROM `POC_CLICKSTREAM_STREAM` /*+ OPTIONS('properties.group.id' = 'cdc-flink-USER_AGGREGATE_EVENTS') */
      WHERE `EVENTID` IS NOT NULL
    )
    WHERE `EVENTTIMESTAMP` IS NULL OR `EVENTTIMESTAMP` / 60000 * 60000 + 120000 > `__stream_time`
  )
  WHERE `__row_num` = 1
)
WHERE `__deleted` IS DISTINCT FROM 'true' AND `__op` IS DISTINCT FROM 'd'
  AND `NAME` IS NOT NULL AND `__window_start` IS NOT NULL
GROUP BY `NAME`, `__window_start`"""

SEED_SOURCE = """CREATE TABLE `POC_CLICKSTREAM_STREAM` (
  `EVENTID` STRING,
  `ID` STRING,
  `NAME` STRING,
  `SESSIONID` STRING,
  `EVENTTYPE` STRING,
  `PAGEURL` STRING,
  `EVENTTIMESTAMP` BIGINT,
  `__op` STRING,
  `__deleted` STRING,
  `__proc_time` AS PROCTIME()
) WITH (
  'connector' = 'kafka',
  'topic' = 'cdc.public.POC_CLICKSTREAM',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json',
  'json.fail-on-missing-field' = 'false',
  'json.ignore-parse-errors' = 'false'
)"""

SEED_SINK = """CREATE TABLE `USER_AGGREGATE_EVENTS` (
  `NAME` STRING NOT NULL,
  `EVENT_COUNT` BIGINT NOT NULL,
  `WINDOW_START` BIGINT NOT NULL,
  `WINDOW_END` BIGINT NOT NULL,
  PRIMARY KEY (`NAME`, `WINDOW_START`) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'USER_AGGREGATE_EVENTS',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'key.format' = 'json',
  'value.format' = 'json',
  'value.fields-include' = 'ALL'
)"""


def test_seed_compiles_to_the_documented_sql():
    job = seed_job()
    assert job.ddl == (SEED_SOURCE, SEED_SINK)
    assert job.insert == SEED_INSERT
    assert job.sql == f"{SEED_SOURCE};\n\n{SEED_SINK};\n\n{SEED_INSERT};"
    assert job.output_topic == "USER_AGGREGATE_EVENTS"
    assert dict(job.properties) == {
        "parallelism.default": "1",
        "execution.buffer-timeout.interval": "10 ms",
        "execution.checkpointing.interval": "5 s",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "table.exec.state.ttl": "61 min",  # 60 windows of 1 minute + 1 minute grace
        "table.exec.sink.not-null-enforcer": "DROP",
        "table.exec.mini-batch.enabled": "true",
        "table.exec.mini-batch.allow-latency": "100 ms",
        "table.exec.mini-batch.size": "1000",
    }


def test_job_name_embeds_object_hash_and_shape():
    job = seed_job()
    assert job.name == f"cdc:USER_AGGREGATE_EVENTS:{job.hash[:12]}:{job.shape_hash}-w60000"
    parsed = parse_job_name(job.name)
    assert parsed == ("USER_AGGREGATE_EVENTS", job.hash[:12], job.shape_hash, 60000)
    assert parse_job_name("insert-into_default_catalog.default_database.X") is None


def test_hash_is_stable_and_follows_sql_and_properties():
    a, b = seed_job(), seed_job()
    assert a.hash == b.hash == statement_hash(a.sql, a.properties)
    bigger = seed_job(aggregate={"window": {"size": "2 MINUTES", "grace": "1 MINUTE"}})
    assert bigger.hash != a.hash and "/ 120000 * 120000" in bigger.insert
    assert bigger.shape_hash != a.shape_hash
    # grace changes the job but not the shape of its state
    graced = seed_job(aggregate={"window": {"size": "1 MINUTE", "grace": "5 MINUTES"}})
    assert graced.hash != a.hash and graced.shape_hash == a.shape_hash
    assert seed_job(settings={"checkpoint_interval": "10 SECONDS"}).hash != a.hash
    assert statement_hash(a.sql, {**a.properties, "x": "1"}) != a.hash


def test_settings_render_flink_durations_and_extra_properties_win():
    job = seed_job(
        settings={
            "mini_batch": False,
            "state_ttl": "2 HOURS",
            "not_null_enforcer": "ERROR",
            "properties": {"table.exec.state.ttl": "3 h", "pipeline.max-parallelism": 16},
        }
    )
    p = dict(job.properties)
    assert p["table.exec.mini-batch.enabled"] == "false" and "table.exec.mini-batch.allow-latency" not in p
    assert p["table.exec.state.ttl"] == "3 h" and p["pipeline.max-parallelism"] == "16"
    assert p["table.exec.sink.not-null-enforcer"] == "ERROR"
    assert [flink_duration(ms) for ms in (250, 5000, 90_000, 3_600_000)] == ["250 ms", "5 s", "90 s", "1 h"]


def test_declared_columns_and_key_override_the_source_table():
    spec = seed_engine()
    spec["objects"][0].update(
        columns=[{"name": "EVENTID", "type": "string"}, {"name": "NAME", "type": "STRING"}, {"name": "EVENTTIMESTAMP", "type": "BIGINT"}],
        key=["EVENTID"],
    )
    job = compile_job(FlinkEngine.model_validate(spec), "USER_AGGREGATE_EVENTS", lambda t: SourceTable(TOPIC, (), ()), "k:9092")
    assert "`PAGEURL`" not in job.ddl[0] and "`EVENTID` STRING" in job.ddl[0]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"aggregate": {"window": {"size": "1 FORTNIGHT"}}}, "is not a valid duration"),
        ({"aggregate": {"window": {"size": "0 MINUTES"}}}, "must be a positive duration"),
        ({"aggregate": {"window": {"size": 60}}}, "is not a valid duration"),
        ({"aggregate": {"group_by": "NAME`; DROP TABLE x"}}, "is not a valid Flink SQL identifier"),
        ({"aggregate": {"group_by": "__op"}}, "reserved for CDC metadata"),
        ({"aggregate": {"count_as": "NAME"}}, "output column names must differ: NAME"),
        ({"aggregate": {"from": "NOPE"}}, "aggregate.from 'NOPE' is not an object of this engine"),
        ({"kind": "ksqldb"}, "Input should be 'flink'"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"settings": {"properties": {"a.b": "x'y"}}}, "is not a valid Flink configuration value"),
        ({"settings": {"properties": {"bad key": "x"}}}, "is not a valid Flink configuration key"),
        ({"settings": {"parallelism": 0}}, "greater than or equal to 1"),
    ],
)
def test_invalid_specs_get_clear_errors(patch, message):
    spec = seed_engine()
    agg_patch = patch.pop("aggregate", None)
    if agg_patch:
        agg = spec["objects"][1]["aggregate"]
        for k, v in agg_patch.items():
            agg[k] = {**agg[k], **v} if isinstance(v, dict) else v
    spec.update(patch)
    with pytest.raises(ValidationError) as err:
        FlinkEngine.model_validate(spec)
    assert message in str(err.value)


def test_source_object_needs_timestamp_and_one_origin():
    spec = seed_engine()
    del spec["objects"][0]["timestamp"]
    with pytest.raises(ValidationError, match="needs 'timestamp'"):
        FlinkEngine.model_validate(spec)
    spec = seed_engine()
    spec["objects"][1]["source"] = {"table": "POC_CLICKSTREAM"}
    with pytest.raises(ValidationError, match="exactly one of 'source'"):
        FlinkEngine.model_validate(spec)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (SourceTable(TOPIC, SEED_COLUMNS, ()), "has no primary key"),
        (SourceTable(TOPIC, tuple(c for c in SEED_COLUMNS if c.name != "NAME"), ("EVENTID",)), "group_by column 'NAME' is not a column"),
        (
            SourceTable(TOPIC, tuple(SourceColumn(c.name, Neutral.STRING) for c in SEED_COLUMNS), ("EVENTID",)),
            r"must be epoch milliseconds \(BIGINT\)",
        ),
        (SourceTable(TOPIC, (*SEED_COLUMNS, SourceColumn("__x", Neutral.STRING)), ("EVENTID",)), "reserved for CDC"),
        (SourceTable(TOPIC, (*SEED_COLUMNS, SourceColumn("X", "JSONB")), ("EVENTID",)), "not a neutral type"),
    ],
)
def test_compile_errors_name_object_and_column(table, message):
    engine = FlinkEngine.model_validate(seed_engine())
    with pytest.raises(CompileError, match=message):
        compile_job(engine, "USER_AGGREGATE_EVENTS", lambda t: table, "k:9092")
    with pytest.raises(CompileError, match="source object has no job"):
        compile_job(engine, "POC_CLICKSTREAM_STREAM", resolve, "k:9092")
    with pytest.raises(CompileError, match="bootstrap servers"):
        compile_job(engine, "USER_AGGREGATE_EVENTS", resolve, "a'b")


# ------------------------------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class J:
    jid: str
    name: str
    state: str
    start_time: int | None = None


def test_compatibility_explains_window_and_shape_changes():
    job = seed_job()
    assert decisions.compatibility(seed_job(aggregate={"window": {"size": "1 MINUTE", "grace": "9 MINUTES"}}).name, job).compatible
    bigger = seed_job(aggregate={"window": {"size": "2 MINUTES", "grace": "1 MINUTE"}})
    c = decisions.compatibility(bigger.name, job)
    assert not c.compatible and "window size changed (120000 ms -> 60000 ms)" in c.reason
    c = decisions.compatibility(seed_job(settings={"mini_batch": False}).name, job)
    assert not c.compatible and "state shape changed" in c.reason
    assert not decisions.compatibility("some-other-job", job).compatible


def test_health_decisions():
    job = seed_job()
    old = seed_job(aggregate={"window": {"size": "2 MINUTES", "grace": "1 MINUTE"}})
    running = J("a1", job.name, "RUNNING", 5)
    assert decisions.health_decision(job, [running], {}).action == "ok"
    assert decisions.health_decision(job, [J("a1", job.name, "RESTARTING", 5)], {}).action == "wait"
    assert decisions.health_decision(job, [J("a0", old.name, "RUNNING", 5)], {}).action == "stale"
    # nothing ran: start fresh
    d = decisions.health_decision(job, [], {})
    assert d.action == "resubmit" and d.restore_path is None and "no previous job" in d.reason
    # the newest terminated job is ours and left a checkpoint: resume from it (not from an older one)
    hist = [J("c2", job.name, "CANCELED", 9), J("c1", job.name, "FAILED", 3)]
    d = decisions.health_decision(job, hist, {"c2": "file:///ck/c2/chk-7", "c1": "file:///ck/c1/chk-1"})
    assert (d.action, d.restore_path, d.job_id) == ("resubmit", "file:///ck/c2/chk-7", "c2")
    assert "CANCELED" in d.reason
    d = decisions.health_decision(job, hist, {"c2": None})
    assert d.restore_path is None and "left no checkpoint" in d.reason
    d = decisions.health_decision(job, [J("x", old.name, "FAILED", 9)], {"x": "file:///ck/x"})
    assert d.restore_path is None and "window size changed" in d.reason
    assert decisions.jobs_of([J("z", "insert-into_x", "RUNNING"), *hist], job.object_name) == hist


def test_a_running_job_counts_as_running_only_when_every_task_runs():
    from types import SimpleNamespace as NS

    from pipeline_defs.systems.flink.jobs import SCHEDULING, job_state, wait_running

    def details(state, *statuses):
        return NS(state=state, vertices=tuple(NS(status=s) for s in statuses))

    assert job_state(details("RUNNING", "RUNNING", "RUNNING")) == "RUNNING"
    # Flink switches the job to RUNNING before its tasks have task slots; with none free it restarts for ever
    assert job_state(details("RUNNING", "SCHEDULED", "RUNNING")) == SCHEDULING
    assert job_state(details("RESTARTING", "CANCELED")) == "RESTARTING"

    answers = iter([details("RUNNING", "SCHEDULED"), details("RUNNING", "DEPLOYING"), details("RUNNING", "RUNNING")])
    jobs = NS(job=lambda _jid: next(answers))
    assert wait_running(jobs, "j", 10, sleep=lambda _s: None, clock=lambda: 0.0) == "RUNNING"
    stuck = NS(job=lambda _jid: details("RUNNING", "SCHEDULED"))
    ticks = iter(range(100))
    assert wait_running(stuck, "j", 5, sleep=lambda _s: None, clock=lambda: float(next(ticks))) == SCHEDULING
