"""connector_health: one Connect listing per tick, whatever the number of connectors ->
re-register (missing, drift), restart (FAILED, stuck sink) with Strimzi's backoff, raise the
incident loudly once restarts are spent, warn on growing sink lag. The decisions are the pure
functions of healing.py; this module turns them into run requests and check evaluations."""

import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from pipeline_defs.core.nodes import Lineage
from pipeline_defs.systems.connect.healing import Decision, HealthPolicy, Memory, decide
from resources.connect import ConnectError, KafkaConnectResource, connector_health
from resources.errors import ResourceError
from resources.kafka import KafkaResource
from resources.redaction import env_secret_values, scrub

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
CONNECTOR_TAG = "cdc/connector"


# job -> its op; the op's config names the connectors in `connectors`, `connector` or `sinks`
CONNECTOR_JOBS = {
    "reregister_connectors": "reregister",
    "restart_connectors": "restart",
    "alter_connector_offsets": "alter_offsets",
    "reset_connector_offsets": "reset_offsets",
    "rebuild_redis": "rebuild",
}


def in_flight(instance: dg.DagsterInstance, connector: str, *, exclude_run_id: str | None = None) -> bool:
    """A queued or running run acts on this connector: one tagged with it (the sensor's), or a
    manual run of a connector job, whose run config may name any connector."""
    tagged = instance.get_run_records(dg.RunsFilter(tags={CONNECTOR_TAG: connector}, statuses=IN_FLIGHT), limit=2)
    if any(r.dagster_run.run_id != exclude_run_id for r in tagged):
        return True
    manual = instance.get_run_records(dg.RunsFilter(job_name=None, statuses=IN_FLIGHT), limit=50)
    for rec in manual:
        run = rec.dagster_run
        if run.run_id == exclude_run_id:
            continue
        if run.job_name in CONNECTOR_JOBS and CONNECTOR_TAG not in run.tags:
            op = CONNECTOR_JOBS[run.job_name]
            cfg = (run.run_config or {}).get("ops", {}).get(op, {}).get("config", {}) or {}
            wanted = cfg.get("connectors") or cfg.get("sinks") or ([cfg["connector"]] if cfg.get("connector") else [])
            if not wanted or connector in wanted:
                return True
    return False


def _check_eval(
    node_key: tuple[str, ...], check: str, passed: bool, severity: dg.AssetCheckSeverity, metadata: dict[str, Any], description: str
) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(list(node_key)),
        check_name=check,
        passed=passed,
        severity=severity,
        metadata=metadata,
        description=description,
    )


def build_connector_health_sensor(
    lineage: Lineage,
    *,
    policy: HealthPolicy | None = None,
    clock: Callable[[], float] = time.time,
    source_faults: Callable[[Any], dict[str, str]] | None = None,
    fault_resource_keys: frozenset[str] = frozenset(),
) -> dg.SensorDefinition:
    """``source_faults(resources)`` (the source plug-in's connector_faults) adds what the database sees
    of connectors Connect calls RUNNING; it gets the resources named by ``fault_resource_keys``."""
    policy = policy or HealthPolicy.from_env()
    nodes = {n.name: n for n in lineage.by_system("connect")}
    sinks = [n for n, node in nodes.items() if node.desired.role == "sink"]
    # placeholders, not secrets: the live config holds exactly these strings
    desired = {n: dict(node.desired.config) for n, node in nodes.items()}

    @dg.sensor(
        name="connector_health",
        minimum_interval_seconds=policy.interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"connect", "kafka", *(fault_resource_keys if source_faults else ())},
        job_name="reregister_connectors",
        jobs=None,
        description="Watches every spec connector with one Connect request per tick; re-registers missing or drifted "
        "connectors, restarts failed ones with backoff, raises the incident after the last restart, flags growing sink lag.",
    )
    # resources come from context.resources (their keys depend on the source); a direct call also passes them
    def connector_health(context: dg.SensorEvaluationContext, **_resources: Any):
        connect: KafkaConnectResource = context.resources.connect
        kafka: KafkaResource = context.resources.kafka
        memory = Memory.from_cursor(context.cursor)
        client = connect.get_probe_client()
        try:
            listing = client.connectors_expanded()
        except ConnectError as e:
            # the cursor is left as it was: backoff clocks keep running from the last real observation
            return dg.SkipReason(f"Kafka Connect at {connect.url} unreachable: {e}")
        finally:
            client.close()
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
        if source_faults is not None:
            listing = _with_source_faults(listing, source_faults, context)
        decisions = decide(desired, listing, lags, memory, clock(), policy)
        run_requests, events = [], []
        for d in decisions:
            rr, ev = _to_requests(d, nodes, context, policy)
            run_requests += rr
            events += ev
        acted = [f"{d.connector}: {d.action} ({d.reason})" for d in decisions if d.action != "none"]
        if acted:
            context.log.info("; ".join(acted))
        return dg.SensorResult(
            run_requests=run_requests,
            asset_events=events,
            cursor=memory.to_cursor(),
            skip_reason=None
            if run_requests or events
            else "all connectors healthy"
            if all(d.reason == "healthy" for d in decisions)
            else "; ".join(f"{d.connector}: {d.reason}" for d in decisions if d.reason != "healthy"),
        )

    return connector_health


def _with_source_faults(listing: dict[str, dict], source_faults, context) -> dict[str, dict]:
    """The listing with each RUNNING connector the source reports stalled shown as a failed task carrying the
    source's error, so one classification decides: a user-actionable cause raises the incident, never a restart."""
    try:
        faults = source_faults(context.resources)
    except ResourceError as e:
        context.log.warning(f"the source database could not be asked about its connectors: {e}")
        return listing
    out = dict(listing)
    for name, trace in faults.items():
        entry = out.get(name)
        if entry is None or connector_health(entry.get("status") or {})[0] != "RUNNING":
            continue  # missing or already failing: Connect's own status decides
        status = dict(entry.get("status") or {})
        status["tasks"] = [{"id": 0, "state": "FAILED", "worker_id": "(source database)", "trace": trace}]
        out[name] = {**entry, "status": status}
        context.log.warning(f"{name}: Connect says RUNNING, the source database says: {trace}")
    return out


def _to_requests(d: Decision, nodes, context, policy: HealthPolicy):
    node = nodes[d.connector]
    tags = {CONNECTOR_TAG: d.connector, "cdc/reason": d.reason}
    if d.action in ("reregister", "restart") and in_flight(context.instance, d.connector):
        context.log.info(f"{d.connector}: {d.action} wanted, but a run for it is already queued or running")
        return [], []
    if d.action == "reregister":
        return [
            dg.RunRequest(
                run_key=f"{d.connector}:{d.incident}",
                job_name="reregister_connectors",
                tags=tags,
                run_config={"ops": {"reregister": {"config": {"connectors": [d.connector]}}}},
            )
        ], []
    if d.action == "restart":
        only_failed = d.reason == "failed"
        return [
            dg.RunRequest(
                run_key=f"{d.connector}:{d.incident}",
                job_name="restart_connectors",
                tags=tags,
                run_config={
                    "ops": {"restart": {"config": {"connectors": [d.connector], "include_tasks": True, "only_failed": only_failed}}}
                },
            )
        ], []
    if d.action == "incident":
        # a connector's trace is foreign text: it may echo a config value, so scrub every known secret
        trace = scrub(str(d.detail.get("trace", "")), env_secret_values())[:4000]
        cause, fix = d.detail.get("cause", "unknown"), d.detail.get("fix", "")
        md = {
            "trace": dg.MetadataValue.md(f"```\n{trace}\n```"),
            "restarts": d.detail.get("restarts", 0),
            "incident": d.incident,
            "cause": cause,
            "fix": fix,
        }
        if d.reason == "exhausted":
            what = (
                f"{d.connector} still failing after {d.detail.get('restarts')} restarts (cause: {cause}): restarts stopped, needs a person"
            )
        else:
            what = f"{d.connector} failed: {cause}, which a restart cannot fix. {fix}"
        ev = _check_eval(node.key, "running", False, dg.AssetCheckSeverity.ERROR, md, what)
        rr = dg.RunRequest(
            run_key=f"{d.connector}:{d.incident}:incident",
            job_name="connector_incident",
            tags=tags,
            run_config={
                "ops": {
                    "raise_incident": {
                        "config": {
                            "connector": d.connector,
                            "reason": d.reason,
                            "restarts": int(d.detail.get("restarts", 0)),
                            "trace": trace,
                            "cause": cause,
                            "fix": fix,
                        }
                    }
                }
            },
        )
        return [rr], [ev]
    if d.action == "lag_warning":
        hist = d.detail.get("lag_history", [])
        md = {"lag": hist[-1] if hist else 0, "lag_history": dg.MetadataValue.json(hist)}
        return [], [
            _check_eval(
                node.key,
                "consumer_lag",
                False,
                dg.AssetCheckSeverity.WARN,
                md,
                f"connect-{d.connector} lag grew over {len(hist)} ticks while the connector is RUNNING",
            )
        ]
    return [], []
