"""Connector offsets as code (KIP-875; kcctl's `offsets` and Strimzi's KafkaConnector offset
annotations): list, alter to given positions, reset. Altering and resetting need a STOPPED
connector, so both are stop -> write -> resume, and the connector ends in the state it had before
(a connector that was STOPPED stays STOPPED: a person stopped it on purpose).

Offsets as Connect shows them:
* sink: {"partition": {"kafka_topic": t, "kafka_partition": p}, "offset": {"kafka_offset": o}}
  (the next record the sink reads; the consumer group connect-<name> holds them);
* source: {"partition": {...connector's own keys...}, "offset": {...}} (e.g. Debezium PostgreSQL:
  partition {"server": prefix}, offset {"lsn": ..., "txId": ...}).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from resources.connect import ConnectError, KafkaConnectClient

STOPPED_TIMEOUT_SECONDS = 30.0


def sink_offset(topic: str, partition: int, offset: int | None) -> dict[str, Any]:
    """A sink partition's entry for PATCH; None erases the partition's committed offset."""
    return {
        "partition": {"kafka_topic": topic, "kafka_partition": int(partition)},
        "offset": None if offset is None else {"kafka_offset": int(offset)},
    }


def offset_rows(offsets: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per partition, its partition and offset as compact JSON (both may be any map)."""

    def js(v: Any) -> str:
        return json.dumps(v, sort_keys=True, separators=(",", ":"))

    return [{"partition": js(o.get("partition")), "offset": js(o.get("offset"))} for o in offsets]


def sink_positions(offsets: list[Mapping[str, Any]]) -> dict[tuple[str, int], int]:
    """{(topic, partition): next offset} of a sink's GET /offsets answer."""
    out = {}
    for o in offsets:
        p, off = o.get("partition") or {}, o.get("offset") or {}
        if "kafka_topic" in p and "kafka_offset" in off:
            out[(str(p["kafka_topic"]), int(p["kafka_partition"]))] = int(off["kafka_offset"])
    return out


def validate_entries(entries: list[Mapping[str, Any]], role: str) -> list[dict[str, Any]]:
    """The PATCH body's entries, or a clear error naming the bad entry: a sink's partition must be
    {kafka_topic, kafka_partition} and its offset {kafka_offset} or null."""
    if not entries:
        raise ValueError("offsets: at least one {partition, offset} entry is needed")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping) or "partition" not in e or "offset" not in e:
            raise ValueError(f"offsets[{i}]: an entry is {{partition: {{...}}, offset: {{...}} or null}}, got {e!r}")
        part, off = e["partition"], e["offset"]
        if isinstance(off, Mapping) and not off:
            off = None  # {} erases too: Dagster run config cannot hold a null inside a map
        if not isinstance(part, Mapping) or not part:
            raise ValueError(f"offsets[{i}].partition: a non-empty map is needed, got {part!r}")
        if off is not None and not isinstance(off, Mapping):
            raise ValueError(f"offsets[{i}].offset: a map or null is needed, got {off!r}")
        if role == "sink":
            if set(part) != {"kafka_topic", "kafka_partition"} or not isinstance(part["kafka_partition"], int):
                raise ValueError(
                    f"offsets[{i}].partition: a sink partition is {{kafka_topic: <topic>, kafka_partition: <int>}}, got {dict(part)!r}"
                )
            if off is not None and (set(off) != {"kafka_offset"} or not isinstance(off["kafka_offset"], int) or off["kafka_offset"] < 0):
                raise ValueError(f"offsets[{i}].offset: a sink offset is {{kafka_offset: <int >= 0>}} or null, got {dict(off)!r}")
        out.append({"partition": dict(part), "offset": None if off is None else dict(off)})
    return out


def wait_stopped(
    client: KafkaConnectClient, name: str, timeout: float = STOPPED_TIMEOUT_SECONDS, sleep: Callable[[float], None] = time.sleep
) -> dict:
    """Status once the connector is STOPPED with no task left (the worker refuses offset writes before)."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.status(name)
        if (status.get("connector") or {}).get("state") == "STOPPED" and not status.get("tasks"):
            return status
        sleep(0.3)
    raise RuntimeError(f"connector {name} did not reach STOPPED within {timeout:.0f}s (last status: {status})")


def write_when_stopped(write: Callable[[], str], name: str, timeout: float = 30.0) -> str:
    """The worker answers 400/409 while the sink's consumer group still has members for a moment
    after STOPPED; wait those out, fail on anything else."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return write()
        except ConnectError as e:
            text = str(e).lower()
            settling = getattr(e, "status", None) in (400, 409) and ("stopped" in text or "active" in text or "member" in text)
            if not settling or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stop_write_resume(client: KafkaConnectClient, name: str, write: Callable[[], str]) -> dict[str, Any]:
    """Stop, write the offsets, resume unless it was STOPPED before; what was done, for metadata."""
    before = (client.status(name).get("connector") or {}).get("state", "UNKNOWN")
    if before != "STOPPED":
        client.stop(name)
    wait_stopped(client, name)
    try:
        message = write_when_stopped(write, name)
    finally:
        if before != "STOPPED":
            client.resume(name)  # a failed write must not leave the pipeline stopped
    return {"state_before": before, "resumed": before != "STOPPED", "message": message}


def alter_offsets(client: KafkaConnectClient, name: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return stop_write_resume(client, name, lambda: client.alter_offsets(name, entries))


def reset_offsets(client: KafkaConnectClient, name: str) -> dict[str, Any]:
    return stop_write_resume(client, name, lambda: client.reset_offsets(name))


# ---------------------------------------------------------------- Dagster


def offsets_table(rows: list[dict[str, str]]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn("connector"), dg.TableColumn("partition"), dg.TableColumn("offset")]),
    )


class OffsetsSelection(dg.Config):
    connectors: list[str] = Field(default_factory=list, description="connector names from the spec; empty = all")


class AlterOffsetsConfig(dg.Config):
    connector: str = Field(description="a connector of the spec")
    offsets: list[dict[str, Any]] = Field(
        description="entries {partition: {...}, offset: {...}} as GET /connectors/<name>/offsets shows them; an empty "
        "offset {} erases that partition's offset; sink: partition {kafka_topic, kafka_partition}, offset {kafka_offset}"
    )


class ResetOffsetsConfig(dg.Config):
    connectors: list[str] = Field(description="connector names from the spec (at least one: a reset replays or re-snapshots)")
