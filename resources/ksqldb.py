"""ksqlDB REST client (KsqlDbClient) and its Dagster resource (KsqlDbResource).

Wire contract: /work/shared/reference/ksqldb_oracle.md section 1 (read from the confluentinc/ksql
source). tests/doubles/ksqldb_server.py follows the same contract and
tests/contract_samples/ksqldb/ pins the JSON shapes both sides rely on.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import dagster as dg
from resources._lazy import lazy_import

httpx = lazy_import("httpx")
from pydantic import Field

from resources.endpoints import KSQLDB_URL
from resources.errors import ResourceError, Unreachable
from resources.redaction import scrub

log = logging.getLogger(__name__)

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
DELIMITED_V1 = "application/vnd.ksqlapi.delimited.v1"

# Statements that cannot change server state, so a request carrying only these may be replayed
# after a timeout or a dropped connection without risking a double CREATE or TERMINATE.
_READ_ONLY = re.compile(r"^\s*(SHOW|LIST|DESCRIBE|EXPLAIN)\b", re.I)
_ALREADY_EXISTS = re.compile(r"A (stream|table) with the same name already exists", re.I)
_PLAIN_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUERY_ID = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------------------------
# Errors


class KsqlDbError(ResourceError):
    system = "ksqlDB"

    def __init__(self, message: str, *, status: int | None = None, error_code: int | str | None = None,
                 server_message: str | None = None):
        super().__init__(message, status=status, error_code=error_code)
        # ksqlDB's own "message" field, without our prefix: what is_already_exists() and callers match on
        self.server_message = message if server_message is None else server_message


class KsqlDbUnreachable(KsqlDbError, Unreachable):
    """No HTTP answer from ksqlDB after the retries were spent."""


class KsqlGenericError(KsqlDbError):
    """A `generic_error` body, or an error that is not ksqlDB JSON at all (proxy 404, ...)."""


class KsqlAuthError(KsqlGenericError):
    """401 (error_code 40100) or 403 (40300/40301): retrying will not help."""


class KsqlServerNotReady(KsqlGenericError):
    """503 still answered after the retries: 50301 command-queue catch-up timeout, 50302 not ready,
    50303/50304 shutting down / shut down."""


class KsqlStatementError(KsqlDbError):
    """A `statement_error`: ksqlDB parsed the request but rejected one statement."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error_code: int | None,
        statement_text: str = "",
        entities: list[Any] | None = None,
    ):
        super().__init__(message, status=status, error_code=error_code)
        self.statement_text = statement_text
        self.entities = entities or []

    def __str__(self) -> str:
        head = f"ksqlDB rejected statement (HTTP {self.status}, error_code {self.error_code}): {self.message}"
        if self.statement_text:
            stmt = " ".join(self.statement_text.split())
            head += f" [statement: {stmt[:300]}{'...' if len(stmt) > 300 else ''}]"
        return head


# --------------------------------------------------------------------------------------------
# Parsed entities. Every entity keeps its raw JSON so callers never lose a field we did not model.


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
    common = dict(
        type=t,
        statement_text=obj.get("statementText", ""),
        warnings=tuple(w.get("message", "") for w in obj.get("warnings") or () if isinstance(w, Mapping)),
        raw=obj,
    )
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
        return TerminateQueryResult(
            **common, query_id=obj.get("queryId", ""), was_terminated=bool(obj.get("wasTerminated"))
        )
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


def _split_userinfo(url: str, username: str | None, password: str | None) -> tuple[str, str | None, str | None]:
    # Credentials embedded in the URL would otherwise ride along into every log line and
    # exception that mentions the URL.
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, username, password
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    url_user = unquote(parts.username or "")
    url_password = unquote(parts.password) if parts.password else None
    return clean, username or url_user, password or url_password


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --------------------------------------------------------------------------------------------
# Client


class KsqlDbClient:
    """Synchronous ksqlDB REST client. One instance per run; close() it (or use `with`).

    It remembers the last commandSequenceNumber it saw and sends it with later requests, so a
    client must not outlive the server's command topic (a wiped server would answer 50301)."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        max_retry_after: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        url, username, password = _split_userinfo(url, username, password)
        if password and not username:
            raise ValueError("ksqlDB basic auth needs a username when a password is set")
        self.base_url = url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._secrets = {password} if password else set()
        # Highest commandSequenceNumber this client has seen; sent back so a read issued after a
        # write waits until the server has applied that write (what the ksql CLI does).
        self._last_command_seq = -1
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(username, password or "") if username else None,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KsqlDbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP plumbing ------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        hint = _retry_after_seconds(retry_after)
        if hint is not None:
            return min(hint, self.max_retry_after)
        ceiling = min(self.backoff_max, self.backoff * (2**attempt))
        # Jitter keeps several runs that hit the same restarting server from retrying in lockstep.
        return random.uniform(ceiling / 2, ceiling)

    def _send(
        self, method: str, path: str, *, body: Any = None, accept: str, replayable: bool, retries: int | None = None
    ) -> httpx.Response:
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                resp = self._http.request(method, path, json=body, headers={"Accept": accept})
            except httpx.TransportError as exc:
                # A request that never left (connect/pool failure) is always safe to resend; one that
                # may have reached the server only when replaying cannot change state.
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if not (never_sent or replayable) or attempt >= max_retries:
                    raise KsqlDbUnreachable(
                        self._scrub(
                            f"ksqlDB at {self.base_url} did not answer {method} {path} "
                            f"after {attempt + 1} attempt(s): {type(exc).__name__}: {exc}"
                        )
                    ) from exc
                delay = self._delay(attempt, None)
                log.warning("ksqlDB %s %s failed (%s); retry %d/%d in %.2fs",
                            method, path, type(exc).__name__, attempt + 1, max_retries, delay)
            else:
                # Every 503 (5030x) is answered before the statement runs, so resending is safe.
                if resp.status_code != 503 or attempt >= max_retries:
                    return resp
                delay = self._delay(attempt, resp.headers.get("Retry-After"))
                log.warning("ksqlDB %s %s answered 503 (error_code %s); retry %d/%d in %.2fs",
                            method, path, _error_code(resp), attempt + 1, max_retries, delay)
            attempt += 1
            self._sleep(delay)

    def _raise_for_error(self, resp: httpx.Response, path: str) -> None:
        if resp.status_code < 400:
            return
        body = _json_or_none(resp)
        if isinstance(body, Mapping) and "error_code" in body:
            code = body.get("error_code")
            message = self._scrub(str(body.get("message", "")))
            if body.get("@type") == "statement_error":
                raise KsqlStatementError(
                    message,
                    status=resp.status_code,
                    error_code=code,
                    statement_text=self._scrub(str(body.get("statementText", ""))),
                    entities=list(body.get("entities") or []),
                )
            cls = (
                KsqlServerNotReady if resp.status_code == 503
                else KsqlAuthError if resp.status_code in (401, 403)
                else KsqlGenericError
            )
            raise cls(f"ksqlDB {path} failed (HTTP {resp.status_code}, error_code {code}): {message}",
                      status=resp.status_code, error_code=code, server_message=message)
        text = self._scrub(resp.text.strip()[:300])
        cls = KsqlAuthError if resp.status_code in (401, 403) else KsqlGenericError
        raise cls(f"ksqlDB {path} failed (HTTP {resp.status_code}): {text}", status=resp.status_code,
                  server_message=text)

    def _get_json(self, path: str, *, retry: bool) -> Any:
        resp = self._send("GET", path, accept=KSQL_V1_JSON, replayable=True, retries=None if retry else 0)
        self._raise_for_error(resp, path)
        body = _json_or_none(resp)
        if not isinstance(body, Mapping):
            raise KsqlGenericError(f"ksqlDB {path}: expected a JSON object, got {resp.text[:200]!r}",
                                   status=resp.status_code)
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
        payload = _json_or_none(resp)
        if not isinstance(payload, list):
            raise KsqlGenericError(f"ksqlDB /ksql: expected a JSON array, got {resp.text[:200]!r}",
                                   status=resp.status_code)
        entities = [parse_entity(e) for e in payload if isinstance(e, Mapping)]
        for e in entities:
            if isinstance(e, CommandStatus):
                self._last_command_seq = max(self._last_command_seq, e.command_sequence_number)
                if e.status == "ERROR":
                    # The command was queued but failed when the server executed it.
                    raise KsqlStatementError(self._scrub(e.message), status=resp.status_code, error_code=None,
                                             statement_text=self._scrub(e.statement_text))
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
        stmt = (f"DROP {kind} {'IF EXISTS ' if if_exists else ''}{quote_identifier(name)}"
                f"{' DELETE TOPIC' if delete_topic else ''};")
        return self._single(stmt, CommandStatus, "currentStatus")

    # -- /query-stream ----------------------------------------------------------------------------

    def pull_query(self, sql: str, properties: Mapping[str, Any] | None = None) -> PullQueryResult:
        """A pull query over HTTP/1.1 /query-stream (ksqlDB >= 0.24), delimited format: a metadata
        line, then one JSON array per row. Push queries never end, so they are refused here."""
        if re.search(r"\bEMIT\s+CHANGES\b", sql, re.I):
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
            raise KsqlGenericError(f"ksqlDB /query-stream: not the delimited format ({exc}): {resp.text[:200]!r}",
                                   status=resp.status_code) from None
        meta = items[0] if items else None
        if not isinstance(meta, Mapping) or "columnNames" not in meta:
            raise KsqlGenericError(f"ksqlDB /query-stream: unexpected first line {resp.text[:200]!r}",
                                   status=resp.status_code)
        names = tuple(meta.get("columnNames") or ())
        rows: list[dict[str, Any]] = []
        for item in items[1:]:
            if isinstance(item, list):
                rows.append(dict(zip(names, item, strict=False)))
            elif isinstance(item, Mapping) and "error_code" in item:
                # Errors after the header arrive in-band, as one more line.
                raise KsqlGenericError(
                    f"ksqlDB pull query failed mid-stream (error_code {item.get('error_code')}): "
                    f"{self._scrub(str(item.get('message', '')))}",
                    status=resp.status_code, error_code=item.get("error_code"),
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


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _error_code(resp: httpx.Response) -> Any:
    body = _json_or_none(resp)
    return body.get("error_code") if isinstance(body, Mapping) else None


# --------------------------------------------------------------------------------------------
# Dagster resource


class KsqlDbResource(dg.ConfigurableResource):
    """Holds ksqlDB connection settings; get_client() opens a KsqlDbClient."""

    url: str = Field(default=KSQLDB_URL.default, description="ksqlDB server REST URL (env KSQLDB_URL)")
    username: str | None = Field(default=None, description="Basic-auth user, when ksqlDB has HTTP basic auth on.")
    password: str | None = Field(
        default=None,
        repr=False,
        description="Basic-auth password; pass dg.EnvVar(...). Never logged nor put in error messages.",
    )
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout (connect and read).")
    max_retries: int = Field(
        default=5, description="Retries on 503 (server starting, command queue behind) and connection failures."
    )
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles per retry, jittered")
    backoff_max_seconds: float = Field(default=10.0, description="Cap of one exponential retry delay")
    max_retry_after_seconds: float = Field(
        default=30.0, description="Cap applied to a server-sent Retry-After header."
    )

    def get_client(self) -> KsqlDbClient:
        return KsqlDbClient(
            self.url,
            username=self.username,
            password=self.password,
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff=self.backoff_seconds,
            backoff_max=self.backoff_max_seconds,
            max_retry_after=self.max_retry_after_seconds,
        )


__all__ = [
    "CommandStatus", "FieldInfo", "HealthStatus", "KsqlAuthError", "KsqlDbClient", "KsqlDbError", "KsqlDbResource",
    "KsqlDbUnreachable", "KsqlEntity", "KsqlGenericError", "KsqlServerNotReady", "KsqlStatementError",
    "PullQueryResult", "QueryList", "RunningQuery", "ServerInfo", "SourceDescription", "SourceDescriptionEntity",
    "SourceInfo", "SourceList", "TerminateQueryResult", "WarningEntity", "is_already_exists", "parse_entity",
    "quote_identifier",
]
