"""The rebuild loop's decisions, as pure functions (the I/O is in rebuild.py).

When ``matches_<source>`` fails with data a replay can fix, the sink is replayed: stop it, move its
offsets back to where the records that fix the wrong keys start, resume, wait for zero lag, compare
again. Our sink writes the newest window per key, ignores older ones, and skips a record a key has
already seen (its replay guard, ``redis.offsets.key``), so a replay writes only the keys it repairs. Same backoff and incident rules as connector
restarts (healing.HealthPolicy): attempts wait 0, 2, 6, ... minutes, and past ``max_restarts`` the
incident is raised once. A rebuild whose re-check still fails raises its own incident, and the
sensor does not try again until the check has passed once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from pipeline_defs.systems.connect.healing import HealthPolicy

# problems a replay of the aggregate topic can fix; not_in_source (a key the source never had rows
# for) and unreadable_key are left to a person: the sink never deletes a key it did not write
REBUILDABLE = frozenset({"missing_in_redis", "count", "behind", "wrong_key", "bad_window", "malformed"})
# keys whose document is wrong in a way a newer-window guard could keep: removed before the replay
DELETE_BEFORE_REPLAY = frozenset({"count", "wrong_key", "bad_window", "malformed"})
REBUILD_MARK = "rebuild_run"  # metadata key the rebuild's own evaluation carries


@dataclass(frozen=True)
class CheckObservation:
    """The latest evaluation of one sink's ``matches_<source>`` check."""

    record_id: int  # the storage id: a new evaluation has a larger one
    passed: bool
    problems: tuple[str, ...] = ()
    from_rebuild: bool = False  # written by a rebuild_redis run (its re-check)
    # health checks upstream of the keyspace (connector running, engine job running) whose latest evaluation
    # failed, or is still planned: Redis lagging behind a stopped pipeline is the health sensors' to heal
    upstream_failed: tuple[str, ...] = ()
    upstream_pending: tuple[str, ...] = ()
    # every mismatch is Redis short of the source (missing, behind, a count below): what a stopped pipeline
    # leaves; a count above the source, a wrong key or a broken document is never an outage's doing
    lag_only: bool = False


@dataclass
class SinkMemory:
    attempts: int = 0
    last_attempt: float | None = None
    seen_id: int = 0  # the newest evaluation acted on (or judged)
    exhausted: bool = False  # an incident is open: no rebuild until the check passes again
    healthy_since: float | None = None
    lag_since: float | None = None  # first evaluation of a run of lag-only failures


@dataclass
class RebuildMemory:
    sinks: dict[str, SinkMemory] = field(default_factory=dict)

    def to_cursor(self) -> str:
        return json.dumps({"v": 1, "sinks": {k: asdict(v) for k, v in self.sinks.items()}}, sort_keys=True)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> RebuildMemory:
        if not cursor:
            return cls()
        try:
            return cls({k: SinkMemory(**v) for k, v in json.loads(cursor).get("sinks", {}).items()})
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable cursor must not wedge the sensor


@dataclass(frozen=True)
class RebuildDecision:
    sink: str
    action: str  # rebuild | incident | none
    reason: str  # new_failure | backoff | exhausted | rebuild_failed | passing | not_rebuildable | no_new_evaluation | ...
    attempt: int = 0
    detail: dict = field(default_factory=dict)


def decide_rebuild(
    sink: str, obs: CheckObservation | None, mem: SinkMemory, now: float, policy: HealthPolicy, lag_grace_seconds: float = 120.0
) -> RebuildDecision:
    """One sink, one tick. ``mem`` is updated in place. `lag_grace_seconds`: Redis that is only short of the
    source (lag_only) is rebuilt once a later evaluation still finds it so, that long after the first: a pipeline
    catching up after a restart (Connect took ~45 s here) passes on its own, and a replay racing the catch-up
    would fail its re-check and raise a false incident."""
    if obs is None:
        return RebuildDecision(sink, "none", "no_evaluation")
    if obs.passed or not obs.lag_only:
        mem.lag_since = None
    if obs.passed:
        if obs.record_id > mem.seen_id:
            mem.seen_id = obs.record_id
        mem.exhausted = False
        if mem.healthy_since is None:
            mem.healthy_since = now
        if mem.attempts and (now - mem.healthy_since) / 60 >= policy.wait_minutes(mem.attempts):
            mem.attempts, mem.last_attempt = 0, None  # stable for a whole backoff step: forget the count
        return RebuildDecision(sink, "none", "passing")
    mem.healthy_since = None
    if obs.record_id <= mem.seen_id:
        return RebuildDecision(sink, "none", "no_new_evaluation")
    if obs.from_rebuild:
        # the rebuild's own re-check failed: it raised the incident itself; never loop on it
        mem.seen_id = obs.record_id
        mem.exhausted = True
        return RebuildDecision(sink, "none", "rebuild_failed")
    if obs.upstream_pending and obs.lag_only:
        # not marked seen: judged again once those checks have a result
        return RebuildDecision(sink, "none", "upstream_pending", detail={"checks": list(obs.upstream_pending)})
    if obs.upstream_failed and obs.lag_only:
        # the pipeline before Redis is down or restarting: a replay cannot bring data the engine has not
        # written (it would rebuild the engine's whole state and raise an incident for an outage); the health
        # sensors heal that, and the next data check, with the pipeline running, judges Redis again
        mem.seen_id = obs.record_id
        return RebuildDecision(sink, "none", "upstream_unhealthy", detail={"checks": list(obs.upstream_failed)})
    if mem.exhausted:
        mem.seen_id = obs.record_id
        return RebuildDecision(sink, "none", "exhausted")
    if obs.lag_only and lag_grace_seconds > 0:
        if mem.lag_since is None:
            mem.lag_since = now
        if now - mem.lag_since < lag_grace_seconds:
            mem.seen_id = obs.record_id  # a later evaluation must confirm it
            return RebuildDecision(
                sink, "none", "lag_grace", detail={"recheck_after_seconds": round(lag_grace_seconds - (now - mem.lag_since))}
            )
    fixable = sorted(set(obs.problems) & REBUILDABLE)
    if not fixable:
        mem.seen_id = obs.record_id
        return RebuildDecision(sink, "none", "not_rebuildable", detail={"problems": sorted(set(obs.problems))})
    waited = (now - mem.last_attempt) / 60 if mem.last_attempt is not None else None
    need = policy.wait_minutes(mem.attempts)
    if waited is not None and waited < need:
        # not marked seen: the same evaluation is acted on once the wait is over
        return RebuildDecision(sink, "none", "backoff", detail={"next_rebuild_in_minutes": round(need - waited, 1)})
    mem.seen_id = obs.record_id
    if mem.attempts >= policy.max_restarts:
        mem.exhausted = True
        return RebuildDecision(sink, "incident", "exhausted", mem.attempts, {"problems": fixable})
    mem.attempts += 1
    mem.last_attempt = now
    return RebuildDecision(sink, "rebuild", "new_failure", mem.attempts, {"problems": fixable})


# ---------------------------------------------------------------- the replay


@dataclass(frozen=True)
class TopicRecord:
    """One record of the aggregate topic, as the rebuild reads it."""

    partition: int
    offset: int
    name: str | None  # group value (None: unreadable or a tombstone)
    window_start: int | None


@dataclass(frozen=True)
class ReplayPlan:
    """Where the sink restarts: {partition: offset}; or why the topic cannot fix it."""

    offsets: dict[int, int]
    missing: dict[str, int]  # name -> needed window start absent from the topic
    cause: str = ""  # empty when the topic can fix every wanted name

    @property
    def possible(self) -> bool:
        return not self.missing and not self.cause


def plan_replay(
    records: Iterable[TopicRecord], needed: Mapping[str, int], watermarks: Mapping[int, tuple[int, int]] | None, topic: str
) -> ReplayPlan:
    """Per partition the smallest offset among the LAST records of each needed (name, window start):
    from there on every wanted key receives its final value, and keys that are right see at most
    their own window's later updates. ``watermarks`` None: the topic does not exist."""
    if watermarks is None:
        return ReplayPlan({}, dict(needed), f"the aggregate topic {topic} does not exist (deleted?)")
    last: dict[tuple[str, int], TopicRecord] = {}
    for r in records:
        if r.name is not None and r.window_start is not None and needed.get(r.name) == r.window_start:
            last[(r.name, r.window_start)] = r  # records come in offset order: the last one wins
    missing = {n: w for n, w in needed.items() if (n, w) not in last}
    if missing:
        truncated = {p: lo for p, (lo, _) in watermarks.items() if lo > 0}
        if all(hi == 0 for _, hi in watermarks.values()):
            cause = (
                f"the aggregate topic {topic} is empty (deleted and created again, e.g. by a client with "
                "auto.create.topics.enable, or never written)"
            )
        elif truncated:
            cause = (
                f"the aggregate topic {topic} no longer holds the windows needed (retention deleted records up to "
                f"offset {', '.join(f'p{p}:{lo}' for p, lo in sorted(truncated.items()))})"
            )
        else:
            cause = f"the aggregate topic {topic} holds no record of the needed windows (the engine never wrote them)"
        return ReplayPlan({}, missing, cause)
    offsets: dict[int, int] = {}
    for r in last.values():
        offsets[r.partition] = min(offsets.get(r.partition, r.offset), r.offset)
    return ReplayPlan(offsets, {})


def lag_settled(committed: Mapping[int, int], targets: Mapping[int, int]) -> bool:
    """The sink has committed at least the end offsets taken when the replay began."""
    return all(committed.get(p, -1) >= end for p, end in targets.items() if end > 0)


def cdc_topics_complete(watermarks: Mapping[str, Mapping[int, tuple[int, int]] | None]) -> str:
    """'' when every CDC topic still holds its whole history (low watermark 0), else the cause an
    engine rebuild from them cannot get past."""
    problems = []
    for topic, marks in sorted(watermarks.items()):
        if marks is None:
            problems.append(f"the CDC topic {topic} does not exist")
            continue
        cut = {p: lo for p, (lo, _) in marks.items() if lo > 0}
        if cut:
            problems.append(
                f"the CDC topic {topic} was truncated (records before offset "
                f"{', '.join(f'p{p}:{lo}' for p, lo in sorted(cut.items()))} are gone)"
            )
    return "; ".join(problems)
