"""ksqlDB REST client (KsqlDbClient) and its Dagster resource (KsqlDbResource).

Wire contract: /work/shared/reference/ksqldb_oracle.md section 1 (read from the confluentinc/ksql
source). tests/doubles/ksqldb_server.py follows the same contract and
tests/contract_samples/ksqldb/ pins the JSON shapes both sides rely on. Errors live in
ksqldb_errors.py, the typed answers in ksqldb_entities.py; both are re-exported here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from resources import retry
from resources._http import HttpClient, HttpClientOwner, json_or_none
from resources._lazy import lazy_import
from resources.endpoints import KSQLDB_URL
from resources.ksqldb_entities import (
    CommandStatus,
    FieldInfo,
    HealthStatus,
    KsqlEntity,
    PullQueryResult,
    QueryList,
    RunningQuery,
    ServerInfo,
    SourceDescription,
    SourceDescriptionEntity,
    SourceInfo,
    SourceList,
    TerminateQueryResult,
    WarningEntity,
    is_already_exists,
    parse_entity,
    quote_identifier,
)
from resources.ksqldb_errors import (
    KsqlAuthError,
    KsqlDbError,
    KsqlDbUnreachable,
    KsqlGenericError,
    KsqlServerNotReady,
    KsqlStatementError,
)

httpx = lazy_import("httpx")

log = logging.getLogger(__name__)

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED_V1 = "application/vnd.ksqlapi.delimited.v1"

# Statements that cannot change server state, so a request carrying only these may be replayed
# after a timeout or a dropped connection without risking a double CREATE or TERMINATE.
_READ_ONLY = re.compile(r"^\s*(SHOW|LIST|DESCRIBE|EXPLAIN)\b", re.IGNORECASE)
_QUERY_ID = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------------------------
# Client


class KsqlDbClient(HttpClient):
    """Synchronous ksqlDB REST client. One instance per run; close() it (or use `with`).

    It remembers the last commandSequenceNumber it saw and sends it with later requests, so a
    client must not outlive the server's command topic (a wiped server would answer 50301)."""

    system = "ksqlDB"

    # equal jitter ([ceiling/2, ceiling]) and a server's Retry-After honoured up to a cap
    BACKOFF_MAX = 10.0
    JITTER = "equal"
    MAX_RETRY_AFTER = 30.0
    # Highest commandSequenceNumber this client has seen; sent back so a read issued after a
    # write waits until the server has applied that write (what the ksql CLI does).
    _last_command_seq = -1

    # -- HTTP plumbing ------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, body: Any = None, accept: str, replayable: bool, retries: int | None = None
    ) -> httpx.Response:
        """One request with ksqlDB's retry rule (resources/retry.py); returns the last answer."""
        return retry.send_with_retry(
            lambda: self._http.request(method, path, json=body, headers={"Accept": accept}),
            rule=retry.ksqldb_rule(replayable),
            max_retries=self.max_retries if retries is None else retries,
            backoff=self._backoff,
            what=f"{method} {path}",
            unreachable=lambda exc, attempts: KsqlDbUnreachable(
                self._clean(
                    f"ksqlDB at {self.base_url} did not answer {method} {path} after {attempts} attempt(s): {type(exc).__name__}: {exc}"
                )
            ),
            sleep=self._sleep,
            log=log,
            clean=self._clean,
        )

    def _raise_for_error(self, resp: httpx.Response, path: str) -> None:
        if resp.status_code < 400:
            return
        body = json_or_none(resp)
        if isinstance(body, Mapping) and "error_code" in body:
            code = body.get("error_code")
            message = self._clean(str(body.get("message", "")))
            if body.get("@type") == "statement_error":
                raise KsqlStatementError(
                    message,
                    status=resp.status_code,
                    error_code=code,
                    statement_text=self._clean(str(body.get("statementText", ""))),
                    entities=list(body.get("entities") or []),
                )
            cls = KsqlServerNotReady if resp.status_code == 503 else KsqlAuthError if resp.status_code in (401, 403) else KsqlGenericError
            raise cls(
                f"ksqlDB {path} failed (HTTP {resp.status_code}, error_code {code}): {message}",
                status=resp.status_code,
                error_code=code,
                server_message=message,
            )
        text = self._clean(resp.text.strip()[:300])
        cls = KsqlAuthError if resp.status_code in (401, 403) else KsqlGenericError
        raise cls(f"ksqlDB {path} failed (HTTP {resp.status_code}): {text}", status=resp.status_code, server_message=text)

    def _get_json(self, path: str, *, retry: bool) -> Any:
        resp = self._send("GET", path, accept=KSQL_V1_JSON, replayable=True, retries=None if retry else 0)
        self._raise_for_error(resp, path)
        body = json_or_none(resp)
        if not isinstance(body, Mapping):
            raise KsqlGenericError(f"ksqlDB {path}: expected a JSON object, got {resp.text[:200]!r}", status=resp.status_code)
        return body

    # -- /ksql ----------------------------------------------------------------------------------

    def execute(
        self,
        statements: str,
        streams_properties: Mapping[str, Any] | None = None,
        *,
        session_variables: Mapping[str, Any] | None = None,
    ) -> list[KsqlEntity]:
        """POST /ksql with one or more `;`-terminated statements; one entity per statement that
        produces one. Raises KsqlStatementError when ksqlDB rejects a statement (it validates
        all of them first, so normally none ran)."""
        text = statements.strip()
        if not text.endswith(";"):
            text += ";"
        body: dict[str, Any] = {"ksql": text, "streamsProperties": dict(streams_properties or {})}
        if session_variables:
            body["sessionVariables"] = dict(session_variables)
        if self._last_command_seq >= 0:
            body["commandSequenceNumber"] = self._last_command_seq
        replayable = all(_READ_ONLY.match(s) for s in text.split(";") if s.strip())
        resp = self._send("POST", "/ksql", body=body, accept=KSQL_V1_JSON, replayable=replayable)
        self._raise_for_error(resp, "/ksql")
        payload = json_or_none(resp)
        if not isinstance(payload, list):
            raise KsqlGenericError(f"ksqlDB /ksql: expected a JSON array, got {resp.text[:200]!r}", status=resp.status_code)
        entities = [parse_entity(e) for e in payload if isinstance(e, Mapping)]
        for e in entities:
            if isinstance(e, CommandStatus):
                self._last_command_seq = max(self._last_command_seq, e.command_sequence_number)
                if e.status == "ERROR":
                    # The command was queued but failed when the server executed it.
                    raise KsqlStatementError(
                        self._clean(e.message), status=resp.status_code, error_code=None, statement_text=self._clean(e.statement_text)
                    )
        return entities

    def _single(self, statement: str, cls: type | tuple[type, ...], what: str) -> Any:
        for e in self.execute(statement):
            if isinstance(e, cls):
                return e
        raise KsqlGenericError(f"ksqlDB returned no {what} entity for {statement!r}")

    def list_streams(self) -> list[SourceInfo]:
        return list(self._single("SHOW STREAMS;", SourceList, "streams").sources)

    def list_tables(self) -> list[SourceInfo]:
        return list(self._single("SHOW TABLES;", SourceList, "tables").sources)

    def list_queries(self) -> list[RunningQuery]:
        return list(self._single("SHOW QUERIES;", QueryList, "queries").queries)

    def describe(self, name: str, extended: bool = True) -> SourceDescription:
        stmt = f"DESCRIBE {'EXTENDED ' if extended else ''}{quote_identifier(name)};"
        return self._single(stmt, SourceDescriptionEntity, "sourceDescription").description

    def terminate(self, query_id: str) -> CommandStatus | TerminateQueryResult:
        if not _QUERY_ID.match(query_id):
            raise ValueError(f"not a ksqlDB query id: {query_id!r}")
        return self._single(f"TERMINATE {query_id};", (CommandStatus, TerminateQueryResult), "terminate")

    def drop(self, kind: str, name: str, delete_topic: bool = False, if_exists: bool = True) -> CommandStatus:
        """DROP STREAM|TABLE; since ksqlDB 0.15 this also terminates the query that created it."""
        kind = kind.upper()
        if kind not in ("STREAM", "TABLE"):
            raise ValueError(f"kind must be STREAM or TABLE, not {kind!r}")
        stmt = f"DROP {kind} {'IF EXISTS ' if if_exists else ''}{quote_identifier(name)}{' DELETE TOPIC' if delete_topic else ''};"
        return self._single(stmt, CommandStatus, "currentStatus")

    # -- /query-stream ----------------------------------------------------------------------------

    def pull_query(self, sql: str, properties: Mapping[str, Any] | None = None) -> PullQueryResult:
        """A pull query over HTTP/1.1 /query-stream (ksqlDB >= 0.24), delimited format: a metadata
        line, then one JSON array per row. Push queries never end, so they are refused here."""
        if re.search(r"\bEMIT\s+CHANGES\b", sql, re.IGNORECASE):
            raise ValueError("pull_query() runs pull queries only; this SQL is a push query (EMIT CHANGES)")
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"
        body = {"sql": sql, "properties": dict(properties or {})}
        resp = self._send("POST", "/query-stream", body=body, accept=DELIMITED_V1, replayable=True)
        self._raise_for_error(resp, "/query-stream")
        try:
            items = [json.loads(ln) for ln in resp.text.split("\n") if ln.strip()]
        except json.JSONDecodeError as exc:
            raise KsqlGenericError(
                f"ksqlDB /query-stream: not the delimited format ({exc}): {resp.text[:200]!r}", status=resp.status_code
            ) from None
        meta = items[0] if items else None
        if not isinstance(meta, Mapping) or "columnNames" not in meta:
            raise KsqlGenericError(f"ksqlDB /query-stream: unexpected first line {resp.text[:200]!r}", status=resp.status_code)
        names = tuple(meta.get("columnNames") or ())
        rows: list[dict[str, Any]] = []
        for item in items[1:]:
            if isinstance(item, list):
                rows.append(dict(zip(names, item, strict=False)))
            elif isinstance(item, Mapping) and "error_code" in item:
                # Errors after the header arrive in-band, as one more line.
                raise KsqlGenericError(
                    f"ksqlDB pull query failed mid-stream (error_code {item.get('error_code')}): "
                    f"{self._clean(str(item.get('message', '')))}",
                    status=resp.status_code,
                    error_code=item.get("error_code"),
                )
            # other objects (consistency tokens, completion messages) carry no rows
        return PullQueryResult(
            query_id=meta.get("queryId"),
            column_names=names,
            column_types=tuple(meta.get("columnTypes") or ()),
            rows=tuple(rows),
        )

    # -- /info, /healthcheck -------------------------------------------------------------------

    def info(self, *, retry: bool = True) -> ServerInfo:
        body = self._get_json("/info", retry=retry)
        inner = body.get("KsqlServerInfo", body)
        return ServerInfo(
            version=inner.get("version", ""),
            kafka_cluster_id=inner.get("kafkaClusterId"),
            ksql_service_id=inner.get("ksqlServiceId"),
            server_status=inner.get("serverStatus"),
        )

    def health(self, *, retry: bool = True) -> HealthStatus:
        """GET /healthcheck. With retry=False a starting server raises KsqlServerNotReady at once."""
        body = self._get_json("/healthcheck", retry=retry)
        return HealthStatus(
            is_healthy=bool(body.get("isHealthy")),
            details=dict(body.get("details") or {}),
            server_state=body.get("serverState"),
        )


class KsqlDbResource(HttpClientOwner):
    """ksqlDB connection settings; get_client() returns the client this resource owns for the
    execution (closed at teardown, or by `with`; resources/_http.py ClientOwner)."""

    url: str = Field(default=KSQLDB_URL.default, description="ksqlDB server REST URL (env KSQLDB_URL)")
    username: str | None = Field(default=None, description="Basic-auth user, when ksqlDB has HTTP basic auth on.")
    password: str | None = Field(
        default=None,
        repr=False,
        description="Basic-auth password; pass dg.EnvVar(...). Never logged nor put in error messages.",
    )
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout (connect and read).")
    max_retries: int = Field(default=5, description="Retries on 503 (server starting, command queue behind) and connection failures.")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles per retry, jittered")
    backoff_max_seconds: float = Field(default=10.0, description="Cap of one exponential retry delay")
    max_retry_after_seconds: float = Field(default=30.0, description="Cap applied to a server-sent Retry-After header.")

    def get_client(self) -> KsqlDbClient:
        return self._owned_client()

    def _new_client(self, kind: str) -> KsqlDbClient:
        return KsqlDbClient(
            self.url,
            username=self.username,
            password=self.password,
            max_retry_after=self.max_retry_after_seconds,
            **self._http_settings(),
        )


__all__ = [
    "CommandStatus",
    "FieldInfo",
    "HealthStatus",
    "KsqlAuthError",
    "KsqlDbClient",
    "KsqlDbError",
    "KsqlDbResource",
    "KsqlDbUnreachable",
    "KsqlEntity",
    "KsqlGenericError",
    "KsqlServerNotReady",
    "KsqlStatementError",
    "PullQueryResult",
    "QueryList",
    "RunningQuery",
    "ServerInfo",
    "SourceDescription",
    "SourceDescriptionEntity",
    "SourceInfo",
    "SourceList",
    "TerminateQueryResult",
    "WarningEntity",
    "is_already_exists",
    "parse_entity",
    "quote_identifier",
]
