"""redis_rebuild: the sensor that requests rebuild_redis when a sink's data check failed.

How it learns the check failed: it reads the latest stored evaluation of ``matches_<source>`` for
every Redis keyspace from the instance's event log
(``instance.event_log_storage.get_latest_asset_check_execution_by_key``), one indexed query per
tick, and never runs the comparison itself: the comparison reads every key and the source's counts,
which is the data check's job (data_quality, data_quality_trigger, the hourly schedule). The
evaluation's mismatch table names the problems; its storage id tells a new evaluation from one
already acted on. The decisions are rebuild_decisions.decide_rebuild.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage
from pipeline_defs.settings import settings
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import CONNECTOR_TAG, in_flight
from pipeline_defs.systems.redis import rebuild_decisions as rd
from pipeline_defs.systems.redis.checks import DATA_CHECK_PREFIX

SENSOR_NAME = "redis_rebuild"


# the checks that say whether a hop before Redis runs: a connector and its tasks RUNNING (connect), the
# engine's job or persistent query RUNNING (flink, ksqldb)
UPSTREAM_HEALTH_CHECKS = ("running", "job_running", "query_running")


def upstream_check_keys(lineage: Lineage, key: Any) -> list[dg.AssetCheckKey]:
    """The health checks of every asset upstream of the keyspace `key` (keys without such a check are
    simply absent from the event log)."""
    seen: set = set()
    todo = list(lineage.deps(key))
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo += lineage.deps(k)
    return [dg.AssetCheckKey(dg.AssetKey(list(k)), name) for k in sorted(seen) for name in UPSTREAM_HEALTH_CHECKS]


def observation(record: Any, upstream: dict[Any, Any] | None = None) -> rd.CheckObservation | None:
    """A stored check execution -> what the decision needs; None while it is only planned. `upstream`: the
    latest execution of each upstream health check."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as S

    if record is None or record.status not in (S.SUCCEEDED, S.FAILED) or record.event is None:
        return None
    ev = record.event.dagster_event.event_specific_data if record.event.dagster_event else None
    md = dict(getattr(ev, "metadata", None) or {})
    table = md.get("mismatch_table")
    rows = getattr(table, "records", None) or []
    problems = tuple(sorted({str(r.data.get("problem")) for r in rows}))
    passed = bool(getattr(ev, "passed", record.status == S.SUCCEEDED))
    lag_only = bool(rows) and all(_short_of_source(r.data) for r in rows)
    failed = tuple(sorted(k.to_user_string() for k, r in (upstream or {}).items() if r is not None and r.status == S.FAILED))
    pending = tuple(sorted(k.to_user_string() for k, r in (upstream or {}).items() if r is not None and r.status == S.PLANNED))
    return rd.CheckObservation(int(record.id), passed, problems, rd.REBUILD_MARK in md, failed, pending, lag_only)


def _short_of_source(row: dict) -> bool:
    problem = row.get("problem")
    if problem in ("missing_in_redis", "behind"):
        return True
    if problem != "count":
        return False
    try:
        return int(row.get("redis_count")) < int(row.get("source_count"))
    except (TypeError, ValueError):
        return False


def build_rebuild_sensor(
    spec: Any,
    lineage: Lineage,
    *,
    policy: HealthPolicy | None = None,
    clock: Callable[[], float] = time.time,
    interval_seconds: int | None = None,
) -> dg.SensorDefinition:
    policy = policy or HealthPolicy.from_env()
    # one indexed read of the event log per tick: cheap enough to tick like the other health sensors
    interval_seconds = interval_seconds or policy.interval_seconds
    lag_grace = settings().rebuild_lag_grace_seconds
    check = DATA_CHECK_PREFIX + registry.source_of(spec).kind
    nodes = {n.desired.sink: n for n in lineage.by_kind("redis_keys")}
    keys = {sink: dg.AssetCheckKey(dg.AssetKey(list(n.key)), check) for sink, n in nodes.items()}
    upstream = {sink: upstream_check_keys(lineage, n.key) for sink, n in nodes.items()}
    every_key = list(keys.values()) + sorted({k for ks in upstream.values() for k in ks}, key=lambda k: k.to_user_string())

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name="rebuild_redis",
        description=f"When {check} fails with keys missing or counts wrong, request rebuild_redis for that sink "
        "(the connectors' backoff; one incident when attempts are spent or a rebuild's re-check fails).",
    )
    def redis_rebuild(context: dg.SensorEvaluationContext):
        memory = rd.RebuildMemory.from_cursor(context.cursor)
        latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(every_key)
        now = clock()
        requests, events, notes = [], [], []
        for sink, key in keys.items():
            mem = memory.sinks.setdefault(sink, rd.SinkMemory())
            obs = observation(latest.get(key), {k: latest.get(k) for k in upstream[sink]})
            if obs is not None and not obs.passed and in_flight(context.instance, sink):
                notes.append(f"{sink}: a run acts on it")
                continue  # judged on the next tick, after that run
            d = rd.decide_rebuild(sink, obs, mem, now, policy, lag_grace)
            notes.append(f"{sink}: {d.reason}")
            tags = {CONNECTOR_TAG: sink, "cdc/reason": d.reason}
            if d.action == "rebuild":
                requests.append(
                    dg.RunRequest(
                        run_key=f"rebuild:{sink}:{obs.record_id}:{d.attempt}",
                        job_name="rebuild_redis",
                        tags=tags,
                        run_config={"ops": {"rebuild": {"config": {"sinks": [sink]}}}},
                    )
                )
            elif d.action == "incident":
                what = (
                    f"{sink}: {check} still fails after {d.attempt} rebuild(s) ({', '.join(d.detail.get('problems', []))}): "
                    "automatic rebuilds stopped, needs a person"
                )
                events.append(
                    dg.AssetCheckEvaluation(
                        asset_key=key.asset_key,
                        check_name=check,
                        passed=False,
                        severity=dg.AssetCheckSeverity.ERROR,
                        description=what,
                        metadata={"rebuilds": d.attempt, rd.REBUILD_MARK: "sensor"},
                    )
                )
                requests.append(
                    dg.RunRequest(
                        run_key=f"rebuild:{sink}:{obs.record_id}:incident",
                        job_name="rebuild_redis",
                        tags=tags,
                        run_config={"ops": {"rebuild": {"config": {"sinks": [sink], "incident": what}}}},
                    )
                )
        return dg.SensorResult(
            run_requests=requests,
            asset_events=events,
            cursor=memory.to_cursor(),
            skip_reason=None if requests or events else "; ".join(notes) or "no Redis sink",
        )

    return redis_rebuild
