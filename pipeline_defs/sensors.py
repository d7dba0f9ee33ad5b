"""Sensors and schedules: watch connector and query health, heal, and keep the data checked.

- connector_health: one Connect listing per tick -> re-register (missing, drift), restart (FAILED,
  stuck sink) with backoff, raise the incident loudly once restarts are spent, warn on growing lag.
- ksqldb_health: a persistent query missing or not RUNNING -> recreate it in dependency order.
- data_quality_trigger: the aggregate topic or the sink's progress advanced -> run the data checks,
  at most once per interval.
- alert_on_run_failure: a structured alert in the log and to an optional webhook, secrets redacted.
"""

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
from resources._lazy import lazy_import

httpx = lazy_import("httpx")

from pipeline_defs import derive, provision
from pipeline_defs.derive import Lineage
from pipeline_defs.healing import Decision, HealthPolicy, Memory, decide
from pipeline_defs.spec import PipelineSpec
from resources.connect import ConnectError, KafkaConnectResource
from resources.errors import ResourceError
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.redaction import env_secret_values, scrub

log = logging.getLogger(__name__)

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
ALERT_WEBHOOK_ENV = "CDC_ALERT_WEBHOOK_URL"


def desired_configs(spec: PipelineSpec) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Rendered configs to compare with the live ones, and keys to leave out of the comparison:
    where a secret is not in this process's environment, its key cannot be judged."""
    out, ignore = {}, set()
    for name, cfg in derive.connector_configs(spec).items():
        try:
            out[name] = provision.rendered_connector_config(spec, name)
        except KeyError:  # derive.MissingSecret
            secret_keys = derive.sensitive_keys(cfg)
            ignore |= secret_keys
            out[name] = {k: v for k, v in cfg.items() if k not in secret_keys}
    return out, ignore


CONNECTOR_JOBS = {"reregister_connectors": "reregister", "restart_connectors": "restart"}  # job -> its op


def _in_flight(instance: dg.DagsterInstance, connector: str) -> bool:
    """A queued or running run acts on this connector: one tagged with it (the sensor's), or a
    manual run of a connector job, whose run config may name any connector."""
    if instance.get_run_records(dg.RunsFilter(tags={"cdc/connector": connector}, statuses=IN_FLIGHT), limit=1):
        return True
    manual = instance.get_run_records(dg.RunsFilter(job_name=None, statuses=IN_FLIGHT), limit=50)
    for rec in manual:
        run = rec.dagster_run
        if run.job_name in CONNECTOR_JOBS and "cdc/connector" not in run.tags:
            op = CONNECTOR_JOBS[run.job_name]
            wanted = (run.run_config or {}).get("ops", {}).get(op, {}).get("config", {}).get("connectors") or []
            if not wanted or connector in wanted:
                return True
    return False


def _check_eval(node_key: tuple[str, ...], check: str, passed: bool, severity: dg.AssetCheckSeverity,
                metadata: dict[str, Any], description: str) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(list(node_key)), check_name=check, passed=passed,
                                   severity=severity, metadata=metadata, description=description)


def build_connector_health_sensor(spec: PipelineSpec, lineage: Lineage, *, policy: HealthPolicy | None = None,
                                  clock: Callable[[], float] = time.time) -> dg.SensorDefinition:
    policy = policy or HealthPolicy.from_env()
    nodes = {n.name: n for n in lineage.nodes if n.kind in ("source_connector", "sink_connector")}
    sinks = [n for n, node in nodes.items() if node.kind == "sink_connector"]

    @dg.sensor(
        name="connector_health",
        minimum_interval_seconds=policy.interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name="reregister_connectors",
        jobs=None,
        description="Watches every spec connector with one Connect request per tick; re-registers missing or drifted "
                    "connectors, restarts failed ones with backoff, raises the incident after the last restart, flags growing sink lag.",
    )
    def connector_health(context: dg.SensorEvaluationContext, connect: KafkaConnectResource, kafka: KafkaResource):
        memory = Memory.from_cursor(context.cursor)
        client = connect.get_probe_client()
        try:
            listing = client.connectors_expanded()
        except ConnectError as e:
            # the cursor is left as it was: backoff clocks keep running from the last real observation
            return dg.SkipReason(f"Kafka Connect at {connect.url} unreachable: {e}")
        finally:
            client.close()
        desired, ignore = desired_configs(spec)
        if ignore:
            listing = {n: {**e, "info": {**(e.get("info") or {}),
                                         "config": {k: v for k, v in ((e.get("info") or {}).get("config") or {}).items() if k not in ignore}}}
                       for n, e in listing.items()}
        lags: dict[str, int | None] = {}
        kc = kafka.get_client()
        for name in sinks:
            state = ((listing.get(name) or {}).get("status") or {}).get("connector", {}).get("state")
            if state != "RUNNING":
                continue
            try:
                lag = kc.consumer_group_lag(f"connect-{name}")
                lags[name] = lag.total if lag.per_partition else None
            except ResourceError as e:
                context.log.warning(f"lag of connect-{name} unknown: {e}")
                lags[name] = None
        decisions = decide(desired, listing, lags, memory, clock(), policy)
        run_requests, events = [], []
        for d in decisions:
            rr, ev = _to_requests(d, nodes, context, policy)
            run_requests += rr
            events += ev
        acted = [f"{d.connector}: {d.action} ({d.reason})" for d in decisions if d.action != "none"]
        if acted:
            context.log.info("; ".join(acted))
        return dg.SensorResult(run_requests=run_requests, asset_events=events, cursor=memory.to_cursor(),
                               skip_reason=None if run_requests or events else
                               "all connectors healthy" if all(d.reason == "healthy" for d in decisions)
                               else "; ".join(f"{d.connector}: {d.reason}" for d in decisions if d.reason != "healthy"))

    return connector_health


def _to_requests(d: Decision, nodes, context, policy: HealthPolicy):
    node = nodes[d.connector]
    tags = {"cdc/connector": d.connector, "cdc/reason": d.reason}
    if d.action in ("reregister", "restart") and _in_flight(context.instance, d.connector):
        context.log.info(f"{d.connector}: {d.action} wanted, but a run for it is already queued or running")
        return [], []
    if d.action == "reregister":
        return [dg.RunRequest(run_key=f"{d.connector}:{d.incident}", job_name="reregister_connectors", tags=tags,
                              run_config={"ops": {"reregister": {"config": {"connectors": [d.connector]}}}})], []
    if d.action == "restart":
        only_failed = d.reason == "failed"
        return [dg.RunRequest(run_key=f"{d.connector}:{d.incident}", job_name="restart_connectors", tags=tags,
                              run_config={"ops": {"restart": {"config": {"connectors": [d.connector], "include_tasks": True,
                                                                         "only_failed": only_failed}}}})], []
    if d.action == "incident":
        # a connector's trace is foreign text: it may echo a config value, so scrub every known secret
        trace = scrub(str(d.detail.get("trace", "")), env_secret_values())[:4000]
        md = {"trace": dg.MetadataValue.md(f"```\n{trace}\n```"), "restarts": d.detail.get("restarts", 0),
              "incident": d.incident}
        ev = _check_eval(node.key, "running", False, dg.AssetCheckSeverity.ERROR, md,
                         f"{d.connector} still {d.reason} after {d.detail.get('restarts')} restarts: restarts stopped, needs a person")
        rr = dg.RunRequest(run_key=f"{d.connector}:{d.incident}:incident", job_name="connector_incident", tags=tags,
                           run_config={"ops": {"raise_incident": {"config": {
                               "connector": d.connector, "reason": d.reason, "restarts": int(d.detail.get("restarts", 0)),
                               "trace": trace}}}})
        return [rr], [ev]
    if d.action == "lag_warning":
        hist = d.detail.get("lag_history", [])
        md = {"lag": hist[-1] if hist else 0, "lag_history": dg.MetadataValue.json(hist)}
        return [], [_check_eval(node.key, "consumer_lag", False, dg.AssetCheckSeverity.WARN, md,
                                f"connect-{d.connector} lag grew over {len(hist)} ticks while the connector is RUNNING")]
    return [], []


def build_ksqldb_health_sensor(spec: PipelineSpec, interval_seconds: int = 60) -> dg.SensorDefinition:
    aggregates = [o.name for o in spec.ksqldb.objects if o.aggregate is not None]

    @dg.sensor(name="ksqldb_health", minimum_interval_seconds=interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING, job_name="repair_ksql_queries",
               description="A persistent query that is missing or not RUNNING gets a run that recreates it in dependency order.")
    def ksqldb_health(context: dg.SensorEvaluationContext, ksqldb: KsqlDbResource):
        client = ksqldb.get_client()
        try:
            queries = client.list_queries()
        except ResourceError as e:
            return dg.SkipReason(f"ksqlDB at {ksqldb.url} unreachable: {e}")
        finally:
            client.close()
        requests = []
        for name in aggregates:
            q = next((q for q in queries if name in q.sinks), None)
            if q is not None and q.is_running:
                continue
            state = "missing" if q is None else (q.state or "UNKNOWN")
            incident = f"{q.id if q else 'none'}:{state}"
            requests.append(dg.RunRequest(run_key=f"ksql:{name}:{incident}", job_name="repair_ksql_queries",
                                          tags={"cdc/ksql_object": name, "cdc/reason": state},
                                          run_config={"ops": {"repair_ksql": {"config": {"objects": [name]}}}}))
        if not requests:
            return dg.SkipReason(f"{len(aggregates)} persistent quer{'y' if len(aggregates) == 1 else 'ies'} RUNNING")
        return requests

    return ksqldb_health


def build_data_quality_sensor(spec: PipelineSpec, interval_seconds: int = 60,
                              min_run_interval_seconds: int | None = None,
                              clock: Callable[[], float] = time.time) -> dg.SensorDefinition:
    gap = min_run_interval_seconds if min_run_interval_seconds is not None else int(os.environ.get("CDC_DQ_MIN_INTERVAL_SECONDS", "300"))
    topics = sorted({derive.aggregate_topic(spec, s.object) for s in spec.sinks})
    groups = [f"connect-{s.name}" for s in spec.sinks]

    @dg.sensor(name="data_quality_trigger", minimum_interval_seconds=interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING, job_name="data_quality",
               description=f"When the aggregate topic or the sink's progress advances, run the data checks (at most every {gap}s).")
    def data_quality_trigger(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        state = json.loads(context.cursor) if context.cursor else {}
        kc = kafka.get_client()
        try:
            ends = {t: c.end_offset for t, c in kc.topic_counts(topics).items()}
            committed = {g: sum(kc.consumer_group_lag(g).per_partition.values()) for g in groups}
        except ResourceError as e:
            return dg.SkipReason(f"Kafka unreachable: {e}")
        signature = json.dumps({"topics": ends, "sink_lag": committed}, sort_keys=True)
        now = clock()
        if signature == state.get("signature"):
            return dg.SkipReason("no new aggregates since the last data-quality run")
        if now - state.get("last_run", 0) < gap:
            return dg.SkipReason(f"aggregates advanced; next data-quality run allowed in {int(gap - (now - state.get('last_run', 0)))}s")
        context.update_cursor(json.dumps({"signature": signature, "last_run": now}))
        return dg.RunRequest(run_key=f"dq:{abs(hash(signature))}:{int(now)}", job_name="data_quality")

    return data_quality_trigger


def build_alert_sensor() -> dg.SensorDefinition:
    @dg.run_failure_sensor(name="alert_on_run_failure", default_status=dg.DefaultSensorStatus.RUNNING,
                           description=f"Logs a structured alert for every failed run and posts it to ${ALERT_WEBHOOK_ENV} when set.")
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        secrets = env_secret_values()
        step_errors = []
        for ev in context.get_step_failure_events():
            err = getattr(ev.event_specific_data, "error", None)
            step_errors.append({"step": ev.step_key, "error": scrub(err.message if err else ev.message or "", secrets)[:2000]})
        alert = {
            "alert": "cdc_run_failed", "job": run.job_name, "run_id": run.run_id,
            "connector": run.tags.get("cdc/connector"), "reason": run.tags.get("cdc/reason"),
            "sensor": run.tags.get("dagster/sensor_name"),
            "error": scrub(context.failure_event.message or "", secrets)[:2000],
            "steps": step_errors,
        }
        context.log.error(json.dumps(alert))
        url = os.environ.get(ALERT_WEBHOOK_ENV)
        if url:
            try:
                httpx.post(url, json=alert, timeout=5.0)
            except httpx.HTTPError as e:
                context.log.warning(f"alert webhook failed: {type(e).__name__}")

    return alert_on_run_failure


def build_automation(spec: PipelineSpec, lineage: Lineage, jobs: dict[str, Any], *,
                     policy: HealthPolicy | None = None, clock: Callable[[], float] = time.time):
    sensors = [
        build_connector_health_sensor(spec, lineage, policy=policy, clock=clock),
        build_ksqldb_health_sensor(spec),
        build_data_quality_sensor(spec, clock=clock),
        build_alert_sensor(),
    ]
    schedules = [
        dg.ScheduleDefinition(name="hourly_data_quality", cron_schedule="0 * * * *", job_name="data_quality",
                              default_status=dg.DefaultScheduleStatus.RUNNING),
        dg.ScheduleDefinition(name="daily_plan", cron_schedule="0 6 * * *", job_name="plan",
                              default_status=dg.DefaultScheduleStatus.RUNNING),
    ]
    return sensors, schedules
