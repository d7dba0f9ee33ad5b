"""Applying a connector in the reconciler's shape: one GET, one compare, one write.

Connect restarts a connector on every PUT, so an unchanged config is never written. Configs carry
secret placeholders, so the comparison needs no secret: what is stored is what the spec derives.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pipeline_defs.core.outcome import Outcome, ProvisionFailure, would
from pipeline_defs.systems.connect.props import ConnectorProps
from resources.connect import KafkaConnectClient, config_diff, connector_health
from resources.errors import ResourceError


def wait_for_connector(connect: KafkaConnectClient, name: str, timeout: float = 20.0, *, after_restart: bool = False) -> dict:
    """Status once it settles (RUNNING with tasks, or FAILED), or the last seen after `timeout`.

    `after_restart`: a restart is asynchronous, so the status right after it may still be the old
    FAILED; give the worker a moment to move off it before judging. A status the worker cannot
    give yet (404 right after a create, a rebalance) is waited out; other errors propagate."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    if after_restart:
        leave_by = time.monotonic() + min(5.0, timeout)
        while time.monotonic() < leave_by:
            try:
                if connector_health(connect.status(name))[0] != "FAILED":
                    break
            except ResourceError:
                pass
            time.sleep(0.2)
    while time.monotonic() < deadline:
        try:
            status = connect.status(name)
        except ResourceError as e:
            if getattr(e, "status", None) not in (404, 409, 500, 503, None):
                raise
            status = {}
        state, _ = connector_health(status) if status else ("UNKNOWN", [])
        if state == "FAILED" or (state == "RUNNING" and status.get("tasks")):
            return status
        if state == "STOPPED" or (status.get("connector") or {}).get("state") in ("STOPPED", "PAUSED"):
            return status
        time.sleep(0.5)
    return status


def connector_metadata(status: Mapping[str, Any]) -> dict[str, Any]:
    state, failed = connector_health(status) if status else ("UNKNOWN", [])
    tasks = status.get("tasks", []) if status else []
    return {
        "state": state,
        "connector_state": (status.get("connector") or {}).get("state", "UNKNOWN") if status else "UNKNOWN",
        "tasks_running": sum(1 for t in tasks if t.get("state") == "RUNNING"),
        "tasks_failed": sum(1 for t in tasks if t.get("state") == "FAILED"),
        "failed_traces": [f"{f['instance']}: {f['trace'].splitlines()[0] if f['trace'] else ''}" for f in failed],
    }


def apply_connector(
    props: ConnectorProps, connect: KafkaConnectClient, kafka: Any, *, dry_run: bool, wait_seconds: float = 20.0
) -> Outcome:
    name = props.name
    md: dict[str, Any] = {"config": dict(props.config)}
    changes: list[str] = []
    for t in props.pre_topics:
        # e.g. the redo-log topic: one partition, never shared; the connector would create it
        # lazily on the first DML with the broker's default partitions
        md["pre_topics"] = [p.name for p in props.pre_topics]
        if kafka is not None and kafka.describe_topic(t.name) is None:
            if not dry_run:
                kafka.create_topic(t.name, partitions=t.partitions, replication=t.replication, configs=dict(t.configs))
            changes.append(f"create topic {t.name} ({t.partitions} partition{'s' if t.partitions > 1 else ''})")

    actual = connect.get_config(name)  # the one read
    diff = [] if actual is None else config_diff(props.config, actual)  # the one compare
    if actual is None:
        action = "created"
        changes.append(f"create connector {name}" + (f" ({props.initial_state})" if props.initial_state else ""))
    elif diff:
        action = "updated"
        changes.append(f"update connector {name}: {', '.join(diff)}")
        md["changed_keys"] = diff
    else:
        action = "unchanged"
    if dry_run:
        return Outcome(name, would(action) if changes else "unchanged", changes, md)
    if action == "created":  # the one write
        connect.create(name, props.config, initial_state=props.initial_state)
    elif action == "updated":
        connect.put_config(name, props.config)
    status = wait_for_connector(connect, name, wait_seconds) if wait_seconds else {}
    md.update(connector_metadata(status))
    if wait_seconds and md["state"] not in ("RUNNING",) and md["connector_state"] not in ("STOPPED", "PAUSED"):
        _, failed = connector_health(status) if status else ("UNKNOWN", [])
        trace = "\n\n".join(f"{f['instance']}:\n{(f['trace'] or '')[:3000]}" for f in failed)
        raise ProvisionFailure(
            f"connector {name} is {md['state']} after {wait_seconds:.0f}s" + (f":\n{trace}" if trace else " (no task started)"),
            {**md, "trace": trace},
        )
    if action == "unchanged" and not changes:
        return Outcome(name, "unchanged", [], md)
    return Outcome(name, action if action != "unchanged" else "updated", changes, md)
