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

Kafka-backed mode (opt-in: ``KsqlDbDouble(kafka_bootstrap="127.0.0.1:9092")``): the metastore checks
and creates real topics, and the windowed count aggregate the pipeline generates runs for real.
- CREATE STREAM/TABLE over a topic that does not exist fails (400/40001, ksqlDB's TopicCreateInjector
  message) unless the WITH clause has PARTITIONS, which creates it (REPLICAS, default 1; tables
  compacted). A PARTITIONS that disagrees with an existing topic fails like KafkaTopicClientImpl.
- CREATE TABLE ... AS SELECT g, AS_VALUE(g) AS v, COUNT(*) AS c, WINDOWSTART AS s, WINDOWEND AS e
  FROM <stream> WINDOW TUMBLING (SIZE .., GRACE PERIOD ..) GROUP BY g [EMIT CHANGES] with
  KEY_FORMAT 'KAFKA' and VALUE_FORMAT 'JSON' (any subset/order of those projections) creates the
  sink topic (PARTITIONS from WITH, else the source topic's count; cleanup.policy delete) and starts
  a KafkaAggregation thread: it reads the stream's topic from `auto.offset.reset` (streamsProperties
  or SET; default latest = the end offsets when the CREATE is answered), deserializes JSON values
  with case-insensitive column names, takes event time from the stream's TIMESTAMP column (BIGINT
  epoch ms) or the record timestamp, and runs the windowed count of tests/doubles/ksql_windowed_count.py
  (whose docstring cites the ksqlDB 0.29 / Kafka Streams 3.5 source of each rule): windows by event time;
  records whose window closed (window end <= the task's stream time - grace; default grace 24 h - size)
  are dropped; updates are held in a record cache and produced once per commit (commit.interval.ms,
  default 2000, and cache.max.bytes.buffering, default 10 MB, from streamsProperties/SET or the
  server's streams_config; 0 = every update) with the latest count per window; each record goes to
  the sink partition of murmur2(base key) -- every window of a key in one partition. Key: UTF-8 group
  value + 8-byte big-endian window start; value JSON of the value columns; timestamp the window's highest
  event time. A clean stop (DROP/TERMINATE) commits; fail_query() does not. State is in memory, source
  offsets are not committed; records ksqlDB would skip (bad JSON, null group, null/invalid timestamp)
  go to the aggregation's processing_log. No emission order across windows or keys is promised: wait
  for a state (emitted_counts(), counts()) rather than a sequence.
- Stateless stream queries (tests/doubles/ksql_projection.py): CREATE STREAM ... WITH (TIMESTAMP=..) AS SELECT
  <column | s->f | literal | CAST(.. AS ..) | CASE WHEN .. END> FROM <key-less JSON stream> [WHERE a = b AND ..]
  and INSERT INTO <stream> SELECT ... (a second writer: query id INSERTQUERY_<n>; the result schema must equal
  the target's; it blocks DROP of its source and target until terminated, EngineContext#throwIfInsertQueriesExist)
  run a thread producing one JSON record per passing row, right away; expressions as tests/doubles/ksql_expr.py
  documents. The windowed aggregate also takes SUM(<INTEGER/BIGINT column>) in place of COUNT(*) (a stream with a
  TIMESTAMP column gives the aggregate its event time, whatever the record timestamp).
- DROP/TERMINATE stop the thread; fail_query() stops it and sets state ERROR; a thread that dies
  (e.g. its topic was deleted) turns its query to ERROR. Pull queries on the table read the live
  state. DROP ... DELETE TOPIC deletes the real topic. Other persistent-query shapes are refused.
Hooks: aggregations (query id -> KafkaAggregation), aggregation(name_or_query_id).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.doubles._http import DoubleServer, Reply, Request
from tests.doubles.ksql_expr import check_cond, parse_cond, parse_expr, type_of
from tests.doubles.ksql_projection import KafkaProjection, ProjectionPlan
from tests.doubles.ksql_sql import (
    NAME,
    Column,
    CreateAs,
    CreateSource,
    Describe,
    Drop,
    InsertInto,
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
from tests.doubles.ksql_windowed_count import (
    DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_COMMIT_INTERVAL_MS,
    DEFAULT_STREAM_THREADS,
    WindowedCount,
    WindowUpdate,
    default_grace_ms,
    partition_for_key,
)

log = logging.getLogger(__name__)

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"

# ServerState.java: the message a starting server answers with (error_code 50302).
NOT_READY_MESSAGE = "KSQL is not yet ready to serve requests."
QUERY_ENDPOINT_MESSAGE = "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT"
_STATS_PREFIX = (
    "The statistics field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use statisticsMap instead.\n"
)
_ERRORS_PREFIX = (
    "The errorStats field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use errorStatsMap instead.\n"
)
_SYSTEM_COLUMNS = {"WINDOWSTART": "BIGINT", "WINDOWEND": "BIGINT", "ROWTIME": "BIGINT", "ROWPARTITION": "INTEGER", "ROWOFFSET": "BIGINT"}
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
    plan: AggregationPlan | None = None  # Kafka-backed mode: what the query's thread computes


@dataclass
class _Metastore:
    sources: dict[str, Source] = field(default_factory=dict)
    queries: dict[str, PersistentQuery] = field(default_factory=dict)
    seq: int = -1
    commands: list[str] = field(default_factory=list)
    kafka_topics: set[str] | None = None  # None: every topic exists
    deleted_topics: list[str] = field(default_factory=list)
    # Kafka-backed mode: topic changes a request makes, applied only once every statement validated:
    # ("create", name, partitions, replicas, configs) | ("delete", name)
    topic_ops: list[tuple] = field(default_factory=list)

    def next_seq(self, statement: str) -> int:
        self.seq += 1
        self.commands.append(statement)
        return self.seq


def _error(status: int, code: int, message: str, *, statement: str | None = None, ctype: str = "application/json", **headers: str) -> Reply:
    if statement is None:
        return Reply.json(status, {"@type": "generic_error", "error_code": code, "message": message}, ctype, **headers)
    return Reply.json(
        status,
        {"@type": "statement_error", "error_code": code, "message": message, "statementText": statement, "entities": []},
        ctype,
        **headers,
    )


def _status(text: str, command_id: str, message: str, query_id: str | None, seq: int) -> dict[str, Any]:
    return {
        "@type": "currentStatus",
        "statementText": text,
        "commandId": command_id,
        "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
        "commandSequenceNumber": seq,
        "warnings": [],
    }


def _running(q: PersistentQuery) -> dict[str, Any]:
    return {
        "queryString": q.statement,
        "sinks": [q.sink],
        "sinkKafkaTopics": [q.sink_topic],
        "id": q.id,
        "statusCount": dict(q.status_count),
        "queryType": "PERSISTENT",
        "state": q.state,
    }


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
        kafka_bootstrap: str | None = None,
        streams_config: dict[str, Any] | None = None,
    ):
        """kafka_topics: simulate topic existence with this set (None: every topic exists).
        kafka_bootstrap: Kafka-backed mode against that cluster (see the module docstring).
        streams_config: the server's ksql.streams.* settings (e.g. {"commit.interval.ms": 100}); a
        request's streamsProperties override them per query."""
        super().__init__()
        if kafka_bootstrap is not None and kafka_topics is not None:
            raise ValueError("kafka_topics simulates topics; with kafka_bootstrap the real topics are used")
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
        self.kafka_bootstrap = kafka_bootstrap
        self.streams_config = dict(streams_config or {})
        self._admin: Any = None
        self._aggregations: dict[str, KafkaAggregation] = {}

    # -- test hooks ---------------------------------------------------------------------------

    def require_basic_auth(self, username: str, password: str) -> None:
        self._auth = (username, password)

    def set_table_rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Rows a pull query on `name` returns: dicts keyed by column name, incl. WINDOWSTART/WINDOWEND."""
        with self._lock:
            self._rows[ident(name)] = [dict(r) for r in rows]

    def fail_query(self, query_id: str) -> None:
        """The query fails: state ERROR in SHOW QUERIES / DESCRIBE; in Kafka-backed mode its thread stops."""
        with self._lock:
            q = self._find_query(self._meta, query_id)
            if q is None:
                raise KeyError(query_id)
            q.state, q.status_count = "ERROR", {"ERROR": 1}
            agg = self._aggregations.get(q.id)
        if agg is not None:
            agg.stop(commit=False)  # a failed Kafka Streams thread does not commit its cache

    @property
    def aggregations(self) -> dict[str, KafkaAggregation]:
        """Kafka-backed mode: every aggregation thread started, by query id (stopped ones included)."""
        with self._lock:
            return dict(self._aggregations)

    def aggregation(self, name_or_query_id: str) -> KafkaAggregation:
        """The newest aggregation of a query id or of the table it writes."""
        with self._lock:
            wanted = name_or_query_id.upper()
            found = [a for qid, a in self._aggregations.items() if qid.upper() == wanted or a.plan.sink == wanted]
        if not found:
            raise KeyError(name_or_query_id)
        return found[-1]

    def stop(self) -> None:
        with self._lock:
            aggs = list(self._aggregations.values())
        for a in aggs:
            a.stop()
        super().stop()

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
        return Reply.json(
            200,
            {
                "KsqlServerInfo": {
                    "version": self.version,
                    "kafkaClusterId": self.kafka_cluster_id,
                    "ksqlServiceId": self.service_id,
                    "serverStatus": "RUNNING",
                }
            },
            ctype,
        )

    def _healthcheck(self, req: Request, ctype: str) -> Reply:
        details = {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": self.kafka_healthy}, "commandRunner": {"isHealthy": True}}
        return Reply.json(
            200, {"isHealthy": all(d["isHealthy"] for d in details.values()), "details": details, "serverState": "RUNNING"}, ctype
        )

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
                return _error(
                    503,
                    50301,
                    "Timed out while waiting for a previous command to execute. "
                    f"command sequence number: {wanted if isinstance(wanted, int) else -1}",
                    ctype=ctype,
                )
            try:
                statements = split_statements(body["ksql"])
            except SqlError as exc:
                return _error(400, exc.error_code, exc.message, statement=body["ksql"], ctype=ctype)
            self._sync_aggregation_states()
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
            ops, sandbox.topic_ops = sandbox.topic_ops, []
            try:
                self._apply_topic_ops([op for op in ops if op[0] == "create"])
            except Exception as exc:
                return _error(500, 50000, f"Could not create the Kafka topic: {exc}", statement=body["ksql"], ctype=ctype)
            self._meta = sandbox
            self._reconcile_aggregations()
            try:
                self._apply_topic_ops([op for op in ops if op[0] == "delete"])
            except Exception as exc:
                return _error(500, 50000, f"Could not delete the corresponding kafka topic: {exc}", statement=body["ksql"], ctype=ctype)
        return Reply.json(200, entities, ctype)

    # -- Kafka-backed mode ----------------------------------------------------------------------

    def _kafka_admin(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient({"bootstrap.servers": self.kafka_bootstrap, "logger": log})
        return self._admin

    def _topic_info(self, st: _Metastore, topic: str) -> tuple[int, int] | None:
        """(partitions, replicas) of a topic as this request sees it: its own pending creates and
        deletes first, then the real cluster. None when it does not exist."""
        for op in reversed(st.topic_ops):
            if op[1] == topic:
                return (op[2], op[3]) if op[0] == "create" else None
        md = self._kafka_admin().list_topics(timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return None
        return len(t.partitions), max((len(p.replicas) for p in t.partitions.values()), default=1)

    @staticmethod
    def _check_topic_matches(topic: str, have: tuple[int, int], partitions: int, replicas: int | None) -> None:
        # KafkaTopicClientImpl#validateTopicProperties
        if have[0] != partitions or (replicas is not None and have[1] != replicas):
            raise SqlError(
                f"A Kafka topic with the name '{topic}' already exists, with different partition/replica "
                f"configuration than required. KSQL expects {partitions} partitions (topic has {have[0]}), "
                f"{replicas if replicas is not None else have[1]} replication factor (topic has {have[1]})."
            )

    def _apply_topic_ops(self, ops: list[tuple]) -> None:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        admin = self._kafka_admin() if ops else None
        for op in ops:
            if op[0] == "create":
                _, name, partitions, replicas, configs = op
                fut = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replicas, config=dict(configs))])
                try:
                    fut[name].result(timeout=15)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
            else:
                name = op[1]
                fut = admin.delete_topics([name], operation_timeout=15)
                try:
                    fut[name].result(timeout=15)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise

    def _sync_aggregation_states(self) -> None:
        """A query whose thread died is in ERROR, as a failed Kafka Streams application is."""
        for qid, agg in self._aggregations.items():
            q = self._meta.queries.get(qid)
            if q is not None and agg.error is not None and q.state == "RUNNING":
                q.state, q.status_count = "ERROR", {"ERROR": 1}

    def _reconcile_aggregations(self) -> None:
        """Stop the threads of dropped/terminated queries, start those of new ones."""
        for qid, agg in self._aggregations.items():
            q = self._meta.queries.get(qid)
            if (q is None or q.state != "RUNNING") and agg.running:
                agg.stop()
        for q in self._meta.queries.values():
            if q.plan is None or q.id in self._aggregations or q.state != "RUNNING":
                continue
            runner = KafkaProjection if isinstance(q.plan, ProjectionPlan) else KafkaAggregation
            agg = runner(q.plan, self.kafka_bootstrap or "")
            self._aggregations[q.id] = agg
            try:
                agg.start()
            except Exception as exc:
                log.exception("ksqlDB double: query %s failed to start", q.id)
                agg.error = exc
                q.state, q.status_count = "ERROR", {"ERROR": 1}

    def _aggregation_plan(
        self,
        s: CreateAs,
        src: Source,
        columns: list[Column],
        key_fmt: str,
        value_fmt: str,
        topic: str,
        props: dict[str, Any],
        sink_partitions: int,
    ) -> AggregationPlan:
        """Validate that a CTAS is the windowed count the Kafka-backed mode runs; query_id is filled
        in by the caller."""
        sel = s.select

        def refuse(why: str) -> SqlError:
            return SqlError(
                f"ksqlDB test double (Kafka-backed mode): {why}. It runs CREATE TABLE ... AS SELECT g, "
                "AS_VALUE(g) AS v, COUNT(*) AS c, WINDOWSTART AS s, WINDOWEND AS e FROM <stream> "
                "WINDOW TUMBLING (...) GROUP BY g only."
            )

        if s.kind != "TABLE" or src.kind != "STREAM":
            raise refuse("only CREATE TABLE ... AS SELECT over a STREAM runs")
        if sel.window is None or sel.window.type != "TUMBLING":
            raise refuse("only WINDOW TUMBLING aggregates run")
        if len(sel.group_by) != 1:
            raise refuse("GROUP BY exactly one column")
        if sel.where or sel.having or sel.partition_by:
            raise refuse("WHERE, HAVING and PARTITION BY are not simulated")
        if key_fmt != "KAFKA" or value_fmt != "JSON":
            raise refuse(f"KEY_FORMAT 'KAFKA' and VALUE_FORMAT 'JSON' only, not {key_fmt}/{value_fmt}")
        if src.value_format != "JSON" or src.key_format not in ("KAFKA", "NONE"):
            raise refuse(f"the source must be KEY_FORMAT 'KAFKA', VALUE_FORMAT 'JSON', not {src.key_format}/{src.value_format}")
        if len(src.key_columns) > 1 or any(c.type not in KAFKA_KEY_TYPES for c in src.key_columns):
            raise refuse(f"a KAFKA key holds one column of type {', '.join(KAFKA_KEY_TYPES)}")
        group = ident(sel.group_by[0].strip().split(".")[-1])
        by_name = {c.name: c for c in src.columns}
        if by_name[group].type not in KAFKA_KEY_TYPES:
            raise refuse(f"the GROUP BY column must be one of {', '.join(KAFKA_KEY_TYPES)} (KAFKA key format)")
        if src.timestamp and by_name[src.timestamp].type not in ("BIGINT", "TIMESTAMP"):
            raise refuse("the TIMESTAMP column must be BIGINT epoch millis (TIMESTAMP_FORMAT is not simulated)")
        outputs: list[tuple[str, str]] = []
        sum_column: str | None = None
        key_column = group
        for item, col in zip(sel.items, columns, strict=True):
            e = re.sub(r"\s+", "", item.expr).upper()
            g = group.upper()
            if col.key:
                if ident(item.expr.split(".")[-1]) != group:
                    raise refuse(f"unsupported key projection {item.expr!r}")
                key_column = col.name
                continue
            what = {f"AS_VALUE({g})": "group", "COUNT(*)": "count", "WINDOWSTART": "windowstart", "WINDOWEND": "windowend"}.get(e)
            if sm := re.fullmatch(r"SUM\(([A-Z_][A-Z0-9_]*)\)", e):
                summed = ident(sm.group(1))
                if by_name.get(summed) is None or by_name[summed].type not in ("INTEGER", "BIGINT"):
                    raise refuse(f"SUM over an INTEGER/BIGINT column of the stream only, not {item.expr!r}")
                if sum_column is not None and sum_column != summed:
                    raise refuse("one SUM column per aggregate")
                what, sum_column = "count", summed
            if what is None:
                raise refuse(f"unsupported projection {item.expr!r}")
            outputs.append((col.name, what))
        reset = next((str(props[k]).lower() for k in _OFFSET_RESET_KEYS if k in props), "latest")
        if reset not in ("earliest", "latest"):
            raise SqlError(f"Invalid value {reset} for configuration auto.offset.reset: String must be one of: latest, earliest, none")
        streams = {**self.streams_config, **props}
        return AggregationPlan(
            query_id="",
            sink=s.name,
            sink_topic=topic,
            source=src.name,
            source_topic=src.topic,
            source_columns={c.name: c.type for c in src.value_columns},
            key_columns={c.name: c.type for c in src.key_columns},
            group_column=group,
            group_type=by_name[group].type,
            timestamp_column=src.timestamp or None,
            size_ms=sel.window.size_ms,
            grace_ms=sel.window.grace_ms if sel.window.grace_ms is not None else default_grace_ms(sel.window.size_ms),
            key_column=key_column,
            value_outputs=outputs,
            offset_reset=reset,
            consumer_group="",
            source_partitions=src.partitions,
            sink_partitions=sink_partitions,
            group_is_key=group in {c.name for c in src.key_columns},
            commit_interval_ms=_streams_int(streams, "commit.interval.ms", DEFAULT_COMMIT_INTERVAL_MS),
            cache_max_bytes=_streams_int(streams, "cache.max.bytes.buffering", DEFAULT_CACHE_MAX_BYTES),
            stream_threads=_streams_int(streams, "num.stream.threads", DEFAULT_STREAM_THREADS, minimum=1),
            sum_column=sum_column,
        )

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
            return {
                "@type": "sourceDescription",
                "statementText": text,
                "sourceDescription": self._description(st, src, stmt.extended),
                "warnings": [],
            }
        if isinstance(stmt, InsertInto):
            return self._insert_into(st, stmt, text, props)
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
            return {
                "@type": "warning_entity",
                "statementText": text,
                "message": f"Cannot add {kind.lower()} `{name}`: A {existing.kind.lower()} with the same name already exists.",
                "warnings": [],
            }
        raise SqlError(f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} with the same name already exists")

    @staticmethod
    def _formats(props: dict[str, Any], default_key: str | None, default_value: str | None) -> tuple[str, str]:
        fmt = props.get("FORMAT")
        key = props.get("KEY_FORMAT") or fmt or default_key or "KAFKA"
        value = props.get("VALUE_FORMAT") or fmt or default_value
        if not value:
            raise SqlError(
                "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one "
                "or set a default via the 'ksql.persistence.default.format.value' config."
            )
        return str(key).upper(), str(value).upper()

    @staticmethod
    def _check_upgrade(existing: Source, columns: list[Column]) -> None:
        old_keys = [(c.name, c.type) for c in existing.key_columns]
        new_keys = [(c.name, c.type) for c in columns if c.key]
        if old_keys != new_keys:
            raise SqlError(
                f"Cannot upgrade data source: DataSource '{existing.name}' has key columns {old_keys} "
                f"which are not upgradeable to {new_keys}. Key columns must be identical."
            )
        old_vals = [(c.name, c.type) for c in existing.value_columns]
        new_vals = [(c.name, c.type) for c in columns if not c.key and not c.header]
        if new_vals[: len(old_vals)] != old_vals:
            raise SqlError(
                f"Cannot upgrade data source: DataSource '{existing.name}' has value columns {old_vals} "
                f"which are not upgradeable to {new_vals}: only new columns at the end may be added."
            )

    def _create_source(self, st: _Metastore, s: CreateSource, text: str) -> dict[str, Any]:
        warning = self._check_not_exists(st, s.kind, s.name, s.if_not_exists, s.or_replace, text)
        if warning:
            return warning
        if s.is_source and s.or_replace:
            raise SqlError(f"CREATE OR REPLACE is not supported on source {s.kind.lower()}s.")
        if not s.columns:
            raise SqlError("ksqlDB test double: declare the columns; schema inference from Schema Registry is not simulated")
        topic = s.props.get("KAFKA_TOPIC")
        if not topic:
            raise SqlError('Missing required property "KAFKA_TOPIC" which has no default value.')
        key_fmt, value_fmt = self._formats(s.props, None, None)
        keys = [c for c in s.columns if c.key]
        for c in keys:
            if s.kind == "TABLE" and not c.primary:
                raise SqlError(
                    f"Column `{c.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NON NULL constraints."
                )
            if s.kind == "STREAM" and c.primary:
                raise SqlError(
                    f"Column `{c.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
                    "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                    "Streams have KEYs, which have no uniqueness or NON NULL constraints."
                )
        if s.kind == "TABLE" and not keys:
            raise SqlError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
        timestamp = str(s.props.get("TIMESTAMP") or "").upper()
        if timestamp and timestamp not in {c.name for c in s.columns}:
            raise SqlError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{timestamp}'")
        partitions = int(s.props.get("PARTITIONS", 1))
        replicas = int(s.props.get("REPLICAS", 1))
        if self.kafka_bootstrap is not None:
            have = self._topic_info(st, str(topic))
            if have is None:
                if "PARTITIONS" not in s.props:
                    raise SqlError(self._missing_topic_message(str(topic)))
                st.topic_ops.append(
                    ("create", str(topic), partitions, replicas, {"cleanup.policy": "compact" if s.kind == "TABLE" else "delete"})
                )
            else:
                if "PARTITIONS" in s.props:
                    self._check_topic_matches(str(topic), have, partitions, replicas if "REPLICAS" in s.props else None)
                partitions, replicas = have
        elif st.kafka_topics is not None and topic not in st.kafka_topics:
            if "PARTITIONS" not in s.props:
                raise SqlError(self._missing_topic_message(str(topic)))
            st.kafka_topics.add(topic)
        existing = st.sources.get(s.name)
        if existing is not None:
            self._check_upgrade(existing, s.columns)
        seq = st.next_seq(text)
        st.sources[s.name] = Source(
            name=s.name,
            kind=s.kind,
            columns=s.columns,
            key_format=key_fmt,
            value_format=value_fmt,
            topic=str(topic),
            statement=text,
            is_source_table=s.is_source,
            partitions=partitions,
            replicas=replicas,
            timestamp=timestamp,
        )
        return _status(text, f"{s.kind.lower()}/`{s.name}`/create", f"{s.kind.title()} created", None, seq)

    @staticmethod
    def _missing_topic_message(topic: str) -> str:
        # TopicCreateInjector#injectForCreateSource (it runs before CreateSourceFactory, whose
        # "Kafka topic does not exist: <topic>" a REST client therefore does not see); the real message
        # goes on with "For example: <the statement with PARTITIONS=2>", which the double leaves out.
        return (
            f"Topic '{topic}' does not exist. If you want to create a new topic for the "
            "stream/table please re-run the statement providing the required 'PARTITIONS' "
            "configuration in the WITH clause (and optionally 'REPLICAS')."
        )

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
            raise SqlError(
                "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead."
            )
        if s.kind == "STREAM" and produces_table:
            raise SqlError("Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.")
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
        partitions = int(s.props.get("PARTITIONS", src.partitions))
        replicas = int(s.props.get("REPLICAS", src.replicas))
        timestamp = str(s.props.get("TIMESTAMP") or "").upper()
        if timestamp and timestamp not in {c.name for c in columns}:
            raise SqlError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{timestamp}'")
        plan = None
        if self.kafka_bootstrap is not None:
            have = self._topic_info(st, topic)
            if s.kind == "STREAM" and not sel.group_by:
                plan = self._projection_plan(sel, src, columns, value_fmt, topic, props, timestamp or None)
            else:
                plan = self._aggregation_plan(
                    s, src, columns, key_fmt, value_fmt, topic, props, have[0] if have is not None else partitions
                )
            if have is None:  # TopicCreateInjector: a windowed table's topic is not compacted
                st.topic_ops.append(("create", topic, partitions, replicas, {"cleanup.policy": "delete"}))
            else:
                self._check_topic_matches(topic, have, partitions, replicas if "REPLICAS" in s.props else None)
        seq = st.next_seq(text)
        # CREATE OR REPLACE upgrades the running query in place and keeps its id.
        qid = old_query.id if old_query else f"{'CTAS' if s.kind == 'TABLE' else 'CSAS'}_{s.name}_{seq}"
        if plan is not None:
            plan.query_id, plan.sink = qid, s.name
            plan.consumer_group = f"_confluent-ksql-{self.service_id}query_{qid}"
        st.sources[s.name] = Source(
            name=s.name,
            kind=s.kind,
            columns=columns,
            key_format=key_fmt,
            value_format=value_fmt,
            topic=topic,
            statement=text,
            window=sel.window,
            is_cas=True,
            reads=[src.name],
            partitions=partitions,
            replicas=replicas,
            timestamp=timestamp,
        )
        st.queries[qid] = PersistentQuery(qid, text, s.name, topic, [src.name], dict(props), plan=plan)
        if st.kafka_topics is not None:
            st.kafka_topics.add(topic)
        return _status(text, f"{s.kind.lower()}/`{s.name}`/create", f"Created query with ID {qid}", qid, seq)

    def _projection_plan(
        self, sel: Select, src: Source, columns: list[Column], value_fmt: str, topic: str, props: dict[str, Any], sink_ts: str | None
    ) -> ProjectionPlan:
        """Validate that a CSAS / INSERT INTO is the stateless projection the Kafka-backed mode runs."""
        if src.kind != "STREAM" or sel.window or sel.partition_by or sel.having:
            raise SqlError(
                "ksqlDB test double (Kafka-backed mode): stream projections run over a STREAM without WINDOW, PARTITION BY or HAVING only"
            )
        if src.key_columns or src.value_format != "JSON" or value_fmt != "JSON":
            raise SqlError("ksqlDB test double (Kafka-backed mode): stream projections run over key-less JSON streams into JSON only")
        types = {c.name: c.type for c in src.value_columns}
        outputs = []
        for item, col in zip(sel.items, columns, strict=True):
            if item.expr == "*":
                raise SqlError("ksqlDB test double (Kafka-backed mode): SELECT * is not simulated in stream projections")
            outputs.append((col.name, parse_expr(item.expr)))
        where = None
        if sel.where:
            where = parse_cond(sel.where)
            check_cond(where, types)
        reset = next((str(props[k]).lower() for k in _OFFSET_RESET_KEYS if k in props), "latest")
        return ProjectionPlan(
            query_id="",
            sink="",
            sink_topic=topic,
            source=src.name,
            source_topic=src.topic,
            source_columns=types,
            source_timestamp=src.timestamp or None,
            outputs=outputs,
            where=where,
            sink_timestamp=sink_ts,
            offset_reset=reset,
            consumer_group="",
        )

    def _insert_into(self, st: _Metastore, s: InsertInto, text: str, props: dict[str, Any]) -> dict[str, Any]:
        """INSERT INTO <stream> SELECT ...: one more persistent query writing an existing stream
        (insert-into.md: the result schema must match the target's; the target must be a stream)."""
        target = st.sources.get(s.target)
        if target is None:
            raise SqlError(f"{s.target} does not exist.")
        if target.kind != "STREAM":
            raise SqlError(f"INSERT INTO can only be used to insert into a stream. {s.target} is a table.")
        sel = s.select
        src = st.sources.get(sel.source)
        if src is None:
            raise SqlError(f"{sel.source} does not exist.")
        if sel.group_by or sel.window or src.kind != "STREAM":
            raise SqlError("ksqlDB test double: INSERT INTO ... SELECT from a stream without GROUP BY / WINDOW only")
        columns = self._project(sel, src, "STREAM", s.target)
        have = [(c.name, c.type, c.key) for c in columns]
        want = [(c.name, c.type, c.key) for c in target.columns if not c.header]
        if have != want:
            raise SqlError(f"Incompatible schema between results and sink.\nResult schema is {have}\nSink schema is {want}")
        plan = None
        if self.kafka_bootstrap is not None:
            # records keep the input ROWTIME; the target's readers take event time from its TIMESTAMP column
            plan = self._projection_plan(sel, src, columns, target.value_format, target.topic, props, None)
        seq = st.next_seq(text)
        qid = f"INSERTQUERY_{seq}"
        if plan is not None:
            plan.query_id, plan.sink = qid, s.target
            plan.consumer_group = f"_confluent-ksql-{self.service_id}query_{qid}"
        st.queries[qid] = PersistentQuery(qid, text, s.target, target.topic, [src.name], dict(props), plan=plan)
        return _status(text, f"stream/`{s.target}`/create", f"Created query with ID {qid}", qid, seq)

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
            raise SqlError(
                "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
                f"The query used to build `{sink}` must include the grouping expression {g} in its "
                f"projection (eg, SELECT {g}...)."
            )
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
        if "->" in e or re.match(r"(?:CASE|CAST)\b", e, re.I):  # tests/doubles/ksql_expr.py evaluates these
            return type_of(parse_expr(e), {c.name: c.type for c in by_name.values()}), None, "EXPR"
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
        kind = (
            "BOOLEAN"
            if isinstance(value, bool)
            else "INTEGER"
            if isinstance(value, int)
            else "DOUBLE"
            if isinstance(value, float)
            else "STRING"
        )
        return kind, None, "LITERAL"

    def _show(self, st: _Metastore, s: Show, text: str) -> dict[str, Any]:
        if s.what == "QUERIES":
            if s.extended:
                raise SqlError("ksqlDB test double: SHOW QUERIES EXTENDED is not simulated")
            return {"@type": "queries", "statementText": text, "queries": [_running(q) for q in st.queries.values()], "warnings": []}
        kind = s.what[:-1]  # STREAMS -> STREAM
        sources = sorted((x for x in st.sources.values() if x.kind == kind), key=lambda x: x.name)
        if s.extended:
            return {
                "@type": "source_descriptions",
                "statementText": text,
                "sourceDescriptions": [self._description(st, x, True) for x in sources],
                "warnings": [],
            }
        return {
            "@type": s.what.lower(),
            "statementText": text,
            s.what.lower(): [
                {
                    "type": x.kind,
                    "name": x.name,
                    "topic": x.topic,
                    "keyFormat": x.key_format,
                    "valueFormat": x.value_format,
                    "isWindowed": x.window is not None,
                }
                for x in sources
            ],
            "warnings": [],
        }

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
            raise SqlError(
                f"Cannot drop {s.name}.\nThe following streams and/or tables read from this source: "
                f"[{', '.join(readers)}].\nYou need to drop them before dropping {s.name}."
            )
        # EngineContext#throwIfInsertQueriesExist: INSERT INTO queries reading or writing it block the DROP
        inserts = [q for q in st.queries.values() if q.id.startswith("INSERTQUERY_") and (q.sink == s.name or s.name in q.sources)]
        if inserts:
            reading = sorted(q.id for q in inserts if s.name in q.sources)
            writing = sorted(q.id for q in inserts if q.sink == s.name)
            raise SqlError(
                f"Cannot drop {s.name}.\nThe following queries read from this source: [{', '.join(reading)}].\n"
                f"The following queries write into this source: [{', '.join(writing)}].\n"
                f"You need to terminate them before dropping {s.name}."
            )
        # Since 0.15 DROP terminates the query that created the source.
        for qid in [q.id for q in st.queries.values() if q.sink == s.name]:
            del st.queries[qid]
        del st.sources[s.name]
        if s.delete_topic:
            st.deleted_topics.append(src.topic)
            if st.kafka_topics is not None:
                st.kafka_topics.discard(src.topic)
            if self.kafka_bootstrap is not None:
                st.topic_ops.append(("delete", src.topic))
        return _status(text, command_id, f"Source `{s.name}` (topic: {src.topic}) was dropped.", None, st.next_seq(text))

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
            self._sync_aggregation_states()
            try:
                columns, rows = self._pull(sql)
            except SqlError as exc:
                return _error(400, exc.error_code, exc.message, statement=sql)
        meta = {
            "queryId": f"query_{int(time.time() * 1000)}",
            "columnNames": [c for c, _ in columns],
            "columnTypes": [t for _, t in columns],
        }
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
        writer = next((q for q in self._meta.queries.values() if q.sink == src.name), None)
        live = self._aggregations.get(writer.id) if writer is not None else None
        for row in live.rows() if live is not None else self._rows.get(src.name, []):
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


# -- Kafka-backed mode: the windowed count aggregate, run for real ------------------------------------

_OFFSET_RESET_KEYS = ("auto.offset.reset", "ksql.streams.auto.offset.reset")
_WINDOW_OUTPUTS = ("group", "count", "windowstart", "windowend")


def _streams_int(props: dict[str, Any], name: str, default: int, minimum: int = 0) -> int:
    """A Kafka Streams setting from streamsProperties / SET, bare or with ksqlDB's `ksql.streams.` prefix."""
    raw = props.get(f"ksql.streams.{name}", props.get(name, default))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SqlError(f"Invalid value {raw} for configuration {name}: Not a number of type LONG") from None
    if value < minimum:
        raise SqlError(f"Invalid value {value} for configuration {name}: Value must be at least {minimum}")
    return value


@dataclass
class AggregationPlan:
    """What a Kafka-backed CTAS computes: COUNT(*) per group value per tumbling window."""

    query_id: str
    sink: str
    sink_topic: str
    source: str
    source_topic: str
    source_columns: dict[str, str]  # column -> SQL type (value columns of the stream)
    key_columns: dict[str, str]  # the stream's key columns (KAFKA format: one STRING/BIGINT/... key)
    group_column: str
    group_type: str
    timestamp_column: str | None  # None: the record timestamp (ROWTIME)
    size_ms: int
    grace_ms: int
    key_column: str  # the sink's key column (the group column)
    value_outputs: list[tuple[str, str]]  # (sink value column, one of _WINDOW_OUTPUTS)
    offset_reset: str  # earliest | latest
    consumer_group: str
    source_partitions: int = 1  # = the repartition topic's partitions (the aggregation's tasks)
    sink_partitions: int = 1
    group_is_key: bool = False  # GROUP BY the stream's key column: no repartition
    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    stream_threads: int = DEFAULT_STREAM_THREADS
    sum_column: str | None = None  # SUM(<column>) instead of COUNT(*)


class KafkaAggregation:
    """One running Kafka-backed persistent query: a consumer thread over the source topic, the windowed
    count of tests.doubles.ksql_windowed_count (event-time windows, per-task stream time, record cache
    flushed per commit), each forwarded update produced to the sink topic partition of its base key.

    Read by tests: consumed, emitted (records produced), dropped_late, processing_log (records skipped,
    with why), stream_time, error (why the thread died), running, rows() / counts() (the live store, as
    pull queries see it), emitted_counts() (the latest count produced per window: what a reader of the
    sink topic ends up with), wait()."""

    def __init__(self, plan: AggregationPlan, bootstrap: str):
        self.plan = plan
        self.bootstrap = bootstrap
        self.consumed = 0
        self.emitted = 0
        self.processing_log: list[str] = []
        self.error: BaseException | None = None
        self._count = WindowedCount(
            plan.size_ms,
            plan.grace_ms,
            commit_interval_ms=plan.commit_interval_ms,
            cache_max_bytes=plan.cache_max_bytes,
            stream_threads=plan.stream_threads,
        )
        self._emitted: dict[tuple[Any, int], int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._commit_on_stop = True
        self._thread: threading.Thread | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._delivery_errors: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Resolve the start offsets and assign the consumer synchronously (so `latest` means "after
        the CREATE was answered"), then run on a daemon thread."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        p = self.plan
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "logger": log,
                "group.id": p.consumer_group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": p.offset_reset,
                "topic.metadata.refresh.interval.ms": 2000,
            }
        )
        try:
            md = consumer.list_topics(timeout=10)
            topic = md.topics.get(p.source_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise RuntimeError(f"Missing source topic: {p.source_topic}")
            p.source_partitions = len(topic.partitions)
            assignment = []
            for part in sorted(topic.partitions):
                if p.offset_reset == "earliest":
                    offset = OFFSET_BEGINNING
                else:
                    _, offset = consumer.get_watermark_offsets(TopicPartition(p.source_topic, part), timeout=10, cached=False)
                assignment.append(TopicPartition(p.source_topic, part, offset))
            consumer.assign(assignment)
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer
        # the partition is chosen here (WindowedStreamPartitioner: murmur2 of the base key), not by librdkafka
        self._producer = Producer({"bootstrap.servers": self.bootstrap, "logger": log, "linger.ms": 0, "enable.idempotence": True})
        self._thread = threading.Thread(target=self._run, name=f"ksqldb-double-{p.query_id}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0, *, commit: bool = True) -> None:
        """Stop the query. commit=True is a clean shutdown (Kafka Streams commits, flushing the cache);
        commit=False a crash (buffered updates are never produced)."""
        self._commit_on_stop = commit
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, predicate: Callable[[KafkaAggregation], bool], timeout: float = 30.0) -> bool:
        """Block until predicate(self) holds (checked after every polled batch and every commit), the
        query stops or fails, or the timeout passes; returns predicate(self)."""
        with self._cond:
            self._cond.wait_for(lambda: predicate(self) or self.error is not None or self._stop.is_set(), timeout)
            return predicate(self)

    # -- the query ------------------------------------------------------------------------------

    def _run(self) -> None:
        from confluent_kafka import KafkaError

        consumer, producer = self._consumer, self._producer
        next_check = time.monotonic() + 1.0
        failed = False
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_check:
                    # librdkafka only logs that an assigned topic went away; Kafka Streams fails the
                    # application (MissingSourceTopicException). Whole-cluster metadata: a request
                    # naming the topic could auto-create it on this broker.
                    topic = consumer.list_topics(timeout=10).topics.get(self.plan.source_topic)
                    if topic is None or not topic.partitions:
                        raise RuntimeError(f"Missing source topic: {self.plan.source_topic}")
                    next_check = time.monotonic() + 1.0
                msgs = consumer.consume(num_messages=500, timeout=0.1)
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        if err.fatal() or err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
                            raise RuntimeError(f"consumer error on {self.plan.source_topic}: {err}")
                        log.warning("ksqlDB double %s: consumer error %s", self.plan.query_id, err)
                        continue
                    self._process(m)
                if self._count.flush_due():
                    with self._cond:
                        updates = self._count.commit()
                    self._produce(updates)
                with self._cond:
                    self._cond.notify_all()
        except BaseException as exc:  # the query goes to ERROR, as a failed Kafka Streams app does
            failed = True
            log.exception("ksqlDB double query %s failed", self.plan.query_id)
            self.error = exc
        finally:
            try:
                if not failed and self._commit_on_stop:  # a clean close commits: the cache is flushed
                    with self._cond:
                        updates = self._count.commit()
                    self._produce(updates)
                producer.flush(10)
            except Exception:  # pragma: no cover - best effort on the way out
                log.exception("ksqlDB double query %s: final commit failed", self.plan.query_id)
            consumer.close()
            # drop the producer now: a stopped query's librdkafka threads must not outlive the broker
            self._producer = producer = None
            with self._cond:
                self._cond.notify_all()

    def _produce(self, updates: list[WindowUpdate]) -> None:
        p = self.plan
        if not updates:
            return

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self._delivery_errors.append(str(err))

        for u in updates:
            values = {"group": u.group, "count": u.count, "windowstart": u.start, "windowend": u.end}
            value = json.dumps({col: values[what] for col, what in p.value_outputs}, separators=(",", ":"))
            self._producer.produce(
                p.sink_topic,
                key=u.group_key + struct.pack(">q", u.start),
                value=value.encode(),
                partition=partition_for_key(u.group_key, p.sink_partitions),
                timestamp=u.timestamp,
                on_delivery=delivered,
            )
        self._producer.flush(10)
        if self._delivery_errors:
            raise RuntimeError(f"producing to {p.sink_topic} failed: {self._delivery_errors[:3]}")
        with self._cond:
            self.emitted += len(updates)
            for u in updates:
                self._emitted[(u.group, u.start)] = u.count
            self._cond.notify_all()

    def _skip(self, m: Any, why: str) -> None:
        with self._cond:
            self.processing_log.append(f"{m.topic()}[{m.partition()}]@{m.offset()}: {why}")

    def _process(self, m: Any) -> None:
        p = self.plan
        with self._cond:
            self.consumed += 1
        raw = m.value()
        if raw is None:  # a tombstone is no row of a stream
            self._skip(m, "null value (tombstone) ignored")
            return
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self._skip(m, f"Failed to deserialize value from topic: {p.source_topic}. {exc}")
            return
        if not isinstance(obj, dict):
            self._skip(
                m,
                f"Failed to deserialize value from topic: {p.source_topic}. Can't convert type. "
                f"sourceType: {type(obj).__name__}, requiredType: STRUCT",
            )
            return
        fields = {str(k).upper(): v for k, v in obj.items()}  # ksqlDB matches JSON fields case-insensitively
        row: dict[str, Any] = {}
        try:
            for col, sql_type in p.source_columns.items():
                row[col] = _json_value(fields.get(col), sql_type)
            if p.key_columns:
                col, sql_type = next(iter(p.key_columns.items()))
                row[col] = _kafka_key_value(m.key(), sql_type)
        except (ValueError, TypeError, UnicodeDecodeError, struct.error) as exc:
            self._skip(m, f"Failed to deserialize value from topic: {p.source_topic}. {exc}")
            return
        group = row.get(p.group_column)
        if group is None:
            self._skip(
                m, f"Group-by column with index 0 resolved to null. The source row will be excluded from the table: {p.group_column}"
            )
            return
        if p.timestamp_column is not None:  # event time: the stream's TIMESTAMP column
            ts = row.get(p.timestamp_column)
            if ts is None:
                self._skip(m, f"Failed to extract timestamp from row: column {p.timestamp_column} is null")
                return
        else:  # event time: the Kafka record timestamp (ROWTIME)
            ts = m.timestamp()[1]
        if ts < 0:
            self._skip(m, f"Skipping record due to invalid timestamp {ts}")
            return
        group_key = _kafka_key_bytes(group, p.group_type)
        # the aggregation task: the source partition, or after GROUP BY a value column the partition of
        # the repartition topic (as many partitions as the source), chosen by murmur2 of the group key
        task = m.partition() if p.group_is_key else partition_for_key(group_key, max(p.source_partitions, 1))
        with self._cond:
            amount = 1 if p.sum_column is None else int(row.get(p.sum_column) or 0)
            counted, updates = self._count.add(group, group_key, ts, task, amount)
            if not counted:
                start, end = self._count.window_of(ts)
                self.processing_log.append(
                    f"{m.topic()}[{m.partition()}]@{m.offset()}: record dropped, window [{start},{end}) closed "
                    f"(stream time {self._count.stream_time[task]}, grace {p.grace_ms})"
                )
        self._produce(updates)

    # -- state ----------------------------------------------------------------------------------

    @property
    def dropped_late(self) -> int:
        return self._count.dropped_late

    @property
    def stream_time(self) -> int:
        """The highest event time any task has observed (-1 before the first record)."""
        with self._cond:
            return max(self._count.stream_time.values(), default=-1)

    @property
    def pending(self) -> int:
        """Updated windows buffered in the record cache, not produced yet."""
        with self._cond:
            return self._count.pending

    def rows(self) -> list[dict[str, Any]]:
        """The table as a pull query sees it: key, WINDOWSTART, WINDOWEND, then the value columns."""
        p = self.plan
        windows = sorted(self.counts().items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
        out = []
        for (group, start), count in windows:
            values = {"group": group, "count": count, "windowstart": start, "windowend": start + p.size_ms}
            row = {p.key_column: group, "WINDOWSTART": start, "WINDOWEND": start + p.size_ms}
            row.update({col: values[what] for col, what in p.value_outputs})
            out.append(row)
        return out

    def counts(self) -> dict[tuple[Any, int], int]:
        """{(group value, window start ms): count} in the live store (updates not yet produced included)."""
        with self._cond:
            return self._count.counts()

    def emitted_counts(self) -> dict[tuple[Any, int], int]:
        """{(group value, window start ms): the latest count produced to the sink topic}."""
        with self._cond:
            return dict(self._emitted)


# The KAFKA format: Kafka's own serializers (StringSerializer, IntegerSerializer, LongSerializer, DoubleSerializer).
_KAFKA_KEY_FORMATS = {"INTEGER": ">i", "BIGINT": ">q", "DOUBLE": ">d"}
KAFKA_KEY_TYPES = ("STRING", *_KAFKA_KEY_FORMATS)


def _kafka_key_bytes(value: Any, sql_type: str) -> bytes:
    if sql_type == "STRING":
        return str(value).encode("utf-8")
    return struct.pack(_KAFKA_KEY_FORMATS[sql_type], value)


def _kafka_key_value(raw: bytes | None, sql_type: str) -> Any:
    if raw is None:
        return None
    if sql_type == "STRING":
        return raw.decode("utf-8")
    return struct.unpack(_KAFKA_KEY_FORMATS[sql_type], raw)[0]


def _json_value(value: Any, sql_type: str) -> Any:
    """A JSON field as ksqlDB's JSON deserializer coerces it into a column type (ValueError if it can't)."""
    if value is None:
        return None
    base = sql_type.split("(")[0].split("<")[0]
    if base == "STRING":  # non-text JSON becomes its JSON text (JsonNode.toString())
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if base in ("BIGINT", "INTEGER", "TIMESTAMP"):
        if isinstance(value, bool):
            raise ValueError(f"Can't convert type. sourceType: BOOLEAN, requiredType: {base}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value.strip())
        raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: {base}")
    if base in ("DOUBLE", "DECIMAL"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: {base}")
        return float(value)
    if base == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: BOOLEAN")
    return value


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return a == b
    if op in ("!=", "<>"):
        return a != b
    if a is None or b is None:
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


__all__ = ["NOT_READY_MESSAGE", "AggregationPlan", "KafkaAggregation", "KsqlDbDouble", "PersistentQuery", "Source"]
