"""Provision and heal one aggregate's Flink SQL job, in the reconciler's shape: read, compare, act.

read: the JobManager's /jobs/overview (our jobs are named ``cdc:<OBJECT>:<hash12>:<shape>``, see sql.job_name).
compare: the running job's name against the compiled job's (same hash = unchanged, nothing written).
act: submit through a fresh SQL Gateway session (session properties, the CREATE TABLEs, then the INSERT), after
stopping the old version with a savepoint; resume from that savepoint when the state shape allows it.

``dry_run=True`` walks the same path and stops before the first write (the plan). The clients are the ones in
resources/flink_gateway.py and resources/flink_jobs.py; only the methods in the Protocols below are used.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pipeline_defs.core.outcome import Outcome, would
from pipeline_defs.systems.flink.decisions import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    HealthDecision,
    JobView,
    compatibility,
    health_decision,
    jobs_of,
    restore_candidate,
)
from pipeline_defs.systems.flink.sql import FlinkJob
from resources.flink_rest import FlinkError

__all__ = ["GatewayClient", "JobOutcome", "JobsClient", "job_health", "provision_job", "submit_job"]


class GatewayClient(Protocol):
    def open_session(self, properties: Mapping[str, Any] | None = None, name: str | None = None) -> str: ...
    def execute(self, session: str, statement: str) -> Any: ...  # result with .job_id for an INSERT
    def close_session(self, session: str) -> None: ...


class JobsClient(Protocol):
    def overview(self) -> Sequence[JobView]: ...
    def job(self, job_id: str) -> Any: ...  # .state
    def stop_with_savepoint(self, job_id: str, target_directory: str | None = None) -> str: ...
    def cancel(self, job_id: str) -> None: ...
    def latest_checkpoint_path(self, job_id: str) -> str | None: ...


# the engine's outcome is the control plane's one Outcome type
JobOutcome = Outcome
_would = would


def _restore_paths(jobs: JobsClient, candidates: Sequence[JobView]) -> dict[str, str | None]:
    """Latest retained checkpoint of the newest terminated job (the only one restore_candidate considers)."""
    ended = [j for j in candidates if j.state in TERMINAL_STATES][:1]
    paths: dict[str, str | None] = {}
    for j in ended:
        try:
            paths[j.jid] = jobs.latest_checkpoint_path(j.jid)
        except FlinkError:  # an archived job the JobManager forgot: nothing to resume from
            paths[j.jid] = None
    return paths


# A job Flink calls RUNNING whose tasks have no slot yet (or lost it): the job restarts until a slot frees up.
SCHEDULING = "SCHEDULING"


def job_state(details: Any) -> str:
    """The job's state, except that a RUNNING job counts as RUNNING only once every task runs: Flink switches a job
    to RUNNING before its tasks get task slots, and with no free slot it goes on RESTARTING."""
    state = str(details.state)
    vertices = getattr(details, "vertices", None) or ()
    if state == "RUNNING" and any(str(getattr(v, "status", "RUNNING")) != "RUNNING" for v in vertices):
        return SCHEDULING
    return state


def wait_running(
    jobs: JobsClient,
    job_id: str,
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """The job's state (job_state) once RUNNING or terminal, or the last seen after `timeout`."""
    deadline = clock() + timeout
    state = "UNKNOWN"
    while True:
        try:
            state = job_state(jobs.job(job_id))
        except FlinkError:
            state = "UNKNOWN"  # not yet registered with the dispatcher
        if state == "RUNNING" or state in TERMINAL_STATES or clock() >= deadline:
            return state
        sleep(0.3)


def submit_job(job: FlinkJob, gateway: GatewayClient, *, restore_path: str | None = None) -> str:
    """Create the tables and start the INSERT in a session of its own; the job id."""
    props = {**job.properties, "pipeline.name": job.name}
    if restore_path:
        props["execution.state-recovery.path"] = restore_path
    session = gateway.open_session(props)
    try:
        for ddl in job.ddl:
            gateway.execute(session, ddl)
        result = gateway.execute(session, job.insert)
    finally:
        # the job runs on the cluster; an unclosed session expires on the gateway's idle timeout
        with contextlib.suppress(FlinkError):
            gateway.close_session(session)
    job_id = getattr(result, "job_id", None)
    if not job_id:
        raise RuntimeError(f"Flink SQL Gateway accepted the INSERT of {job.name} but returned no job id")
    return str(job_id)


def _metadata(job: FlinkJob, **extra: Any) -> dict[str, Any]:
    return {
        "job_name": job.name,
        "hash": job.hash,
        "output_topic": job.output_topic,
        "statement": job.sql,
        **{k: v for k, v in extra.items() if v is not None},
    }


def provision_job(
    job: FlinkJob, gateway: GatewayClient, jobs: JobsClient, *, dry_run: bool, savepoint_dir: str | None = None, wait_seconds: float = 30.0
) -> JobOutcome:
    mine = jobs_of(jobs.overview(), job.object_name)
    active = [j for j in mine if j.state in ACTIVE_STATES]
    same = [j for j in active if j.name == job.name]
    others = [j for j in active if j.name != job.name]
    if same and not others:
        j = same[0]
        return JobOutcome(job.object_name, "unchanged", [], _metadata(job, job_id=j.jid, state=j.state))

    changes: list[str] = []
    restore: str | None = None
    if not active:
        action = "created"
        restore, why = restore_candidate(job, mine, _restore_paths(jobs, mine))
        changes.append(f"submit job {job.name}: {why}")
    elif same:  # ours runs next to stale versions: stop those, keep ours
        action = "updated"
        changes += [f"stop stale job {j.jid} ({j.name}) with a savepoint" for j in others]
    else:
        action = "updated"
        old = others[0]
        compat = compatibility(old.name, job)
        changes += [f"stop job {j.jid} ({j.name}) with a savepoint" for j in others]
        if compat.compatible:
            changes.append(f"submit job {job.name} from the savepoint of {old.jid}: {compat.reason}")
        else:
            changes.append(
                f"submit job {job.name} from the earliest offsets: {compat.reason}; the state is rebuilt "
                "from the source topic (the old job's savepoint is kept for a rollback)"
            )
    md = _metadata(job, restore_from=restore)
    if dry_run:
        return JobOutcome(job.object_name, _would(action), changes, md)

    savepoints: dict[str, str] = {}
    for j in others:
        savepoints[j.jid] = jobs.stop_with_savepoint(j.jid, savepoint_dir)
    if savepoints:
        md["savepoints"] = savepoints
    if same:
        j = same[0]
        md.update(job_id=j.jid, state=j.state)
        return JobOutcome(job.object_name, action, changes, md)
    if others and compatibility(others[0].name, job).compatible:
        restore = savepoints[others[0].jid]
        md["restore_from"] = restore
    job_id = submit_job(job, gateway, restore_path=restore)
    md.update(job_id=job_id, state=wait_running(jobs, job_id, wait_seconds))
    return JobOutcome(job.object_name, action, changes, md)


def job_health(
    job: FlinkJob, gateway: GatewayClient, jobs: JobsClient, *, dry_run: bool, wait_seconds: float = 30.0
) -> tuple[HealthDecision, JobOutcome]:
    """Resubmit a missing, FAILED or CANCELED job from its latest retained checkpoint (see decisions.health_decision).

    Returns the decision and what was done; the caller owns retries and backoff."""
    mine = jobs_of(jobs.overview(), job.object_name)
    decision = health_decision(job, mine, _restore_paths(jobs, mine))
    md = _metadata(job, job_id=decision.job_id, restore_from=decision.restore_path, reason=decision.reason)
    if decision.action != "resubmit":
        action = {"ok": "unchanged", "wait": "waiting", "stale": "unchanged"}[decision.action]
        return decision, JobOutcome(job.object_name, action, [], md)
    changes = [f"resubmit job {job.name}: {decision.reason}"]
    if dry_run:
        return decision, JobOutcome(job.object_name, "would_repair", changes, md)
    job_id = submit_job(job, gateway, restore_path=decision.restore_path)
    md.update(job_id=job_id, state=wait_running(jobs, job_id, wait_seconds), previous_job_id=decision.job_id)
    return decision, JobOutcome(job.object_name, "repaired", changes, md)
