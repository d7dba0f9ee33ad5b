"""The health loop's decisions, as pure functions over (spec, observed state, memory, now).

Modelled on Strimzi's KafkaConnector reconciler: read actual state, compare with desired, act only
on a difference, back off on repeated failure. Restarts of one incident wait 0, 2, 6, 12, 20, 30,
42, 56, then 60 minutes (Strimzi's n*n+n capped at 60); after `max_restarts` the incident is raised
instead of restarted; the counter resets once the connector has been healthy for as long as the
last backoff step. What Strimzi misses and this sees: a RUNNING sink whose consumer lag only grows.

The sensor (sensors.py) feeds these functions one Connect listing per tick and turns the decisions
into run requests and check results; keeping them pure lets tests drive a simulated hour.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline_defs.systems.connect.causes import classify
from resources.connect import config_diff, connector_health


@dataclass(frozen=True)
class HealthPolicy:
    interval_seconds: int = 30
    backoff_minutes: tuple[int, ...] = (0, 2, 6, 12, 20, 30, 42, 56, 60)
    max_restarts: int = 12
    lag_window_ticks: int = 4  # lag must grow over this many consecutive ticks to count as stuck
    lag_restart_bound: int = 10_000  # restart a RUNNING sink whose growing lag passes this

    @classmethod
    def from_env(cls) -> HealthPolicy:
        from pipeline_defs.settings import settings

        s = settings()
        return cls(
            interval_seconds=s.health_interval_seconds,
            max_restarts=s.health_max_restarts,
            lag_window_ticks=s.health_lag_window_ticks,
            lag_restart_bound=s.health_lag_restart_bound,
        )

    def wait_minutes(self, restarts_so_far: int) -> int:
        return self.backoff_minutes[min(restarts_so_far, len(self.backoff_minutes) - 1)]


@dataclass
class ConnectorMemory:
    """What the sensor remembers of one connector between ticks (in the cursor)."""

    restarts: int = 0
    last_restart: float | None = None  # epoch seconds
    incident: str | None = None  # identity of the open failure incident
    incident_since: float | None = None
    exhausted: bool = False  # max_restarts reached and the incident raised
    healthy_since: float | None = None  # start of the current unbroken healthy stretch
    lag_history: list[int] = field(default_factory=list)


@dataclass
class Memory:
    connectors: dict[str, ConnectorMemory] = field(default_factory=dict)

    def to_cursor(self) -> str:
        return json.dumps({"v": 1, "connectors": {k: asdict(v) for k, v in self.connectors.items()}}, sort_keys=True)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> Memory:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls({k: ConnectorMemory(**v) for k, v in data.get("connectors", {}).items()})
        except (ValueError, TypeError):
            return cls()  # an unreadable cursor must not wedge the sensor; start fresh


@dataclass(frozen=True)
class Decision:
    connector: str
    action: str  # reregister | restart | incident | lag_warning | none
    reason: str  # missing | drift | failed | stuck | healthy | backoff | exhausted | ...
    incident: str = ""  # identity that goes into the run key
    detail: dict[str, Any] = field(default_factory=dict)


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def decide(
    desired: Mapping[str, Mapping[str, str]],
    listing: Mapping[str, Mapping[str, Any]],
    lags: Mapping[str, int | None],
    memory: Memory,
    now: float,
    policy: HealthPolicy,
) -> list[Decision]:
    """One decision per spec connector. `desired` holds rendered configs (secrets included, never
    logged); `listing` is GET /connectors?expand=status&expand=info; `lags` the sink groups' lag.
    `memory` is updated in place."""
    decisions: list[Decision] = []
    for name in sorted(set(memory.connectors) - set(desired)):
        del memory.connectors[name]  # left the spec: forget it, never touch it
    for name, cfg in desired.items():
        mem = memory.connectors.setdefault(name, ConnectorMemory())
        entry = listing.get(name)
        if entry is None:
            decisions.append(_act(name, [], mem, now, policy, reason="missing", action="reregister"))
            continue
        live = (entry.get("info") or {}).get("config") or {}
        drift = config_diff({**cfg, "name": name}, live)
        if drift:
            # the live config's digest names the incident, so one drift is one incident
            d = _act(name, [], mem, now, policy, reason="drift", action="reregister", incident=f"drift-{_digest(sorted(live.items()))}")
            decisions.append(Decision(d.connector, d.action, d.reason, d.incident, {**d.detail, "keys": drift}))
            continue
        status = entry.get("status") or {}
        state, failed = connector_health(status)
        if state == "FAILED":
            decisions.append(_act(name, failed, mem, now, policy, reason="failed"))
            continue
        lag = lags.get(name)
        stuck = _track_lag(mem, lag, policy)
        if state == "RUNNING" and stuck:
            if lag is not None and lag > policy.lag_restart_bound:
                d = _act(
                    name,
                    [{"instance": "consumer", "trace": f"lag {lag} and growing over {policy.lag_window_ticks} ticks"}],
                    mem,
                    now,
                    policy,
                    reason="stuck",
                )
                decisions.append(Decision(d.connector, d.action, d.reason, d.incident, {**d.detail, "lag_history": list(mem.lag_history)}))
            else:
                decisions.append(Decision(name, "lag_warning", "stuck", "", {"lag_history": list(mem.lag_history)}))
            continue
        _maybe_reset(mem, now, policy)
        decisions.append(Decision(name, "none", "healthy" if state == "RUNNING" else state.lower()))
    return decisions


def _track_lag(mem: ConnectorMemory, lag: int | None, policy: HealthPolicy) -> bool:
    if lag is None:
        mem.lag_history = []
        return False
    mem.lag_history = (mem.lag_history + [int(lag)])[-(policy.lag_window_ticks + 1) :]
    h = mem.lag_history
    return len(h) > policy.lag_window_ticks and h[-1] > 0 and all(b > a for a, b in itertools.pairwise(h))


def _act(
    name: str,
    failed: list[dict],
    mem: ConnectorMemory,
    now: float,
    policy: HealthPolicy,
    *,
    reason: str,
    action: str = "restart",
    incident: str | None = None,
) -> Decision:
    """Act on an unhealthy connector unless the backoff says wait; raise the incident once the
    actions are spent. Counts carry across incidents until the connector has been stable."""
    mem.healthy_since = None
    if incident is not None and mem.incident != incident:
        mem.incident, mem.incident_since = incident, now
    elif mem.incident is None or not mem.incident.startswith(reason):
        mem.incident, mem.incident_since = f"{reason}-{_digest(name, now)}", now
    trace = "\n\n".join(f"{f['instance']}: {f.get('trace', '')}" for f in failed)
    detail = {"trace": trace[:4000], "restarts": mem.restarts, "incident_since": mem.incident_since}
    if mem.exhausted:
        return Decision(name, "none", "exhausted", mem.incident, detail)
    if failed:
        cause = classify(trace)
        detail = {**detail, "cause": cause.name, "fix": cause.fix}
        if not cause.restartable:
            # a restart fails the same way: raise it once, now, with the cause and the fix
            mem.exhausted = True
            return Decision(name, "incident", cause.name, mem.incident, detail)
    waited = (now - mem.last_restart) / 60 if mem.last_restart is not None else None
    need = policy.wait_minutes(mem.restarts)
    if waited is not None and waited < need:
        return Decision(name, "none", "backoff", mem.incident, {**detail, "next_restart_in_minutes": round(need - waited, 1)})
    if mem.restarts >= policy.max_restarts:
        # the last restart had its full backoff to work and did not: stop and raise it once
        mem.exhausted = True
        return Decision(name, "incident", "exhausted", mem.incident, detail)
    mem.restarts += 1
    mem.last_restart = now
    return Decision(name, action, reason, f"{mem.incident}-a{mem.restarts}", detail)


def _maybe_reset(mem: ConnectorMemory, now: float, policy: HealthPolicy) -> None:
    """Healthy: close the incident; forget the restart count once the connector has been healthy
    without a break for as long as the last backoff step. One healthy look is not enough: a
    restarted task shows RUNNING for a moment before it fails again, and a counter reset on that
    moment would restart a flapping connector at the start of the backoff forever."""
    mem.incident = None
    mem.incident_since = None
    if mem.healthy_since is None:
        mem.healthy_since = now
    # an incident raised without restarts (a cause a restart cannot fix) ends at the first healthy look: only a
    # person's fix and restart makes it RUNNING, and its next failure must be judged again, not stay silenced
    if (mem.restarts or mem.exhausted) and (now - mem.healthy_since) / 60 >= policy.wait_minutes(mem.restarts):
        mem.restarts = 0
        mem.last_restart = None
        mem.exhausted = False
