"""What a connector's config and status say, judged without I/O: the config diff Connect's string
form needs, and one health verdict over the connector and all its tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApplyResult:
    name: str
    action: str  # "created" | "updated" | "unchanged"
    changed_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationResult:
    connector_class: str
    error_count: int
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def normalize_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Connect stores every value as a string; compare in that form (True -> "true", 1 -> "1")."""
    out = {}
    for k, v in config.items():
        if v is None:
            continue
        out[str(k)] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


def config_diff(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Keys whose normalized values differ, including keys present on one side only."""
    d, a = normalize_config(desired), normalize_config(actual)
    return sorted(k for k in d.keys() | a.keys() if d.get(k) != a.get(k))


def connector_health(status: Mapping[str, Any]) -> tuple[str, list[dict]]:
    """("RUNNING"|"FAILED"|..., failed instances) judged on the connector *and* every task:
    the two levels can disagree (a FAILED connector with a RUNNING task, Strimzi #12542)."""
    failed = []
    conn = status.get("connector", {})
    if conn.get("state") == "FAILED":
        failed.append({"instance": "connector", "state": "FAILED", "trace": conn.get("trace", "")})
    for t in status.get("tasks", []):
        if t.get("state") == "FAILED":
            failed.append({"instance": f"task {t.get('id')}", "state": "FAILED", "trace": t.get("trace", "")})
    if failed:
        return "FAILED", failed
    states = {conn.get("state")} | {t.get("state") for t in status.get("tasks", [])}
    if states == {"RUNNING"}:
        return "RUNNING", []
    for s in ("PAUSED", "STOPPED", "RESTARTING", "UNASSIGNED"):
        if s in states:
            return s, []
    return str(conn.get("state", "UNKNOWN")), []
