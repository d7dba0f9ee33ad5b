"""PostgreSQL (psycopg 3): a plain client and the Dagster resource that owns it.

- `PostgresClient.execute(statements)` runs statements in ONE transaction: all or none (the
  connection is in autocommit mode otherwise, so reads leave no transaction open).
- `query` / `query_one` / `scalar` return rows as dicts keyed by column name.
- `server_settings(names)` reads pg_settings (wal_level, max_replication_slots, ...).
- Identifiers are composed with psycopg.sql.Identifier (`ident()`), never by string formatting;
  values always travel as bind parameters.
- Failures become typed errors: PostgresUnreachable (name not resolved, connection refused,
  timeout; names host:port), PostgresAuthError (28P01/28000), PostgresPrivilegeError (42501),
  PostgresUndefinedObject (42704 and the other "does not exist" states), PostgresStatementError.
  Every message is scrubbed of the password and of any secret the caller passes along.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

import psycopg
from psycopg import rows as psycopg_rows
from psycopg import sql as psycopg_sql
from pydantic import Field

from resources import endpoints
from resources._http import ClientOwner
from resources.errors import ResourceError, Unreachable
from resources.read_cache import ReadCache
from resources.redaction import REDACTED, scrub

log = logging.getLogger(__name__)


class PostgresError(ResourceError):
    system = "PostgreSQL"

    def __init__(self, message: str, *, sqlstate: str | None = None, statement: str | None = None):
        super().__init__(message, error_code=sqlstate)
        self.sqlstate = sqlstate
        self.statement = statement


class PostgresUnreachable(PostgresError, Unreachable):
    """No server answered at host:port (name not resolved, connection refused, timeout)."""


class PostgresAuthError(PostgresError):
    """Login refused: bad password (28P01), no pg_hba.conf entry / role cannot log in (28000)."""


class PostgresPrivilegeError(PostgresError):
    """42501 insufficient_privilege."""


class PostgresUndefinedObject(PostgresError):
    """The named object does not exist: role/publication/slot (42704), table (42P01), column (42703),
    function (42883), schema (3F000), database (3D000)."""


class PostgresStatementError(PostgresError):
    """Any other error raised by a statement."""


_UNDEFINED = {"42704", "42P01", "42703", "42883", "3F000", "3D000"}
_AUTH = {"28P01", "28000"}
# libpq's connection-failure texts (no SQLSTATE is sent before the server has answered)
_NETWORK_TEXTS = (
    "could not translate host name",
    "connection refused",
    "timeout expired",
    "could not connect",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
)
_AUTH_TEXTS = ("password authentication failed", "no pg_hba.conf entry", "authentication failed")


def ident(*names: str) -> Any:
    """A (possibly qualified) identifier: ident("public", "POC_CLICKSTREAM") -> "public"."POC_CLICKSTREAM"."""
    for n in names:
        if not isinstance(n, str) or not n or "\x00" in n:
            raise ValueError(f"not a PostgreSQL identifier: {n!r}")
    return psycopg_sql.Identifier(*names)


def literal(value: Any) -> Any:
    """A value quoted into the statement text, for the utility statements that take no bind
    parameters (CREATE ROLE ... PASSWORD, ALTER SYSTEM SET); pass secrets to execute(secrets=...)."""
    return psycopg_sql.Literal(value)


def sql(template: str) -> Any:
    """psycopg.sql.SQL(template): compose with .format(ident(...), ...)."""
    return psycopg_sql.SQL(template)


Statement = Any  # str | psycopg.sql.Composable | (query, params)


class PostgresClient:
    """One connection, opened on first use. Use as a context manager, or call close()."""

    def __init__(
        self,
        host: str,
        port: int,
        dbname: str,
        user: str,
        password: str | None,
        *,
        connect_timeout: float = 10.0,
        secrets: Iterable[str] = (),
    ):
        self.host, self.port, self.dbname, self.user = host, int(port), dbname, user
        self._password = password
        self._timeout = max(1, round(connect_timeout))  # libpq takes whole seconds
        self._secrets = {s for s in (password, *secrets) if s}
        self._conn: Any = None
        self._closed = False
        self._reads = ReadCache()

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"PostgresClient({self.endpoint}/{self.dbname} as {self.user}, password={REDACTED if self._password else None})"

    __str__ = __repr__

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ---- public API ------------------------------------------------------------------------------

    def execute(
        self,
        statements: Statement | Sequence[Statement],
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        secrets: Iterable[str] = (),
        in_transaction: bool = True,
    ) -> int:
        """Run one statement, or a list of statements (str, sql.Composable or (query, params)), in one
        transaction. Returns the total rowcount (-1 counts as 0). `secrets` are scrubbed from errors.
        in_transaction=False runs a single statement on its own, for the few that refuse a transaction
        block (ALTER SYSTEM, CREATE DATABASE, DROP_REPLICATION_SLOT on a busy slot...)."""
        items = [statements] if isinstance(statements, str | psycopg_sql.Composable | tuple) else list(statements)
        if params is not None and len(items) != 1:
            raise ValueError("params apply to a single statement; pass (query, params) pairs for several")
        if not in_transaction and len(items) != 1:
            raise ValueError("in_transaction=False runs exactly one statement")
        extra = {s for s in secrets if s}
        self._reads.clear()  # a write: memoized catalog reads may no longer hold
        conn = self._connection()
        total = 0
        shown = ""
        try:
            with conn.transaction() if in_transaction else _no_transaction(), conn.cursor() as cur:
                for item in items:
                    query, args = item if isinstance(item, tuple) else (item, params)
                    shown = self._display(query, conn)
                    cur.execute(query, args)
                    total += max(cur.rowcount, 0)
        except psycopg.Error as exc:
            failure = self._translate(exc, shown, extra)
        else:
            return total
        raise failure

    def cached_reads(self) -> contextlib.AbstractContextManager[None]:
        """Within the block an identical query (text and parameters) runs once (resources.read_cache): every
        node of a plan reads the same catalog. Callers must not mutate the rows they get."""
        return self._reads.scope()

    def query(self, query: Any, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[dict[str, Any]]:
        if self._reads.active:
            key = (repr(query), repr(params))
            return self._reads.get(key, lambda: self._query(query, params))
        return self._query(query, params)

    def _query(self, query: Any, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[dict[str, Any]]:
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor(row_factory=psycopg_rows.dict_row) as cur:
                cur.execute(query, params)
                rows = cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            failure = self._translate(exc, self._display(query, conn), set())
        else:
            return rows
        raise failure

    def query_one(self, query: Any, params: Mapping[str, Any] | Sequence[Any] | None = None) -> dict[str, Any] | None:
        rows = self.query(query, params)
        return rows[0] if rows else None

    def scalar(self, query: Any, params: Mapping[str, Any] | Sequence[Any] | None = None) -> Any:
        row = self.query_one(query, params)
        return next(iter(row.values())) if row else None

    def server_settings(self, names: Iterable[str]) -> dict[str, str]:
        """{name: setting} from pg_settings for the names that exist (unknown names are left out)."""
        wanted = list(names)
        rows = self.query("SELECT name, setting FROM pg_settings WHERE name = ANY(%s) ORDER BY name", (wanted,))
        return {r["name"]: r["setting"] for r in rows}

    def server_version(self) -> int:
        return int(self._connection().info.server_version)

    def ping(self) -> None:
        self.scalar("SELECT 1")

    # ---- internals -------------------------------------------------------------------------------

    def _clean(self, text: str, extra: Iterable[str] = ()) -> str:
        return scrub(text, self._secrets | set(extra))

    def _display(self, query: Any, conn: Any) -> str:
        if isinstance(query, str):
            return query
        try:
            return query.as_string(conn)
        except (psycopg.Error, TypeError, ValueError):
            return repr(query)

    def _connection(self) -> Any:
        if self._closed:
            raise PostgresError(f"PostgreSQL client for {self.endpoint} is closed")
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    host=self.host,
                    port=self.port,
                    dbname=self.dbname,
                    user=self.user,
                    password=self._password or None,
                    connect_timeout=self._timeout,
                    application_name="cdc-control-plane",
                    autocommit=True,
                )
            except psycopg.Error as exc:
                failure = self._connect_error(exc)
            else:
                return self._conn
            raise failure
        return self._conn

    def _connect_error(self, exc: BaseException) -> PostgresError:
        text = self._clean(" ".join(str(exc).split()))
        lowered = text.lower()
        sqlstate = getattr(exc, "sqlstate", None)
        where = f"PostgreSQL at {self.endpoint} (database {self.dbname})"
        if sqlstate in _AUTH or any(t in lowered for t in _AUTH_TEXTS):
            return PostgresAuthError(
                f"{where} refused login for user {self.user}: {text} - check the user and its password "
                f"(env {endpoints.POSTGRES_ADMIN_PASSWORD_VAR} for the admin)",
                sqlstate=sqlstate,
            )
        if sqlstate in _UNDEFINED:
            return PostgresUndefinedObject(f"{where}: {text}", sqlstate=sqlstate)
        if sqlstate is None or any(t in lowered for t in _NETWORK_TEXTS):
            return PostgresUnreachable(
                f"cannot reach {where}: {text} - is the server up and are "
                f"{endpoints.POSTGRES_HOST.env}/{endpoints.POSTGRES_PORT.env} right?",
                sqlstate=sqlstate,
            )
        return PostgresError(f"{where}: {text}", sqlstate=sqlstate)

    def _translate(self, exc: BaseException, statement: str, extra: set[str]) -> PostgresError:
        if isinstance(exc, psycopg.OperationalError) and (self._conn is None or self._conn.closed):
            return self._connect_error(exc)  # the connection dropped: same mapping as at connect
        sqlstate = getattr(exc, "sqlstate", None)
        text = self._clean(" ".join(str(exc).split()), extra)
        stmt = self._clean(" ".join(statement.split())[:300], extra)
        where = f"PostgreSQL at {self.endpoint} (database {self.dbname})"
        if sqlstate == "42501":
            return PostgresPrivilegeError(
                f"{where}: user {self.user} lacks the privilege for: {stmt} [{text}]", sqlstate=sqlstate, statement=stmt
            )
        if sqlstate in _UNDEFINED:
            return PostgresUndefinedObject(f"{where}: {text} [statement: {stmt}]", sqlstate=sqlstate, statement=stmt)
        return PostgresStatementError(f"{where}: statement failed: {stmt} [{sqlstate}: {text}]", sqlstate=sqlstate, statement=stmt)


@contextlib.contextmanager
def _no_transaction() -> Iterator[None]:
    yield


class PostgresResource(ClientOwner):
    """A PostgreSQL database. Unset fields fall back to resources/endpoints.py at run time; pass the
    password as dagster.EnvVar("POSTGRES_ADMIN_PASSWORD") (or the CDC role's). get_client() returns the
    client this resource owns for the execution (closed at teardown, or by `with`)."""

    host: str | None = Field(default=None, description=f"default ${endpoints.POSTGRES_HOST.env} or {endpoints.POSTGRES_HOST.default}")
    port: int | None = Field(default=None, description=f"default ${endpoints.POSTGRES_PORT.env} or {endpoints.POSTGRES_PORT.default}")
    dbname: str | None = Field(default=None, description=f"default ${endpoints.POSTGRES_DB.env} or {endpoints.POSTGRES_DB.default}")
    user: str | None = Field(
        default=None, description=f"default ${endpoints.POSTGRES_ADMIN_USER.env} or {endpoints.POSTGRES_ADMIN_USER.default}"
    )
    password: str | None = Field(default=None, repr=False, description=f"pass dagster.EnvVar({endpoints.POSTGRES_ADMIN_PASSWORD_VAR!r})")
    connect_timeout_seconds: float = Field(default=10.0, description="libpq connect_timeout (whole seconds, at least 1)")

    def get_client(self) -> PostgresClient:
        return self._owned_client()

    def _new_client(self, kind: str) -> PostgresClient:
        return PostgresClient(
            self.host or endpoints.POSTGRES_HOST.get(),
            int(self.port or endpoints.POSTGRES_PORT.get()),
            self.dbname or endpoints.POSTGRES_DB.get(),
            self.user or endpoints.POSTGRES_ADMIN_USER.get(),
            self.password,
            connect_timeout=self.connect_timeout_seconds,
        )

    def __repr__(self) -> str:
        return (
            f"PostgresResource(host={self.host!r}, port={self.port!r}, dbname={self.dbname!r}, user={self.user!r}, "
            f"password={REDACTED if self.password else None})"
        )

    __str__ = __repr__


__all__ = [
    "PostgresAuthError",
    "PostgresClient",
    "PostgresError",
    "PostgresPrivilegeError",
    "PostgresResource",
    "PostgresStatementError",
    "PostgresUndefinedObject",
    "PostgresUnreachable",
    "ident",
    "literal",
    "sql",
]
