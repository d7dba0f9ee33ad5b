"""A ksqlDB server double: real HTTP on 127.0.0.1, replies shaped as the ksqlDB REST contract.

Contract: /work/shared/reference/ksqldb_oracle.md section 1; the JSON shapes are pinned by
tests/contract_samples/ksqldb/*.json and checked in tests/unit/test_ksqldb_resource.py.

What it simulates: the metastore (streams, tables, persistent queries) for CREATE [OR REPLACE]
STREAM|TABLE [IF NOT EXISTS], CREATE ... AS SELECT (single source, GROUP BY plain columns, WINDOW),
SHOW/LIST, DESCRIBE [EXTENDED], TERMINATE, DROP [IF EXISTS] [DELETE TOPIC], SET/UNSET; pull queries
on /query-stream over rows a test injects; /info, /healthcheck, /chc/*; 503 while initializing.
A request is validated on a copy of the metastore and applied only if every statement passes, as
ksqlDB's sandbox validation does. What it does not simulate (it answers 400 instead): joins, push
queries, schema inference from Schema Registry, SHOW QUERIES EXTENDED, and any other statement.

Test hooks: initializing, retry_after, not_ready_responses, command_queue_timeouts, kafka_healthy,
require_basic_auth(), set_table_rows(), fail_query(), requests (every HTTP request), commands
(statements that wrote to the command topic), sources / queries (the metastore).
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.doubles._http import DoubleServer, Reply, Request
from tests.doubles.ksql_sql import (
    NAME,
    Column,
    CreateAs,
    CreateSource,
    Describe,
    Drop,
    Query,
    Select,
    SetProperty,
    Show,
    SqlError,
    Terminate,
    Window,
    _strip_comments,
    ident,
    literal,
    parse_statement,
    parse_where,
    split_statements,
    type_schema,
)

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"

# ServerState.java: the message a starting server answers with (error_code 50302).
NOT_READY_MESSAGE = "KSQL is not yet ready to serve requests."
QUERY_ENDPOINT_MESSAGE = (
    "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT"
)
_STATS_PREFIX = ("The statistics field is deprecated and will be removed in a future version of ksql. "
                 "Please update your client to the latest version and use statisticsMap instead.\n")
_ERRORS_PREFIX = ("The errorStats field is deprecated and will be removed in a future version of ksql. "
                  "Please update your client to the latest version and use errorStatsMap instead.\n")
_SYSTEM_COLUMNS = {"WINDOWSTART": "BIGINT", "WINDOWEND": "BIGINT", "ROWTIME": "BIGINT",
                   "ROWPARTITION": "INTEGER", "ROWOFFSET": "BIGINT"}
_SAME_TYPE_AGGREGATES = {"SUM", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "AS_VALUE"}


@dataclass
class Source:
    name: str
    kind: str  # STREAM | TABLE
    columns: list[Column]
    key_format: str
    value_format: str
    topic: str
    statement: str
    window: Window | None = None
    is_source_table: bool = False  # CREATE SOURCE TABLE: materialized, pull-queryable
    is_cas: bool = False  # created by CREATE ... AS SELECT
    reads: list[str] = field(default_factory=list)
    partitions: int = 1
    replicas: int = 1
    timestamp: str = ""  # WITH (TIMESTAMP=...) column; "" means ROWTIME

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.key and not c.header]


@dataclass
class PersistentQuery:
    id: str
    statement: str
    sink: str
    sink_topic: str
    sources: list[str]
    properties: dict[str, Any]
    state: str = "RUNNING"
    status_count: dict[str, int] = field(default_factory=lambda: {"RUNNING": 1})


@dataclass
class _Metastore:
    sources: dict[str, Source] = field(default_factory=dict)
    queries: dict[str, PersistentQuery] = field(default_factory=dict)
    seq: int = -1
    commands: list[str] = field(default_factory=list)
    kafka_topics: set[str] | None = None  # None: every topic exists
    deleted_topics: list[str] = field(default_factory=list)

    def next_seq(self, statement: str) -> int:
        self.seq += 1
        self.commands.append(statement)
        return self.seq


def _error(status: int, code: int, message: str, *, statement: str | None = None, ctype: str = "application/json",
           **headers: str) -> Reply:
    if statement is None:
        return Reply.json(status, {"@type": "generic_error", "error_code": code, "message": message}, ctype, **headers)
    return Reply.json(status, {"@type": "statement_error", "error_code": code, "message": message,
                               "statementText": statement, "entities": []}, ctype, **headers)


def _status(text: str, command_id: str, message: str, query_id: str | None, seq: int) -> dict[str, Any]:
    return {"@type": "currentStatus", "statementText": text, "commandId": command_id,
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "commandSequenceNumber": seq, "warnings": []}


def _running(q: PersistentQuery) -> dict[str, Any]:
    return {"queryString": q.statement, "sinks": [q.sink], "sinkKafkaTopics": [q.sink_topic], "id": q.id,
            "statusCount": dict(q.status_count), "queryType": "PERSISTENT", "state": q.state}


class KsqlDbDouble(DoubleServer):
    def __init__(
        self,
        *,
        version: str = "0.29.0",
        kafka_cluster_id: str = "MkU3OEVBNTcwNTJENDM2Qg",
        service_id: str = "default_",
        initializing: bool = False,
        retry_after: int | None = 10,
        kafka_topics: set[str] | None = None,
    ):
        super().__init__()
        self.version = version
        self.kafka_cluster_id = kafka_cluster_id
        self.service_id = service_id
        self.initializing = initializing
        # Errors.notReady() sets Retry-After: 10; None models the server-state path, which sends none.
        self.retry_after = retry_after
        self.not_ready_responses = 0  # the next N requests answer 503/50302, then the server is ready
        self.command_queue_timeouts = 0  # the next N /ksql requests answer 503/50301
        self.kafka_healthy = True
        self._auth: tuple[str, str] | None = None
        self._meta = _Metastore(kafka_topics=set(kafka_topics) if kafka_topics is not None else None)
        self._rows: dict[str, list[dict[str, Any]]] = {}

    # -- test hooks ---------------------------------------------------------------------------

    def require_basic_auth(self, username: str, password: str) -> None:
        self._auth = (username, password)

    def set_table_rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Rows a pull query on `name` returns: dicts keyed by column name, incl. WINDOWSTART/WINDOWEND."""
        with self._lock:
            self._rows[ident(name)] = [dict(r) for r in rows]

    def fail_query(self, query_id: str) -> None:
        with self._lock:
            q = self._find_query(self._meta, query_id)
            if q is None:
                raise KeyError(query_id)
            q.state, q.status_count = "ERROR", {"ERROR": 1}

    @property
    def sources(self) -> dict[str, Source]:
        return self._meta.sources

    @property
    def queries(self) -> dict[str, PersistentQuery]:
        return self._meta.queries

    @property
    def commands(self) -> list[str]:
        """Statements that were distributed as commands (CREATE/DROP/TERMINATE): the writes."""
        return list(self._meta.commands)

    @property
    def deleted_topics(self) -> list[str]:
        return list(self._meta.deleted_topics)

    @property
    def kafka_topics(self) -> set[str] | None:
        return self._meta.kafka_topics

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> Reply:
        ctype = KSQL_V1_JSON if KSQL_V1_JSON in req.headers.get("accept", "") else "application/json"
        if req.path in ("/chc/ready", "/chc/live"):  # registered before the server-state handler
            return Reply.json(200, {}, ctype)
        if self._auth is not None and req.basic_auth != self._auth:
            return _error(401, 40100, "Unauthorized", ctype=ctype)
        with self._lock:
            if self.initializing or self.not_ready_responses > 0:
                self.not_ready_responses = max(0, self.not_ready_responses - 1)
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return _error(503, 50302, NOT_READY_MESSAGE, ctype=ctype, **headers)
        routes = {
            "/ksql": ("POST", self._ksql),
            "/query-stream": ("POST", self._query_stream),
            "/info": ("GET", self._info),
            "/healthcheck": ("GET", self._healthcheck),
        }
        if req.path not in routes:
            return Reply.text(404, "Not Found")
        method, fn = routes[req.path]
        if req.method != method:
            return Reply.text(405, "Method Not Allowed")
        return fn(req, ctype)

    def _info(self, req: Request, ctype: str) -> Reply:
        return Reply.json(200, {"KsqlServerInfo": {"version": self.version, "kafkaClusterId": self.kafka_cluster_id,
                                                   "ksqlServiceId": self.service_id, "serverStatus": "RUNNING"}}, ctype)

    def _healthcheck(self, req: Request, ctype: str) -> Reply:
        details = {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": self.kafka_healthy},
                   "commandRunner": {"isHealthy": True}}
        return Reply.json(200, {"isHealthy": all(d["isHealthy"] for d in details.values()), "details": details,
                                "serverState": "RUNNING"}, ctype)

    def _ksql(self, req: Request, ctype: str) -> Reply:
        try:
            body = req.json()
        except ValueError as exc:
            return _error(400, 40000, f"Invalid JSON in request: {exc}", ctype=ctype)
        if not isinstance(body, dict) or not isinstance(body.get("ksql"), str):
            return _error(400, 40000, "Invalid JSON in request: missing required field 'ksql'", ctype=ctype)
        with self._lock:
            wanted = body.get("commandSequenceNumber")
            if self.command_queue_timeouts > 0 or (isinstance(wanted, int) and wanted > self._meta.seq):
                self.command_queue_timeouts = max(0, self.command_queue_timeouts - 1)
                return _error(503, 50301, "Timed out while waiting for a previous command to execute. "
                                          f"command sequence number: {wanted if isinstance(wanted, int) else -1}",
                              ctype=ctype)
            try:
                statements = split_statements(body["ksql"])
            except SqlError as exc:
                return _error(400, exc.error_code, exc.message, statement=body["ksql"], ctype=ctype)
            sandbox = copy.deepcopy(self._meta)
            props = dict(body.get("streamsProperties") or {})
            entities = []
            for raw in statements:
                text = _strip_comments(raw).strip() + ";"
                try:
                    entity = self._execute(sandbox, parse_statement(raw), text, props)
                except SqlError as exc:
                    return _error(400, exc.error_code, exc.message, statement=text, ctype=ctype)
                if entity is not None:
                    entities.append(entity)
            self._meta = sandbox
        return Reply.json(200, entities, ctype)

    # -- statements ---------------------------------------------------------------------------

    def _execute(self, st: _Metastore, stmt: Any, text: str, props: dict[str, Any]) -> dict[str, Any] | None:
        if isinstance(stmt, CreateSource):
            return self._create_source(st, stmt, text)
        if isinstance(stmt, CreateAs):
            return self._create_as(st, stmt, text, props)
        if isinstance(stmt, Show):
            return self._show(st, stmt, text)
        if isinstance(stmt, Describe):
            src = st.sources.get(stmt.name)
            if src is None:
                raise SqlError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
            return {"@type": "sourceDescription", "statementText": text,
                    "sourceDescription": self._description(st, src, stmt.extended), "warnings": []}
        if isinstance(stmt, Terminate):
            return self._terminate(st, stmt, text)
        if isinstance(stmt, Drop):
            return self._drop(st, stmt, text)
        if isinstance(stmt, Query):
            raise SqlError(QUERY_ENDPOINT_MESSAGE, error_code=40002)
        if isinstance(stmt, SetProperty):
            if stmt.value is None:
                props.pop(stmt.key, None)
            else:
                props[stmt.key] = stmt.value
            return None
        raise SqlError(f"ksqlDB test double: unhandled statement {text!r}")

    @staticmethod
    def _check_not_exists(st: _Metastore, kind: str, name: str, if_not_exists: bool, or_replace: bool, text: str):
        existing = st.sources.get(name)
        if existing is None:
            return None
        if or_replace and existing.kind == kind:
            return None
        if if_not_exists and not or_replace:
            # DdlCommandExec / DistributingExecutor#checkIfNotExistsResponse (ksqlDB >= 0.23)
            return {"@type": "warning_entity", "statementText": text,
                    "message": f"Cannot add {kind.lower()} `{name}`: A {existing.kind.lower()} with the same name "
                               "already exists.", "warnings": []}
        raise SqlError(f"Cannot add {kind.lower()} '{name}': "
                       f"A {existing.kind.lower()} with the same name already exists")

    @staticmethod
    def _formats(props: dict[str, Any], default_key: str | None, default_value: str | None) -> tuple[str, str]:
        fmt = props.get("FORMAT")
        key = props.get("KEY_FORMAT") or fmt or default_key or "KAFKA"
        value = props.get("VALUE_FORMAT") or fmt or default_value
        if not value:
            raise SqlError("Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one "
                           "or set a default via the 'ksql.persistence.default.format.value' config.")
        return str(key).upper(), str(value).upper()

    @staticmethod
    def _check_upgrade(existing: Source, columns: list[Column]) -> None:
        old_keys = [(c.name, c.type) for c in existing.key_columns]
        new_keys = [(c.name, c.type) for c in columns if c.key]
        if old_keys != new_keys:
            raise SqlError(f"Cannot upgrade data source: DataSource '{existing.name}' has key columns {old_keys} "
                           f"which are not upgradeable to {new_keys}. Key columns must be identical.")
        old_vals = [(c.name, c.type) for c in existing.value_columns]
        new_vals = [(c.name, c.type) for c in columns if not c.key and not c.header]
        if new_vals[: len(old_vals)] != old_vals:
            raise SqlError(f"Cannot upgrade data source: DataSource '{existing.name}' has value columns {old_vals} "
                           f"which are not upgradeable to {new_vals}: only new columns at the end may be added.")

    def _create_source(self, st: _Metastore, s: CreateSource, text: str) -> dict[str, Any]:
        warning = self._check_not_exists(st, s.kind, s.name, s.if_not_exists, s.or_replace, text)
        if warning:
            return warning
        if s.is_source and s.or_replace:
            raise SqlError(f"CREATE OR REPLACE is not supported on source {s.kind.lower()}s.")
        if not s.columns:
            raise SqlError("ksqlDB test double: declare the columns; schema inference from Schema Registry "
                           "is not simulated")
        topic = s.props.get("KAFKA_TOPIC")
        if not topic:
            raise SqlError('Missing required property "KAFKA_TOPIC" which has no default value.')
        key_fmt, value_fmt = self._formats(s.props, None, None)
        keys = [c for c in s.columns if c.key]
        for c in keys:
            if s.kind == "TABLE" and not c.primary:
                raise SqlError(f"Column `{c.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
                               "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                               "Streams have KEYs, which have no uniqueness or NON NULL constraints.")
            if s.kind == "STREAM" and c.primary:
                raise SqlError(f"Column `{c.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
                               "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                               "Streams have KEYs, which have no uniqueness or NON NULL constraints.")
        if s.kind == "TABLE" and not keys:
            raise SqlError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
        timestamp = str(s.props.get("TIMESTAMP") or "").upper()
        if timestamp and timestamp not in {c.name for c in s.columns}:
            raise SqlError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{timestamp}'")
        if st.kafka_topics is not None and topic not in st.kafka_topics:
            if "PARTITIONS" not in s.props:
                raise SqlError(f"Topic '{topic}' does not exist. If you want to create a new topic for the "
                               f"{s.kind.lower()} please re-run the statement providing the required 'PARTITIONS' "
                               "configuration in the WITH clause (and optionally 'REPLICAS').")
            st.kafka_topics.add(topic)
        existing = st.sources.get(s.name)
        if existing is not None:
            self._check_upgrade(existing, s.columns)
        seq = st.next_seq(text)
        st.sources[s.name] = Source(
            name=s.name, kind=s.kind, columns=s.columns, key_format=key_fmt, value_format=value_fmt, topic=str(topic),
            statement=text, is_source_table=s.is_source, partitions=int(s.props.get("PARTITIONS", 1)),
            replicas=int(s.props.get("REPLICAS", 1)), timestamp=timestamp,
        )
        return _status(text, f"{s.kind.lower()}/`{s.name}`/create", f"{s.kind.title()} created", None, seq)

    def _create_as(self, st: _Metastore, s: CreateAs, text: str, props: dict[str, Any]) -> dict[str, Any]:
        warning = self._check_not_exists(st, s.kind, s.name, s.if_not_exists, s.or_replace, text)
        if warning:
            return warning
        sel = s.select
        src = st.sources.get(sel.source)
        if src is None:
            raise SqlError(f"{sel.source} does not exist.")
        produces_table = bool(sel.group_by) or src.kind == "TABLE"
        if s.kind == "TABLE" and not produces_table:
            raise SqlError("Invalid result type. Your SELECT query produces a STREAM. "
                           "Please use CREATE STREAM AS SELECT statement instead.")
        if s.kind == "STREAM" and produces_table:
            raise SqlError("Invalid result type. Your SELECT query produces a TABLE. "
                           "Please use CREATE TABLE AS SELECT statement instead.")
        if sel.window and not sel.group_by:
            raise SqlError("WINDOW clause requires a GROUP BY clause.")
        columns = self._project(sel, src, s.kind, s.name)
        key_fmt, value_fmt = self._formats(s.props, src.key_format, src.value_format)
        topic = str(s.props.get("KAFKA_TOPIC") or s.name)  # ksql.output.topic.name.prefix defaults to ""
        existing = st.sources.get(s.name)
        old_query = next((q for q in st.queries.values() if existing and q.sink == existing.name), None)
        if existing is not None:
            if sel.window or existing.window:
                raise SqlError("Cannot upgrade data source: in-place upgrades of windowed sources are not supported.")
            self._check_upgrade(existing, columns)
        seq = st.next_seq(text)
        # CREATE OR REPLACE upgrades the running query in place and keeps its id.
        qid = old_query.id if old_query else f"{'CTAS' if s.kind == 'TABLE' else 'CSAS'}_{s.name}_{seq}"
        st.sources[s.name] = Source(
            name=s.name, kind=s.kind, columns=columns, key_format=key_fmt, value_format=value_fmt, topic=topic,
            statement=text, window=sel.window, is_cas=True, reads=[src.name],
            partitions=int(s.props.get("PARTITIONS", src.partitions)),
            replicas=int(s.props.get("REPLICAS", src.replicas)),
        )
        st.queries[qid] = PersistentQuery(qid, text, s.name, topic, [src.name], dict(props))
        if st.kafka_topics is not None:
            st.kafka_topics.add(topic)
        return _status(text, f"{s.kind.lower()}/`{s.name}`/create", f"Created query with ID {qid}", qid, seq)

    def _project(self, sel: Select, src: Source, kind: str, sink: str) -> list[Column]:
        by_name = {c.name: c for c in src.columns}
        group: list[str] = []
        for g in sel.group_by + sel.partition_by:
            if not re.fullmatch(rf"(?:{NAME}\.)?{NAME}", g.strip()):
                raise SqlError(f"ksqlDB test double: GROUP BY / PARTITION BY supports plain columns only, not {g!r}")
            name = ident(g.strip().split(".")[-1])
            if name not in by_name:
                raise SqlError(f"Line: 1, Col: 1: GROUP BY column '{name}' cannot be resolved.")
            group.append(name)
        keys: list[Column] = []
        values: list[Column] = []
        anon = 0
        for item in sel.items:
            if item.expr == "*":
                if sel.group_by:
                    raise SqlError("Non-aggregate SELECT expression(s) not part of GROUP BY: *")
                for c in src.columns:
                    if c.header:
                        continue
                    is_key = (c.name in group) if sel.partition_by else c.key
                    col = Column(c.name, c.type, key=is_key, primary=is_key and kind == "TABLE")
                    (keys if is_key else values).append(col)
                continue
            sql_type, ref, fn = self._expr_type(item.expr, by_name)
            name = item.alias or ref
            if name is None:
                name, anon = f"KSQL_COL_{anon}", anon + 1
            if group:
                is_key = ref is not None and ref in group and fn is None
            else:
                is_key = ref is not None and fn is None and by_name.get(ref) is not None and by_name[ref].key
            (keys if is_key else values).append(Column(name, sql_type, key=is_key, primary=is_key and kind == "TABLE"))
        missing = [g for g in group if g not in {c.name for c in keys}] if sel.group_by else []
        if missing:
            g = missing[0]
            raise SqlError("Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
                           f"The query used to build `{sink}` must include the grouping expression {g} in its "
                           f"projection (eg, SELECT {g}...).")
        seen: set[str] = set()
        for c in keys + values:
            if c.name in seen:
                raise SqlError(f"Duplicate column names:\n\t{c.name}")
            seen.add(c.name)
        return keys + values

    @staticmethod
    def _column_type(ref: str, by_name: dict[str, Column]) -> str:
        if ref in _SYSTEM_COLUMNS:
            return _SYSTEM_COLUMNS[ref]
        if ref not in by_name:
            raise SqlError(f"Line: 1, Col: 8: SELECT column '{ref}' cannot be resolved.")
        return by_name[ref].type

    def _expr_type(self, expr: str, by_name: dict[str, Column]) -> tuple[str, str | None, str | None]:
        """(SQL type, referenced column, function name) of a projection expression."""
        e = expr.strip()
        if re.fullmatch(rf"(?:{NAME}\.)?{NAME}", e):
            ref = ident(e.split(".")[-1])
            return self._column_type(ref, by_name), ref, None
        if m := re.fullmatch(rf"({NAME})\s*\((.*)\)", e, re.S):
            fn, arg = m.group(1).upper(), m.group(2).strip()
            arg_ref = ident(arg.split(".")[-1]) if re.fullmatch(rf"(?:{NAME}\.)?{NAME}", arg) else None
            if fn in ("COUNT", "COUNT_DISTINCT"):
                return "BIGINT", None, fn
            if arg_ref is None:
                return "STRING", None, fn  # approximation: the double does not type arbitrary expressions
            arg_type = self._column_type(arg_ref, by_name)
            if fn in _SAME_TYPE_AGGREGATES:
                return arg_type, (arg_ref if fn == "AS_VALUE" else None), fn
            if fn == "AVG":
                return "DOUBLE", None, fn
            if fn in ("COLLECT_LIST", "COLLECT_SET"):
                return f"ARRAY<{arg_type}>", None, fn
            return "STRING", None, fn
        try:
            value = literal(e)
        except SqlError:
            return "STRING", None, "EXPR"
        kind = ("BOOLEAN" if isinstance(value, bool) else "INTEGER" if isinstance(value, int)
                else "DOUBLE" if isinstance(value, float) else "STRING")
        return kind, None, "LITERAL"

    def _show(self, st: _Metastore, s: Show, text: str) -> dict[str, Any]:
        if s.what == "QUERIES":
            if s.extended:
                raise SqlError("ksqlDB test double: SHOW QUERIES EXTENDED is not simulated")
            return {"@type": "queries", "statementText": text,
                    "queries": [_running(q) for q in st.queries.values()], "warnings": []}
        kind = s.what[:-1]  # STREAMS -> STREAM
        sources = sorted((x for x in st.sources.values() if x.kind == kind), key=lambda x: x.name)
        if s.extended:
            return {"@type": "source_descriptions", "statementText": text,
                    "sourceDescriptions": [self._description(st, x, True) for x in sources], "warnings": []}
        return {"@type": s.what.lower(), "statementText": text, s.what.lower(): [
            {"type": x.kind, "name": x.name, "topic": x.topic, "keyFormat": x.key_format,
             "valueFormat": x.value_format, "isWindowed": x.window is not None} for x in sources], "warnings": []}

    @staticmethod
    def _description(st: _Metastore, src: Source, extended: bool) -> dict[str, Any]:
        def field_info(c: Column) -> dict[str, Any]:
            f: dict[str, Any] = {"name": c.name, "schema": type_schema(c.type)}
            if c.key:
                f["type"] = "KEY"
            elif c.header:
                f["type"] = "HEADER"
            return f

        readers = sorted(x.name for x in st.sources.values() if src.name in x.reads)
        return {
            "name": src.name,
            "windowType": src.window.type if src.window else None,
            "readQueries": [_running(q) for q in st.queries.values() if src.name in q.sources],
            "writeQueries": [_running(q) for q in st.queries.values() if q.sink == src.name],
            "fields": [field_info(c) for c in src.columns],
            "type": src.kind,
            "timestamp": src.timestamp,
            "statistics": _STATS_PREFIX if extended else "",
            "errorStats": _ERRORS_PREFIX if extended else "",
            "extended": extended,
            "keyFormat": src.key_format,
            "valueFormat": src.value_format,
            "topic": src.topic,
            "partitions": src.partitions if extended else 0,
            "replication": src.replicas if extended else 0,
            "statement": src.statement,
            "queryOffsetSummaries": [],
            "sourceConstraints": readers,
            "clusterStatistics": [],
            "clusterErrorStats": [],
        }

    @staticmethod
    def _find_query(st: _Metastore, query_id: str) -> PersistentQuery | None:
        return next((q for q in st.queries.values() if q.id.upper() == query_id.upper()), None)

    def _terminate(self, st: _Metastore, s: Terminate, text: str) -> dict[str, Any]:
        if s.query_id == "ALL":
            st.queries.clear()
            return _status(text, "terminate/ALL/execute", "Query terminated.", None, st.next_seq(text))
        q = self._find_query(st, s.query_id)
        if q is None:
            raise SqlError(f"Unknown queryId: {s.query_id}")
        del st.queries[q.id]
        return _status(text, f"terminate/{q.id}/execute", "Query terminated.", None, st.next_seq(text))

    def _drop(self, st: _Metastore, s: Drop, text: str) -> dict[str, Any]:
        src = st.sources.get(s.name)
        command_id = f"{s.kind.lower()}/{s.name}/drop"  # DROP uses the unescaped name
        if src is None:
            if not s.if_exists:
                raise SqlError(f"{s.kind.title()} {s.name} does not exist.")
            return _status(text, command_id, f"Source `{s.name}` does not exist.", None, st.next_seq(text))
        if src.kind != s.kind:
            raise SqlError(f"Incompatible data source type is {src.kind.lower()}, but statement was DROP {s.kind}")
        readers = sorted(x.name for x in st.sources.values() if s.name in x.reads)
        if readers:
            raise SqlError(f"Cannot drop {s.name}.\nThe following streams and/or tables read from this source: "
                           f"[{', '.join(readers)}].\nYou need to drop them before dropping {s.name}.")
        # Since 0.15 DROP terminates the query that created the source.
        for qid in [q.id for q in st.queries.values() if q.sink == s.name]:
            del st.queries[qid]
        del st.sources[s.name]
        if s.delete_topic:
            st.deleted_topics.append(src.topic)
            if st.kafka_topics is not None:
                st.kafka_topics.discard(src.topic)
        return _status(text, command_id, f"Source `{s.name}` (topic: {src.topic}) was dropped.", None,
                       st.next_seq(text))

    # -- /query-stream ---------------------------------------------------------------------------

    def _query_stream(self, req: Request, ctype: str) -> Reply:
        try:
            body = req.json()
        except ValueError as exc:
            return _error(400, 40000, f"Invalid JSON in request: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            return _error(400, 40000, "Invalid JSON in request: missing required field 'sql'")
        sql = body["sql"]
        with self._lock:
            try:
                columns, rows = self._pull(sql)
            except SqlError as exc:
                return _error(400, exc.error_code, exc.message, statement=sql)
        meta = {"queryId": f"query_{int(time.time() * 1000)}", "columnNames": [c for c, _ in columns],
                "columnTypes": [t for _, t in columns]}
        values = [[row.get(c) for c, _ in columns] for row in rows]
        accept = req.headers.get("accept", "")
        if "application/json" in accept and DELIMITED not in accept:
            return Reply.json(200, [meta, *values], "application/json")
        lines = [json.dumps(meta).encode() + b"\n"] + [json.dumps(v).encode() + b"\n" for v in values]
        return Reply(200, content_type=DELIMITED, chunks=lines)

    def _pull(self, sql: str) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
        statements = split_statements(sql)
        if len(statements) != 1:
            raise SqlError("Expected exactly one statement in a /query-stream request")
        stmt = parse_statement(statements[0])
        if not isinstance(stmt, Query) or not stmt.select.source:
            raise SqlError("/query-stream accepts SELECT statements only")
        sel = stmt.select
        if sel.emit_changes:
            raise SqlError("ksqlDB test double: push queries (EMIT CHANGES) are not simulated")
        if sel.group_by or sel.window or sel.partition_by:
            raise SqlError("Pull queries don't support GROUP BY, WINDOW or PARTITION BY clauses.")
        src = self._meta.sources.get(sel.source)
        if src is None:
            raise SqlError(f"{sel.source} does not exist.")
        if src.kind == "STREAM":
            raise SqlError("ksqlDB test double: pull queries on streams are not simulated")
        if not (src.is_cas or src.is_source_table):
            raise SqlError(
                f"The `{src.name}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE "
                f"QUERYABLE_{src.name} AS SELECT * FROM {src.name}'. See https://cnfl.io/queries for more info.\n"
                "Add EMIT CHANGES if you intended to issue a push query."
            )
        if src.is_cas and not any(q.sink == src.name for q in self._meta.queries.values()):
            raise SqlError("Materializing query has been stopped")
        all_cols = [(c.name, c.type) for c in src.key_columns]
        if src.window:
            all_cols += [("WINDOWSTART", "BIGINT"), ("WINDOWEND", "BIGINT")]
        all_cols += [(c.name, c.type) for c in src.value_columns]
        types = dict(all_cols)
        selected: list[tuple[str, str]] = []
        for item in sel.items:
            if item.expr == "*":
                selected += all_cols
                continue
            if not re.fullmatch(rf"(?:{NAME}\.)?{NAME}", item.expr):
                raise SqlError(f"ksqlDB test double: pull-query projection supports columns only, not {item.expr!r}")
            ref = ident(item.expr.split(".")[-1])
            if ref not in types:
                raise SqlError(f"Line: 1, Col: 8: SELECT column '{ref}' cannot be resolved.")
            selected.append((item.alias or ref, types[ref]))
        conditions = parse_where(sel.where)
        for col, _, _ in conditions:
            if col not in types:
                raise SqlError(f"Line: 1, Col: 1: WHERE column '{col}' cannot be resolved.")
        rows = []
        for row in self._rows.get(src.name, []):
            missing = [c for c, _ in all_cols if c not in row]
            if missing:
                raise RuntimeError(f"set_table_rows({src.name!r}) row lacks columns {missing}: {row}")
            if all(_compare(row[c], op, v) for c, op, v in conditions):
                rows.append(row)
        if sel.limit is not None:
            rows = rows[: sel.limit]
        aliases = {item.alias: ident(item.expr.split(".")[-1]) for item in sel.items if item.alias}
        projected = [{name: row[aliases.get(name, name)] for name, _ in selected} for row in rows]
        return selected, projected


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return a == b
    if op in ("!=", "<>"):
        return a != b
    if a is None or b is None:
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


__all__ = ["KsqlDbDouble", "NOT_READY_MESSAGE", "PersistentQuery", "Source"]
