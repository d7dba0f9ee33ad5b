"""Compile a FlinkEngine aggregate object into the Flink SQL job that maintains it.

Semantics ("the count of click rows that exist, per group value and event-time window"):

* The CDC topic is read as an append stream of row versions (connector ``kafka``, format ``json``) and reduced
  to the latest version per primary key (``ROW_NUMBER() ... ORDER BY proctime DESC`` = Flink's keep-last-row
  deduplication). A new version retracts the previous one downstream, so:
  - a delete (``__deleted = 'true'`` or ``__op = 'd'``, Debezium's rewrite mode) retracts the row's count;
  - an update that moves the row to another group or window moves its count;
  - an update that keeps the group value and the event time changes no count. Mini-batch (on by default) folds
    the retraction and the re-insertion into one step, so not even a transient count goes out.
  Tombstones (null values) are skipped: the rewrite record before them already carried the delete.
  We do not read the topic with ``upsert-kafka``: it sees ``__deleted`` only through a filter, which the
  planner pushes into its normalisation step, so the grace filter below could not run before normalisation.
* The aggregate is an updating ``GROUP BY group_by, event_ms / size * size`` (integer arithmetic on epoch ms)
  into an ``upsert-kafka`` table keyed by (group_by, window start): one output record per change, from the
  first row of a window on (not only at window close), no tombstone before an update. A group whose count drops
  to 0 emits a tombstone for its (group value, window start).
* Grace: the stream time is the largest event time seen so far (a running MAX over the input, in arrival
  order, so a replay from the earliest offsets makes the same decisions). A row version whose window ended
  more than ``grace`` before the stream time is dropped before deduplication: a closed window's count no
  longer changes, the same rule as ksqlDB's GRACE PERIOD. Versions without an event time (a delete carrying
  only the key) always pass, so deletes still retract.
  Not ``CURRENT_WATERMARK``: with mini-batch on, Flink's proctime mini-batch assigner replaces the source
  watermarks with processing-time markers, so every past row looked late; pushed into upsert-kafka's
  normalisation the function fails with "Access to timerService is not supported in this context".
* State TTL (``table.exec.state.ttl``) bounds the state: a key untouched for the TTL is forgotten. With the
  default (60 windows + grace) a window is closed by grace long before its state expires, unless the source
  is idle for the whole TTL: then the stream time's own state expires too and an old window could start
  counting from zero again.
* Rows without a key, group value or event time are not counted (a NULL key would fail the sink).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline_defs.core.types import Neutral
from pipeline_defs.systems.flink.spec import (
    FLINK_TYPES,
    RESERVED_PREFIX,
    FlinkEngine,
    FlinkObject,
    flink_duration,
)
from pipeline_defs.systems.flink.spec import duration_ms as _duration_ms

__all__ = [
    "NEUTRAL_TO_FLINK",
    "CompileError",
    "FlinkJob",
    "SourceColumn",
    "SourceResolver",
    "SourceTable",
    "compile_job",
    "compile_jobs",
    "job_name",
    "parse_job_name",
    "source_columns",
    "statement_hash",
]

# Neutral wire types -> Flink SQL types for JSON values (TIMESTAMP arrives as epoch ms, DATE as epoch days).
NEUTRAL_TO_FLINK: dict[Neutral, str] = {
    Neutral.STRING: "STRING",
    Neutral.BOOLEAN: "BOOLEAN",
    Neutral.INT32: "INT",
    Neutral.INT64: "BIGINT",
    Neutral.FLOAT64: "DOUBLE",
    Neutral.BYTES: "BYTES",
    Neutral.TIMESTAMP: "BIGINT",
    Neutral.DATE: "INT",
}

# CDC metadata fields the unwrapped Debezium value carries (ExtractNewRecordState add.fields=op,
# delete.handling.mode=rewrite) and helper columns the query adds.
OP, DELETED = "__op", "__deleted"
PROC_TIME, STREAM_TIME, ROW_NUM, WINDOW = "__proc_time", "__stream_time", "__row_num", "__window_start"
JOB_PREFIX = "cdc"


class CompileError(ValueError):
    """The spec cannot be compiled against the source tables (message names the object and the problem)."""


class SourceColumn(NamedTuple):
    name: str
    type: Neutral


class SourceTable(NamedTuple):
    """What the source package knows about a captured table: its CDC topic, columns and primary key."""

    topic: str
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...]


SourceResolver = Callable[[str], SourceTable]


@dataclass(frozen=True)
class FlinkJob:
    """The compiled job of one aggregate object."""

    object_name: str
    ddl: tuple[str, ...]  # CREATE TABLE of the source and the sink, in order
    insert: str  # the INSERT INTO that starts the job
    properties: Mapping[str, str]  # session properties the job runs with
    hash: str  # statement_hash(sql, properties): the job's identity
    shape: Mapping[str, object] = field(default_factory=dict)  # what the job's state depends on
    output_topic: str = ""

    @property
    def statements(self) -> tuple[str, ...]:
        return (*self.ddl, self.insert)

    @property
    def sql(self) -> str:
        return ";\n\n".join(self.statements) + ";"

    @property
    def shape_hash(self) -> str:
        return _digest(self.shape)[:8]

    @property
    def name(self) -> str:
        return job_name(self.object_name, self.hash, self.shape_hash, int(self.shape["window_size_ms"]))


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def statement_hash(sql: str, properties: Mapping[str, str]) -> str:
    """sha256 over the SQL text and the job properties: equal hash = the same job."""
    return _digest({"sql": sql, "properties": dict(properties)})


def job_name(object_name: str, hash_: str, shape_hash: str, window_ms: int) -> str:
    """``cdc:<OBJECT>:<hash12>:<shape8>-w<window ms>`` (pipeline.name): identity and state shape in one."""
    return f"{JOB_PREFIX}:{object_name}:{hash_[:12]}:{shape_hash}-w{window_ms}"


class JobName(NamedTuple):
    object_name: str
    hash12: str
    shape_hash: str
    window_ms: int | None


def parse_job_name(name: str) -> JobName | None:
    """The parts of one of our job names; None for any other job."""
    parts = name.split(":")
    if len(parts) != 4 or parts[0] != JOB_PREFIX:
        return None
    shape, _, window = parts[3].partition("-w")
    return JobName(parts[1], parts[2], shape, int(window) if window.isdigit() else None)


def _q(ident: str) -> str:
    # identifiers were validated (letters, digits, _), so a backtick cannot occur; quoting makes reserved
    # words such as `NAME`'s neighbours (VALUE, TIMESTAMP, ...) legal column names
    return f"`{ident}`"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _with(options: Mapping[str, str]) -> str:
    return ",\n  ".join(f"{_lit(k)} = {_lit(v)}" for k, v in options.items())


def source_columns(obj: FlinkObject, table: SourceTable) -> list[tuple[str, str]]:
    """(name, Flink type) of a source object: declared, else from the table's neutral types."""
    if obj.columns:
        return [(c.name, c.type) for c in obj.columns]
    cols = []
    for c in table.columns:
        if c.name.startswith(RESERVED_PREFIX):
            raise CompileError(
                f"object {obj.name}: source column {c.name!r} starts with {RESERVED_PREFIX!r}, which is reserved for CDC metadata"
            )
        try:
            cols.append((c.name, NEUTRAL_TO_FLINK[Neutral(c.type)]))
        except (KeyError, ValueError):
            raise CompileError(
                f"object {obj.name}: source column {c.name!r} has type {c.type!r}, not a neutral "
                f"type ({', '.join(n.value for n in Neutral)})"
            ) from None
    return cols


def _properties(engine: FlinkEngine, agg: FlinkObject) -> dict[str, str]:
    s = engine.settings
    window = agg.aggregate.window
    ttl_ms = _duration_ms(s.state_ttl) if s.state_ttl else window.size_ms * s.state_ttl_windows + window.grace_ms
    props = {
        "parallelism.default": str(s.parallelism),
        "execution.buffer-timeout.interval": flink_duration(_duration_ms(s.buffer_timeout)),
        "execution.checkpointing.interval": flink_duration(_duration_ms(s.checkpoint_interval)),
        # keep the last checkpoint when the job is cancelled, so health repair can resume from it
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "table.exec.state.ttl": flink_duration(ttl_ms),
        "table.exec.sink.not-null-enforcer": s.not_null_enforcer,
        "table.exec.mini-batch.enabled": "true" if s.mini_batch else "false",
    }
    if s.mini_batch:
        props["table.exec.mini-batch.allow-latency"] = flink_duration(_duration_ms(s.mini_batch_latency))
        props["table.exec.mini-batch.size"] = str(s.mini_batch_size)
    props.update(s.properties)
    return props


def compile_job(engine: FlinkEngine, name: str, resolve: SourceResolver, bootstrap_servers: str) -> FlinkJob:
    """The job of aggregate object `name`. `resolve(table)` describes a captured source table;
    `bootstrap_servers` is Kafka as the Flink cluster reaches it."""
    agg_obj = engine.object(name)
    if agg_obj.aggregate is None:
        raise CompileError(f"object {name}: a source object has no job of its own; compile its aggregates")
    a = agg_obj.aggregate
    src = engine.object(a.from_)
    if not bootstrap_servers or any(ch in bootstrap_servers for ch in "'\n\r"):
        raise CompileError(f"object {name}: Kafka bootstrap servers {bootstrap_servers!r} are empty or contain a quote or line break")
    table = resolve(src.source.table)
    cols = source_columns(src, table)
    types = dict(cols)
    key = list(src.key) or list(table.primary_key)
    if not key:
        raise CompileError(
            f"object {src.name}: table {src.source.table} has no primary key and the object "
            "declares no 'key'; without one an update or delete cannot be matched to its row"
        )
    for role, col in [("timestamp", src.timestamp), ("group_by", a.group_by), *(("key", k) for k in key)]:
        if col not in types:
            raise CompileError(
                f"object {src.name if role != 'group_by' else name}: {role} column {col!r} is not a "
                f"column of {src.name} ({', '.join(types)})"
            )
    if types[src.timestamp] != "BIGINT":
        raise CompileError(
            f"object {src.name}: timestamp column {src.timestamp!r} is {types[src.timestamp]}; "
            "event time must be epoch milliseconds (BIGINT)"
        )
    bad = [f"{c} {t}" for c, t in cols if t not in FLINK_TYPES]
    if bad:
        raise CompileError(f"object {src.name}: unsupported column types: {', '.join(bad)}")

    size, grace = a.window.size_ms, a.window.grace_ms
    ts, g = _q(src.timestamp), _q(a.group_by)
    source_ddl = (
        f"CREATE TABLE {_q(src.name)} (\n  "
        + ",\n  ".join([f"{_q(c)} {t}" for c, t in cols] + [f"{_q(OP)} STRING", f"{_q(DELETED)} STRING", f"{_q(PROC_TIME)} AS PROCTIME()"])
        + "\n) WITH (\n  "
        + _with(
            {
                "connector": "kafka",
                "topic": table.topic,
                "properties.bootstrap.servers": bootstrap_servers,
                # first start (no state): read the whole topic; a restore takes its offsets from the state
                "scan.startup.mode": "earliest-offset",
                "format": "json",
                "json.fail-on-missing-field": "false",
                "json.ignore-parse-errors": "false",
            }
        )
        + "\n)"
    )
    sink_ddl = (
        f"CREATE TABLE {_q(name)} (\n  "
        f"{g} {types[a.group_by]} NOT NULL,\n  "
        f"{_q(a.count_as)} BIGINT NOT NULL,\n  "
        f"{_q(a.window_start_as)} BIGINT NOT NULL,\n  "
        f"{_q(a.window_end_as)} BIGINT NOT NULL,\n  "
        f"PRIMARY KEY ({g}, {_q(a.window_start_as)}) NOT ENFORCED\n"
        ") WITH (\n  "
        + _with(
            {
                "connector": "upsert-kafka",
                "topic": agg_obj.output_topic,
                "properties.bootstrap.servers": bootstrap_servers,
                "key.format": "json",
                "value.format": "json",
                "value.fields-include": "ALL",
            }
        )
        + "\n)"
    )
    keys = ", ".join(_q(k) for k in key)
    needed = list(dict.fromkeys([*key, a.group_by, src.timestamp]))
    picked = ", ".join(_q(c) for c in needed)
    group_id = f"{JOB_PREFIX}-flink-{name}"
    insert = (
        f"INSERT INTO {_q(name)}\n"
        f"SELECT {g}, COUNT(*) AS {_q(a.count_as)}, {_q(WINDOW)} AS {_q(a.window_start_as)}, "
        f"{_q(WINDOW)} + {size} AS {_q(a.window_end_as)}\n"
        "FROM (\n"
        "  SELECT * FROM (\n"
        f"    SELECT {keys}, {g}, {ts} / {size} * {size} AS {_q(WINDOW)}, {_q(OP)}, {_q(DELETED)},\n"
        f"      ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {_q(PROC_TIME)} DESC) AS {_q(ROW_NUM)}\n"
        "    FROM (\n"
        f"      SELECT {picked}, {_q(OP)}, {_q(DELETED)}, {_q(PROC_TIME)},\n"
        f"        MAX({ts}) OVER (ORDER BY {_q(PROC_TIME)} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        f" AS {_q(STREAM_TIME)}\n"
        f"      FROM {_q(src.name)} /*+ OPTIONS('properties.group.id' = {_lit(group_id)}) */\n"
        f"      WHERE {' AND '.join(f'{_q(k)} IS NOT NULL' for k in key)}\n"
        "    )\n"
        f"    WHERE {ts} IS NULL OR {ts} / {size} * {size} + {size + grace} > {_q(STREAM_TIME)}\n"
        "  )\n"
        f"  WHERE {_q(ROW_NUM)} = 1\n"
        ")\n"
        f"WHERE {_q(DELETED)} IS DISTINCT FROM 'true' AND {_q(OP)} IS DISTINCT FROM 'd'\n"
        f"  AND {g} IS NOT NULL AND {_q(WINDOW)} IS NOT NULL\n"
        f"GROUP BY {g}, {_q(WINDOW)}"
    )
    props = _properties(engine, agg_obj)
    ddl = (source_ddl, sink_ddl)
    sql = ";\n\n".join((*ddl, insert)) + ";"
    shape = {
        # what the savepoint's state was built from; a change here makes it unusable (see jobs.compatibility)
        "source_topic": table.topic,
        "key": [f"{k} {types[k]}" for k in key],
        "group_by": f"{a.group_by} {types[a.group_by]}",
        "timestamp": src.timestamp,
        "window_size_ms": size,
        "mini_batch": engine.settings.mini_batch,
    }
    return FlinkJob(name, ddl, insert, props, statement_hash(sql, props), shape, agg_obj.output_topic)


def compile_jobs(engine: FlinkEngine, resolve: SourceResolver, bootstrap_servers: str) -> list[FlinkJob]:
    return [compile_job(engine, o.name, resolve, bootstrap_servers) for o in engine.aggregates]
