"""ksqlDB's answers as typed values: the /ksql entities (by `@type`), pull-query results, server info,
and the identifier quoting and "already exists" rules that go with them. Every entity keeps its raw
JSON so callers never lose a field this module does not model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from resources.ksqldb_errors import KsqlStatementError

_ALREADY_EXISTS = re.compile(r"A (stream|table) with the same name already exists", re.IGNORECASE)
_PLAIN_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class KsqlEntity:
    type: str
    statement_text: str
    warnings: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class CommandStatus(KsqlEntity):
    """`currentStatus`: the answer to CREATE / DROP / TERMINATE of a persistent query."""

    command_id: str
    status: str
    message: str
    query_id: str | None
    command_sequence_number: int


@dataclass(frozen=True, kw_only=True)
class WarningEntity(KsqlEntity):
    """`warning_entity`: e.g. CREATE ... IF NOT EXISTS on an existing source (ksqlDB >= 0.23)."""

    message: str


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    type: str
    name: str
    topic: str
    key_format: str
    value_format: str
    is_windowed: bool


@dataclass(frozen=True, kw_only=True)
class SourceList(KsqlEntity):
    """`streams` / `tables`."""

    sources: tuple[SourceInfo, ...]


@dataclass(frozen=True, kw_only=True)
class RunningQuery:
    id: str
    state: str | None
    sinks: tuple[str, ...]
    sink_kafka_topics: tuple[str, ...]
    query_string: str
    status_count: Mapping[str, int]
    query_type: str | None

    @property
    def is_running(self) -> bool:
        return self.state == "RUNNING"


@dataclass(frozen=True, kw_only=True)
class QueryList(KsqlEntity):
    """`queries`."""

    queries: tuple[RunningQuery, ...]


@dataclass(frozen=True, kw_only=True)
class FieldInfo:
    name: str
    type: str
    kind: str | None  # "KEY" / "HEADER"; absent for value columns
    schema: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class SourceDescription:
    name: str
    type: str
    fields: tuple[FieldInfo, ...]
    key_format: str
    value_format: str
    window_type: str | None
    topic: str
    read_queries: tuple[RunningQuery, ...]
    write_queries: tuple[RunningQuery, ...]
    partitions: int | None
    replication: int | None
    statement: str
    extended: bool
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def key_columns(self) -> tuple[FieldInfo, ...]:
        return tuple(f for f in self.fields if f.kind == "KEY")

    @property
    def value_columns(self) -> tuple[FieldInfo, ...]:
        return tuple(f for f in self.fields if f.kind is None)


@dataclass(frozen=True, kw_only=True)
class SourceDescriptionEntity(KsqlEntity):
    """`sourceDescription`: DESCRIBE [EXTENDED]."""

    description: SourceDescription


@dataclass(frozen=True, kw_only=True)
class TerminateQueryResult(KsqlEntity):
    """`terminate_query`: TERMINATE of a transient (push) query."""

    query_id: str
    was_terminated: bool


@dataclass(frozen=True)
class PullQueryResult:
    query_id: str | None
    column_names: tuple[str, ...]
    column_types: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ServerInfo:
    version: str
    kafka_cluster_id: str | None
    ksql_service_id: str | None
    server_status: str | None


@dataclass(frozen=True)
class HealthStatus:
    is_healthy: bool
    details: Mapping[str, Any]
    server_state: str | None


def _running_query(q: Mapping[str, Any]) -> RunningQuery:
    sinks = q.get("sinks") or ()
    if isinstance(sinks, str):  # the docs (not the server) describe `sinks` as a string
        sinks = (sinks,)
    return RunningQuery(
        id=q.get("id", ""),
        state=q.get("state"),
        sinks=tuple(sinks),
        sink_kafka_topics=tuple(q.get("sinkKafkaTopics") or ()),
        query_string=q.get("queryString", ""),
        status_count=dict(q.get("statusCount") or {}),
        query_type=q.get("queryType"),
    )


def _source_description(d: Mapping[str, Any]) -> SourceDescription:
    fields = tuple(
        FieldInfo(
            name=f.get("name", ""),
            type=(f.get("schema") or {}).get("type", ""),
            kind=f.get("type"),
            schema=f.get("schema") or {},
        )
        for f in d.get("fields") or ()
    )
    return SourceDescription(
        name=d.get("name", ""),
        type=d.get("type", ""),
        fields=fields,
        key_format=d.get("keyFormat", ""),
        value_format=d.get("valueFormat", ""),
        window_type=d.get("windowType"),
        topic=d.get("topic", ""),
        read_queries=tuple(_running_query(q) for q in d.get("readQueries") or ()),
        write_queries=tuple(_running_query(q) for q in d.get("writeQueries") or ()),
        partitions=d.get("partitions"),
        replication=d.get("replication"),
        statement=d.get("statement", ""),
        extended=bool(d.get("extended", False)),
        raw=d,
    )


def parse_entity(obj: Mapping[str, Any]) -> KsqlEntity:
    """One element of a /ksql response array, typed by its `@type`."""
    t = obj.get("@type", "")
    common: dict[str, Any] = {
        "type": t,
        "statement_text": obj.get("statementText", ""),
        "warnings": tuple(w.get("message", "") for w in obj.get("warnings") or () if isinstance(w, Mapping)),
        "raw": obj,
    }
    if t == "currentStatus":
        st = obj.get("commandStatus") or {}
        return CommandStatus(
            **common,
            command_id=obj.get("commandId", ""),
            status=st.get("status", ""),
            message=st.get("message", ""),
            query_id=st.get("queryId"),
            command_sequence_number=int(obj.get("commandSequenceNumber", -1)),
        )
    if t == "warning_entity":
        return WarningEntity(**common, message=obj.get("message", ""))
    if t in ("streams", "tables"):
        return SourceList(
            **common,
            sources=tuple(
                SourceInfo(
                    type=s.get("type", ""),
                    name=s.get("name", ""),
                    topic=s.get("topic", ""),
                    # `format` is the legacy single-format spelling still shown in the docs
                    key_format=s.get("keyFormat", s.get("format", "")),
                    value_format=s.get("valueFormat", s.get("format", "")),
                    is_windowed=bool(s.get("isWindowed", False)),
                )
                for s in obj.get(t) or ()
            ),
        )
    if t == "queries":
        return QueryList(**common, queries=tuple(_running_query(q) for q in obj.get("queries") or ()))
    if t == "sourceDescription":
        return SourceDescriptionEntity(**common, description=_source_description(obj.get("sourceDescription") or {}))
    if t == "terminate_query":
        return TerminateQueryResult(**common, query_id=obj.get("queryId", ""), was_terminated=bool(obj.get("wasTerminated")))
    return KsqlEntity(**common)


def is_already_exists(result: KsqlStatementError | KsqlEntity | Iterable[KsqlEntity] | BaseException) -> bool:
    """True when ksqlDB said the source already exists, in either of its two dialects:
    400/40001 statement_error for a plain CREATE, or a `warning_entity` for CREATE ... IF NOT EXISTS."""
    if isinstance(result, KsqlStatementError):
        return result.error_code == 40001 and bool(_ALREADY_EXISTS.search(result.server_message))
    if isinstance(result, BaseException):
        return False
    if isinstance(result, WarningEntity):
        return bool(_ALREADY_EXISTS.search(result.message))
    if isinstance(result, KsqlEntity):
        return False
    return any(is_already_exists(e) for e in result)


def quote_identifier(name: str) -> str:
    """Plain identifiers pass through (ksqlDB upper-cases them); anything else gets backticks so a
    name with dots or lower case is not re-interpreted."""
    if _PLAIN_IDENT.match(name) or (name.startswith("`") and name.endswith("`") and len(name) > 1):
        return name
    return "`" + name.replace("`", "``") + "`"
