"""Provisioning of each lineage node, in the reconciler's shape: read actual state, compare with
the spec, act only on a difference.

Every function takes `dry_run`. With dry_run=True it reads and reports what it would change and
writes nothing (the `plan` job); with dry_run=False it applies (the assets). Both paths share the
comparison, so the plan cannot disagree with what provisioning does.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs import derive, oracle_sql
from pipeline_defs.derive import LineageNode
from pipeline_defs.engines import engine_for
from pipeline_defs.spec import PipelineSpec
from resources.connect import KafkaConnectClient, config_diff, connector_health
from resources.kafka import KafkaClient
from resources.ksqldb import KsqlDbClient, KsqlStatementError, SourceDescription


@dataclass
class Outcome:
    """What provisioning did (or, in a dry run, would do) to one node."""

    node: str
    action: str  # created | updated | unchanged | observed | would_create | would_update | missing
    changes: list[str] = field(default_factory=list)  # one line per write, secrets redacted
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.changes) if self.action in ("created", "updated") else 0


def _would(action: str) -> str:
    return {"created": "would_create", "updated": "would_update"}.get(action, action)


# ------------------------------------------------------------------------------------- oracle

def _owner_of(sql: str, owner: str, tables: list[str]) -> str | None:
    for t in tables:
        if re.search(rf"(?<![A-Z0-9_$#]){re.escape(owner)}\.{re.escape(t)}(?![A-Z0-9_$#])", sql):
            return t
    return None


def oracle_partition(spec: PipelineSpec, statements: list[oracle_sql.Statement]) -> dict[str, list[oracle_sql.Statement]]:
    """Which lineage node each planned statement belongs to: "role", "user" or a table name.

    The role node also carries the database-wide prerequisite (supplemental logging), because every
    captured table depends on it and the role is the root of the Oracle chain.
    """
    user = spec.oracle.user.name
    role = spec.oracle.role.name
    tables = [t.name for t in spec.oracle.tables]
    out: dict[str, list[oracle_sql.Statement]] = {"role": [], "user": [], **{t: [] for t in tables}}
    for s in statements:
        table = _owner_of(s.sql, user, tables)
        if table is not None:
            out[table].append(s)
        elif s.kind == "role" or (s.kind == "grant" and s.sql.rstrip().endswith(f" TO {role}")) \
                or s.sql.startswith("ALTER DATABASE"):
            out["role"].append(s)
        else:
            out["user"].append(s)
    return out


def _oracle_part(spec: PipelineSpec, node: LineageNode) -> str:
    """The oracle_partition key of a node: "role", "user", or the table's name."""
    if node.kind in ("oracle_role", "oracle_user"):
        return node.kind.removeprefix("oracle_")
    return next(t.name for t in spec.oracle.tables if derive.asset_key_component(t.name) == node.key[-1])


def provision_oracle(spec: PipelineSpec, node: LineageNode, admin, *, user_password: str | None,
                     dry_run: bool) -> Outcome:
    """`admin` is an OracleClient with DBA rights (query/apply)."""
    state = oracle_sql.read_catalog(spec.oracle, admin.query)
    planned = oracle_sql.plan(spec.oracle, state, user_password=user_password)
    mine = oracle_partition(spec, planned)[_oracle_part(spec, node)]
    creates = {"role", "user", "table"}
    action = "unchanged" if not mine else ("created" if any(s.kind in creates for s in mine) else "updated")
    displays = [s.display for s in mine]
    md: dict[str, Any] = {"statements": len(mine)}
    if dry_run:
        return Outcome(node.name, _would(action), displays, md)
    results = admin.apply(mine) if mine else []
    applied = [r.display for r in results if str(r.outcome) == "applied"]
    md["applied"] = len(applied)
    if mine and not applied:
        action = "unchanged"  # every statement was an "already exists" no-op
    return Outcome(node.name, action, applied, md)


# ------------------------------------------------------------------------------------ connect

def rendered_connector_config(spec: PipelineSpec, name: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connector's config with secrets taken from the environment (at run time only)."""
    cfg = derive.connector_configs(spec)[name]
    return derive.render_connector_config(cfg, os.environ if env is None else env)


def wait_for_connector(connect: KafkaConnectClient, name: str, timeout: float = 20.0, *,
                       after_restart: bool = False) -> dict:
    """Status once it settles (RUNNING with tasks, or FAILED), or the last seen after `timeout`.

    `after_restart`: a restart is asynchronous, so the status right after it may still be the old
    FAILED; give the worker a moment to move off it before judging."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    if after_restart:
        leave_by = time.monotonic() + min(5.0, timeout)
        while time.monotonic() < leave_by:
            try:
                if connector_health(connect.status(name))[0] != "FAILED":
                    break
            except Exception:
                pass
            time.sleep(0.2)
    while time.monotonic() < deadline:
        try:
            status = connect.status(name)
        except Exception:
            status = {}
        state, _ = connector_health(status) if status else ("UNKNOWN", [])
        if state == "FAILED" or (state == "RUNNING" and status.get("tasks")):
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


def provision_connector(spec: PipelineSpec, node: LineageNode, connect: KafkaConnectClient, kafka: KafkaClient | None,
                        *, dry_run: bool, wait_seconds: float = 20.0) -> Outcome:
    name = node.name
    desired = {**rendered_connector_config(spec, name), "name": name}
    md: dict[str, Any] = {"config": derive.redacted_config(derive.connector_configs(spec)[name])}
    changes: list[str] = []

    redo = derive.redo_log_topic(spec, name) if node.kind == "source_connector" else None
    if redo and kafka is not None:
        # one partition, never shared; the connector creates it lazily on the first DML, so make it now
        info = kafka.describe_topic(redo)
        md["redo_log_topic"] = redo
        if info is None:
            if not dry_run:
                kafka.create_topic(redo, partitions=1, replication=spec.kafka.replication_factor,
                                   configs={"cleanup.policy": "delete", "retention.ms": "1209600000"})
            changes.append(f"create topic {redo} (1 partition)")

    actual = connect.get_config(name)
    if actual is None:
        action = "created"
        changes.append(f"create connector {name}")
    else:
        diff = config_diff(desired, actual)
        action = "updated" if diff else "unchanged"
        if diff:
            changes.append(f"update connector {name}: {', '.join(diff)}")
            md["changed_keys"] = diff
    if dry_run:
        return Outcome(name, _would(action) if changes else "unchanged", changes, md)
    result = connect.apply(name, desired) if action != "unchanged" else None
    if result is not None and result.action == "unchanged":
        action = "unchanged"  # the worker already had it (a concurrent apply)
    status = wait_for_connector(connect, name, wait_seconds) if wait_seconds else {}
    md.update(connector_metadata(status))
    if action == "unchanged" and not changes:
        return Outcome(name, "unchanged", [], md)
    return Outcome(name, action if action != "unchanged" else "updated", changes, md)


# -------------------------------------------------------------------------------------- kafka

def provision_topic(spec: PipelineSpec, node: LineageNode, kafka: KafkaClient, *, produced_by_ksql: bool,
                    dry_run: bool) -> Outcome:
    topic = node.name
    info = kafka.describe_topic(topic)
    changes: list[str] = []
    if info is None:
        if produced_by_ksql:
            # ksqlDB creates its sink topic with the CTAS; a missing one means the query never ran
            return Outcome(topic, "missing", [], {"exists": False})
        changes.append(f"create topic {topic} ({spec.kafka.partitions} partitions)")
        if not dry_run:
            kafka.create_topic(topic, partitions=spec.kafka.partitions, replication=spec.kafka.replication_factor)
            info = kafka.describe_topic(topic)
    if info is None:
        return Outcome(topic, "would_create", changes, {"exists": False})
    counts = kafka.topic_counts([topic]).get(topic)
    md = {"topic": topic, "partitions": info.partitions, "replication": info.replication,
          "records": counts.records if counts else 0, "end_offset": counts.end_offset if counts else 0}
    action = "created" if changes else ("observed" if produced_by_ksql else "unchanged")
    return Outcome(topic, action if not dry_run else _would(action), changes, md)


# ------------------------------------------------------------------------------------- ksqlDB

def _describe(ksql: KsqlDbClient, name: str) -> SourceDescription | None:
    try:
        return ksql.describe(name, extended=True)
    except KsqlStatementError as e:
        if "could not find" in e.message.lower():
            return None
        raise


def ksql_drift(spec: PipelineSpec, name: str, desc: SourceDescription) -> list[str]:
    """What differs between the live object and the spec: kind, columns (name, type, key), formats."""
    engine = engine_for(spec)
    obj = spec.ksqldb.object(name)
    diffs: list[str] = []
    kind = "TABLE" if obj.kind == "table" else "STREAM"
    if desc.type.upper() != kind:
        diffs.append(f"type {desc.type} != {kind}")
    want = [(c.name, c.type.upper(), bool(c.key)) for c in engine.object_columns(spec, obj)]
    have = [(f.name, f.type.upper(), f.kind == "KEY") for f in desc.fields
            if f.name not in ("WINDOWSTART", "WINDOWEND")]
    if sorted(want) != sorted(have):
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        diffs.append(f"columns: missing {missing}, unexpected {extra}")
    kf, vf = engine.formats(spec, obj)
    if desc.key_format.upper() != kf.upper():
        diffs.append(f"key format {desc.key_format} != {kf}")
    if desc.value_format.upper() != vf.upper():
        diffs.append(f"value format {desc.value_format} != {vf}")
    return diffs


def provision_ksql(spec: PipelineSpec, node: LineageNode, ksql: KsqlDbClient, *, dry_run: bool) -> Outcome:
    name = node.name
    stmt = engine_for(spec).statement(spec, name)
    props = derive.ksql_properties(spec)
    desc = _describe(ksql, name)
    changes: list[str] = []
    if desc is None:
        action = "created"
        changes.append(stmt.statement)
    else:
        drift = ksql_drift(spec, name, desc)
        action = "updated" if drift else "unchanged"
        if drift:
            # columns or formats cannot change in place: drop (which also terminates the writing
            # query, ksqlDB >= 0.15) and create again; the topic and its data stay
            changes += [f"DROP {'TABLE' if desc.type.upper() == 'TABLE' else 'STREAM'} {name} ({'; '.join(drift)})",
                        stmt.statement]
    if dry_run:
        return Outcome(name, _would(action), changes, {})
    if action == "updated":
        ksql.drop(desc.type, name, delete_topic=False)
    if action in ("created", "updated"):
        ksql.execute(stmt.statement, props)
        desc = _describe(ksql, name)
    md = ksql_metadata(ksql, desc)
    return Outcome(name, action, changes, md)


def ksql_metadata(ksql: KsqlDbClient, desc: SourceDescription | None) -> dict[str, Any]:
    if desc is None:
        return {"exists": False}
    queries = list(desc.write_queries)
    md: dict[str, Any] = {
        "type": desc.type, "topic": desc.topic, "key_format": desc.key_format, "value_format": desc.value_format,
        "window_type": desc.window_type or "", "columns": [f"{f.name} {f.type}{' KEY' if f.kind == 'KEY' else ''}" for f in desc.fields],
    }
    if queries:
        md["query_id"] = queries[0].id
        md["query_state"] = queries[0].state or "UNKNOWN"
    return md


# -------------------------------------------------------------------------------------- redis

def observe_redis(spec: PipelineSpec, node: LineageNode, redis_client, *, sink: str) -> Outcome:
    prefix = derive.redis_key_pattern(spec, sink)[:-1]
    docs = redis_client.read_prefix(prefix)
    shape = aggregate_shape(spec, sink)
    counts = [d.get(shape.count_field) for d in docs.values() if isinstance(d, Mapping)]
    ends = [d.get(shape.window_end_field) for d in docs.values() if isinstance(d, Mapping)]
    md = {"keys": len(docs), "total_events": int(sum(c for c in counts if isinstance(c, int | float))),
          "key_prefix": prefix}
    if any(isinstance(e, int) for e in ends):
        md["newest_window_end_ms"] = max(e for e in ends if isinstance(e, int))
    return Outcome(node.name, "observed", [], md)


def aggregate_shape(spec: PipelineSpec, sink_name: str):
    from pipeline_defs.reconcile import AggregateShape

    sink = next(s for s in spec.sinks if s.name == sink_name)
    agg = spec.ksqldb.object(sink.object).aggregate
    size_ms, _ = derive.window_ms(spec, sink.object)
    prefix = derive.redis_key_pattern(spec, sink)[:-1]
    return AggregateShape(prefix, agg.value_key_column, agg.count_as, agg.window_start_as, agg.window_end_as, size_ms)
