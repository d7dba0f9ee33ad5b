"""Pure decisions for Flink job provisioning and health: what to do given what the JobManager reports.

No I/O here; jobs.py reads the cluster, calls these and acts. Each answer carries the reason in words, so
plans, metadata and alerts can say why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pipeline_defs.systems.flink.sql import FlinkJob, parse_job_name

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "Compatibility",
    "HealthDecision",
    "JobView",
    "compatibility",
    "health_decision",
    "jobs_of",
    "restore_candidate",
]

# A job in one of these states holds (or is about to hold) a slot and writes the output topic.
ACTIVE_STATES = frozenset({"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING", "FAILING", "CANCELLING"})
TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})


class JobView(Protocol):
    """One /jobs/overview entry (resources.flink_jobs.JobOverview has this shape)."""

    jid: str
    name: str
    state: str
    start_time: int | None


def jobs_of(overview: Sequence[JobView], object_name: str) -> list[JobView]:
    """Our jobs of one object, newest first (by start time)."""
    mine = [j for j in overview if (p := parse_job_name(j.name)) is not None and p.object_name == object_name]
    return sorted(mine, key=lambda j: j.start_time or 0, reverse=True)


@dataclass(frozen=True)
class Compatibility:
    compatible: bool
    reason: str


def compatibility(old_job_name: str, new: FlinkJob) -> Compatibility:
    """Can `new` resume from the state of the job named `old_job_name`?

    The state (dedup rows per key, counts per group and window, source offsets) depends on the source topic,
    key, grouping column, event-time column, window size and the operator layout (mini-batch on/off); the
    job name carries a digest of those (shape) and the window size. Other changes (grace, output names, TTL,
    checkpoint interval, extra properties) keep the state meaningful, and the operator layout unchanged.
    """
    old = parse_job_name(old_job_name)
    if old is None:
        return Compatibility(False, f"job {old_job_name!r} is not one of ours")
    if old.object_name != new.object_name:
        return Compatibility(False, f"job {old_job_name!r} belongs to {old.object_name}, not {new.object_name}")
    new_window = int(new.shape["window_size_ms"])
    if old.window_ms is not None and old.window_ms != new_window:
        return Compatibility(
            False,
            f"window size changed ({old.window_ms} ms -> {new_window} ms): the saved counts "
            "belong to the old windows and the saved rows carry old window starts",
        )
    if old.shape_hash != new.shape_hash:
        return Compatibility(
            False,
            f"state shape changed ({old.shape_hash} -> {new.shape_hash}: source topic, key, "
            "grouping column, event-time column or mini-batch layout), so the saved state "
            "does not fit the new job",
        )
    return Compatibility(True, "same source, key, grouping and window: the state carries over")


def restore_candidate(new: FlinkJob, previous: Sequence[JobView], restore_paths: Mapping[str, str | None]) -> tuple[str | None, str]:
    """(path to resume from or None, why) among the object's terminated jobs, newest first.

    `restore_paths` maps a job id to its latest retained checkpoint/savepoint path (None: none retained).
    Only the newest terminated job counts: resuming an older one would replay its state over changes that
    newer jobs already wrote.
    """
    ended = [j for j in previous if j.state in TERMINAL_STATES]
    if not ended:
        return None, "no previous job: start from the earliest offsets"
    last = ended[0]
    path = restore_paths.get(last.jid)
    if not path:
        return None, (
            f"previous job {last.jid} ({last.state}) left no checkpoint: the state is rebuilt from the earliest offsets of the source topic"
        )
    compat = compatibility(last.name, new)
    if not compat.compatible:
        return None, (
            f"previous job {last.jid} is incompatible ({compat.reason}): the state is rebuilt from the earliest offsets of the source topic"
        )
    return path, f"resume from {path} of previous job {last.jid} ({last.state})"


HealthAction = Literal["ok", "wait", "resubmit", "stale"]


@dataclass(frozen=True)
class HealthDecision:
    action: HealthAction
    reason: str
    job_id: str | None = None  # the job looked at (running, or the terminated one resubmitted)
    restore_path: str | None = None


def health_decision(new: FlinkJob, previous: Sequence[JobView], restore_paths: Mapping[str, str | None]) -> HealthDecision:
    """What the health check does about one object's job, from its jobs in the overview (newest first).

    ok: our exact job is RUNNING. wait: it is starting or restarting (Flink's own restart strategy is at work;
    escalation is the caller's backoff). stale: a job of another hash is active (provisioning replaces it, not
    health). resubmit: nothing of ours is active; resume from the newest terminated job's checkpoint when
    compatible, otherwise from the earliest offsets.
    """
    active = [j for j in previous if j.state in ACTIVE_STATES]
    exact = [j for j in active if j.name == new.name]
    if exact:
        j = exact[0]
        if j.state == "RUNNING":
            return HealthDecision("ok", f"job {j.jid} is RUNNING", j.jid)
        return HealthDecision("wait", f"job {j.jid} is {j.state}", j.jid)
    if active:
        j = active[0]
        return HealthDecision("stale", f"job {j.jid} ({j.name}, {j.state}) runs another version; provisioning replaces it", j.jid)
    path, why = restore_candidate(new, previous, restore_paths)
    last = next((j for j in previous if j.state in TERMINAL_STATES), None)
    state = f"job {last.jid} is {last.state}" if last else "no job is running"
    return HealthDecision("resubmit", f"{state}; {why}", last.jid if last else None, path)
