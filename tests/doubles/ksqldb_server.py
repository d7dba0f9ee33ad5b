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
- CREATE TABLE ... AS SELECT of a windowed COUNT(*) or SUM per group runs a KafkaAggregation thread
  (tests/doubles/ksql_windowed_aggregation.py describes what it reads, computes and produces).
- Stateless stream queries (tests/doubles/ksql_projection.py): CREATE STREAM ... WITH (TIMESTAMP=..) AS SELECT
  <column | s->f | literal | CAST(.. AS ..) | CASE WHEN .. END> FROM <key-less JSON stream> [WHERE a = b AND ..]
  and INSERT INTO <stream> SELECT ... (a second writer: query id INSERTQUERY_<n>; the result schema must equal
  the target's; it blocks DROP of its source and target until terminated, EngineContext#throwIfInsertQueriesExist)
  run a thread producing one JSON record per passing row, right away; expressions as tests/doubles/ksql_expr.py
  documents.
- DROP/TERMINATE stop the thread; fail_query() stops it and sets state ERROR; a thread that dies
  (e.g. its topic was deleted) turns its query to ERROR. Pull queries on the table read the live
  state. DROP ... DELETE TOPIC deletes the real topic. Other persistent-query shapes are refused.
Hooks: aggregations (query id -> KafkaAggregation), aggregation(name_or_query_id).

This module holds the HTTP side (routing, auth, readiness, the /ksql request's sandbox and the
statement dispatch, /query-stream). The rest of the double, by what it holds: SQL text
(ksql_lexical, ksql_types, ksql_statements, ksql_expr), the metastore (ksql_metastore), the REST
entities (ksql_entities), the statement families (ksql_ddl, ksql_admin, ksql_pull_query,
ksql_result_schema), Kafka-backed mode (ksql_kafka_topics, ksql_query_plans, ksql_kafka_io,
ksql_windowed_aggregation, ksql_windowed_count, ksql_projection).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

from tests.doubles._http import DoubleServer, Reply, Request
from tests.doubles.ksql_admin import describe, drop, show, terminate
from tests.doubles.ksql_ddl import create_as, create_source, insert_into
from tests.doubles.ksql_entities import error_reply
from tests.doubles.ksql_kafka_topics import KafkaTopics
from tests.doubles.ksql_lexical import SqlError, ident, split_statements, strip_comments
from tests.doubles.ksql_metastore import Metastore, PersistentQuery, Source, find_query
from tests.doubles.ksql_projection import KafkaProjection, ProjectionPlan
from tests.doubles.ksql_pull_query import pull
from tests.doubles.ksql_statements import (
    CreateAs,
    CreateSource,
    Describe,
    Drop,
    InsertInto,
    Query,
    SetProperty,
    Show,
    Terminate,
    parse_statement,
)
from tests.doubles.ksql_windowed_aggregation import KafkaAggregation

log = logging.getLogger(__name__)

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"

# ServerState.java: the message a starting server answers with (error_code 50302).
NOT_READY_MESSAGE = "KSQL is not yet ready to serve requests."
QUERY_ENDPOINT_MESSAGE = "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT"


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
        self._meta = Metastore(kafka_topics=set(kafka_topics) if kafka_topics is not None else None)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.kafka_bootstrap = kafka_bootstrap
        self.streams_config = dict(streams_config or {})
        self._topics = KafkaTopics(kafka_bootstrap) if kafka_bootstrap is not None else None
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
            q = find_query(self._meta, query_id)
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
            return error_reply(401, 40100, "Unauthorized", ctype=ctype)
        with self._lock:
            if self.initializing or self.not_ready_responses > 0:
                self.not_ready_responses = max(0, self.not_ready_responses - 1)
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return error_reply(503, 50302, NOT_READY_MESSAGE, ctype=ctype, **headers)
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
            return error_reply(400, 40000, f"Invalid JSON in request: {exc}", ctype=ctype)
        if not isinstance(body, dict) or not isinstance(body.get("ksql"), str):
            return error_reply(400, 40000, "Invalid JSON in request: missing required field 'ksql'", ctype=ctype)
        with self._lock:
            wanted = body.get("commandSequenceNumber")
            if self.command_queue_timeouts > 0 or (isinstance(wanted, int) and wanted > self._meta.seq):
                self.command_queue_timeouts = max(0, self.command_queue_timeouts - 1)
                return error_reply(
                    503,
                    50301,
                    "Timed out while waiting for a previous command to execute. "
                    f"command sequence number: {wanted if isinstance(wanted, int) else -1}",
                    ctype=ctype,
                )
            try:
                statements = split_statements(body["ksql"])
            except SqlError as exc:
                return error_reply(400, exc.error_code, exc.message, statement=body["ksql"], ctype=ctype)
            self._sync_aggregation_states()
            sandbox = copy.deepcopy(self._meta)
            props = dict(body.get("streamsProperties") or {})
            entities = []
            for raw in statements:
                text = strip_comments(raw).strip() + ";"
                try:
                    entity = self._execute(sandbox, parse_statement(raw), text, props)
                except SqlError as exc:
                    return error_reply(400, exc.error_code, exc.message, statement=text, ctype=ctype)
                if entity is not None:
                    entities.append(entity)
            ops, sandbox.topic_ops = sandbox.topic_ops, []
            try:
                self._apply_topic_ops([op for op in ops if op[0] == "create"])
            except Exception as exc:
                return error_reply(500, 50000, f"Could not create the Kafka topic: {exc}", statement=body["ksql"], ctype=ctype)
            self._meta = sandbox
            self._reconcile_aggregations()
            try:
                self._apply_topic_ops([op for op in ops if op[0] == "delete"])
            except Exception as exc:
                return error_reply(
                    500, 50000, f"Could not delete the corresponding kafka topic: {exc}", statement=body["ksql"], ctype=ctype
                )
        return Reply.json(200, entities, ctype)

    def _apply_topic_ops(self, ops: list[tuple]) -> None:
        if self._topics is not None:
            self._topics.apply(ops)

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

    # -- statements ---------------------------------------------------------------------------

    def _execute(self, st: Metastore, stmt: Any, text: str, props: dict[str, Any]) -> dict[str, Any] | None:
        if isinstance(stmt, CreateSource):
            return create_source(st, stmt, text, self._topics)
        if isinstance(stmt, CreateAs):
            return create_as(st, stmt, text, props, self._topics, self.service_id, self.streams_config)
        if isinstance(stmt, Show):
            return show(st, stmt, text)
        if isinstance(stmt, Describe):
            return describe(st, stmt, text)
        if isinstance(stmt, InsertInto):
            return insert_into(st, stmt, text, props, self._topics, self.service_id)
        if isinstance(stmt, Terminate):
            return terminate(st, stmt, text)
        if isinstance(stmt, Drop):
            return drop(st, stmt, text, self._topics is not None)
        if isinstance(stmt, Query):
            raise SqlError(QUERY_ENDPOINT_MESSAGE, error_code=40002)
        if isinstance(stmt, SetProperty):
            if stmt.value is None:
                props.pop(stmt.key, None)
            else:
                props[stmt.key] = stmt.value
            return None
        raise SqlError(f"ksqlDB test double: unhandled statement {text!r}")

    # -- /query-stream ---------------------------------------------------------------------------

    def _query_stream(self, req: Request, ctype: str) -> Reply:
        try:
            body = req.json()
        except ValueError as exc:
            return error_reply(400, 40000, f"Invalid JSON in request: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            return error_reply(400, 40000, "Invalid JSON in request: missing required field 'sql'")
        sql = body["sql"]
        with self._lock:
            self._sync_aggregation_states()
            try:
                columns, rows = pull(self._meta, sql, self._rows, self._aggregations)
            except SqlError as exc:
                return error_reply(400, exc.error_code, exc.message, statement=sql)
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


__all__ = ["NOT_READY_MESSAGE", "KsqlDbDouble"]
