"""OracleClient: runs SQL on a lazily created python-oracledb Thin-mode pool (see oracle.py for the
contract), plus the connection target it runs against."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self

from resources import endpoints
from resources._lazy import lazy_import
from resources.oracle_errors import (
    ALREADY_EXISTS_CODES,
    _driver_error,
    network_unreachable,
    translate,
)
from resources.redaction import REDACTED, scrub

oracledb = lazy_import("oracledb")

log = logging.getLogger(__name__)

Outcome = Literal["applied", "unchanged"]

_IDENTIFIED_BY = re.compile(r'(IDENTIFIED\s+BY\s+)("[^"]*"|\S+)', re.IGNORECASE)
_PLSQL = re.compile(r"^\s*(BEGIN|DECLARE)\b", re.IGNORECASE)


class PoolLike(Protocol):
    """The part of oracledb.ConnectionPool the client uses (the test double implements it too)."""

    def acquire(self) -> Any: ...

    def close(self, force: bool = False) -> None: ...


class StatementLike(Protocol):
    sql: str
    display: str
    params: Mapping[str, Any] | None
    secrets: frozenset[str]
    extra_unchanged_codes: frozenset[int]
    kind: str


@dataclass(frozen=True)
class ConnectionTarget:
    """Where and as whom; never holds a password."""

    host: str
    port: int
    service_name: str | None
    sid: str | None
    user: str
    sysdba: bool = False
    password_env: str = endpoints.ORACLE_PASSWORD_ENV  # where the password is expected to come from (for hints)

    @property
    def service(self) -> str:
        return f"SID {self.sid}" if self.sid else f"service {self.service_name}"

    def describe(self) -> str:
        return f"{self.host}:{self.port} ({self.service}) as {self.user}" + (" AS SYSDBA" if self.sysdba else "")

    def pool_params(self, *, pool_min: int = 0, pool_max: int = 2, pool_increment: int = 1, timeout_s: float = 10.0) -> oracledb.PoolParams:
        # PoolParams (a ConnectParams subclass): create_pool(params=ConnectParams(...)) fails with DPY-2027.
        kwargs: dict[str, Any] = dict(
            host=self.host,
            port=self.port,
            user=self.user,
            min=pool_min,
            max=pool_max,
            increment=pool_increment,
            getmode=oracledb.POOL_GETMODE_TIMEDWAIT,
            wait_timeout=int(timeout_s * 1000),
            tcp_connect_timeout=timeout_s,
            retry_count=0,
        )
        if self.sid:
            kwargs["sid"] = self.sid
        else:
            kwargs["service_name"] = self.service_name
        if self.sysdba:
            kwargs["mode"] = oracledb.AUTH_MODE_SYSDBA
        return oracledb.PoolParams(**kwargs)


@dataclass(frozen=True)
class StatementResult:
    kind: str
    display: str
    outcome: Outcome


def _check_sql(sql: str) -> None:
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("empty SQL statement")
    if sql.rstrip().endswith((";", "/")) and not _PLSQL.match(sql):
        raise ValueError("SQL sent through python-oracledb must not end with ';' or '/'")


class OracleClient:
    """Runs SQL on a lazily created pool. Use as a context manager, or call close()."""

    def __init__(self, target: ConnectionTarget, pool_factory: Callable[[], PoolLike], *, secrets: Iterable[str] = ()):
        self.target = target
        self._pool_factory = pool_factory
        self._pool: PoolLike | None = None
        self._secrets = frozenset(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"OracleClient({self.target.describe()})"

    __str__ = __repr__

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                pool.close(force=True)
            except oracledb.Error as e:  # closing must not mask the real outcome
                log.debug("closing the Oracle pool failed: %s", self._scrub(str(e)))

    # ---- public API --------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name (as reported in cursor.description, i.e. upper-case)."""
        _check_sql(sql)

        def run(cur: Any) -> list[dict[str, Any]]:
            cur.execute(sql, _params(params))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self._with_cursor(run, display=sql, commit=False)

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        display: str | None = None,
        secrets: Iterable[str] = (),
        unchanged_codes: Iterable[int] = ALREADY_EXISTS_CODES,
    ) -> Outcome:
        """Run one DDL/DML statement and commit. "unchanged" when Oracle says the object already exists.

        `display` is what gets logged and put into errors (default: the SQL with IDENTIFIED BY masked);
        `secrets` are scrubbed from any error text on top of the connection passwords.
        """
        _check_sql(sql)
        shown = display or _mask_sql(sql)
        unchanged = frozenset(unchanged_codes)
        extra = frozenset(s for s in secrets if s)

        def run(cur: Any) -> Outcome:
            cur.execute(sql, _params(params))
            return "applied"

        try:
            outcome = self._with_cursor(run, display=shown, commit=True, extra_secrets=extra, unchanged_codes=unchanged)
        except _Unchanged as u:
            log.info("oracle: unchanged (%s): %s", u.full_code, shown)
            return "unchanged"
        log.info("oracle: applied: %s", shown)
        return outcome

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any] | Sequence[Any]], *, display: str | None = None) -> int:
        """executemany with bind rows, one commit. Returns the number of rows processed."""
        _check_sql(sql)
        if not rows:
            return 0
        shown = display or _mask_sql(sql)

        def run(cur: Any) -> int:
            cur.executemany(sql, list(rows))
            return int(cur.rowcount if cur.rowcount is not None and cur.rowcount >= 0 else len(rows))

        n = self._with_cursor(run, display=shown, commit=True)
        log.info("oracle: %d row(s): %s", n, shown)
        return n

    def run(self, statement: StatementLike) -> Outcome:
        """Execute a pipeline_defs.oracle_sql.Statement (display form logged, its secrets scrubbed)."""
        return self.execute(
            statement.sql,
            statement.params,
            display=statement.display,
            secrets=statement.secrets,
            unchanged_codes=ALREADY_EXISTS_CODES | frozenset(statement.extra_unchanged_codes),
        )

    def apply(self, statements: Iterable[StatementLike]) -> list[StatementResult]:
        """Run statements in order; stop at the first error (raised as a typed OracleError)."""
        return [StatementResult(s.kind, s.display, self.run(s)) for s in statements]

    def ping(self) -> None:
        """Connect and run a trivial query; raises the typed connection errors."""
        self.query("SELECT 1 AS OK FROM DUAL")

    # ---- internals ---------------------------------------------------------------------------------

    def _scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        return scrub(_mask_sql(text), self._secrets | frozenset(extra))

    def _get_pool(self) -> PoolLike:
        if self._pool is None:
            self._pool = self._pool_factory()
        return self._pool

    def _with_cursor(
        self,
        fn: Callable[[Any], Any],
        *,
        display: str,
        commit: bool,
        extra_secrets: frozenset[str] = frozenset(),
        unchanged_codes: frozenset[int] = frozenset(),
    ) -> Any:
        failure: Exception | None = None
        phase = "connect"
        try:
            pool = self._get_pool()
            with pool.acquire() as conn:
                phase = "statement"
                with conn.cursor() as cur:
                    try:
                        result = fn(cur)
                        if commit:
                            conn.commit()
                        return result
                    except oracledb.Error:
                        _rollback_quietly(conn)
                        raise
        except oracledb.Error as exc:
            err = _driver_error(exc)
            if phase == "statement" and err is not None and err.code in unchanged_codes:
                failure = _Unchanged(err.full_code)
            else:
                failure = translate(exc, self.target, phase=phase, display=display, clean=lambda text: self._scrub(text, extra_secrets))
        except OSError as exc:
            failure = network_unreachable(exc, self.target, lambda text: self._scrub(text, extra_secrets))
        # raised outside the except block: the driver exception is neither chained nor in __context__
        raise failure


class _Unchanged(Exception):
    def __init__(self, full_code: str):
        super().__init__(full_code)
        self.full_code = full_code


def _rollback_quietly(conn: Any) -> None:
    try:
        conn.rollback()
    except oracledb.Error:
        pass


def _params(params: Mapping[str, Any] | Sequence[Any] | None) -> Any:
    if params is None:
        return None
    return dict(params) if isinstance(params, Mapping) else list(params)


def _mask_sql(text: str) -> str:
    return _IDENTIFIED_BY.sub(lambda m: m.group(1) + REDACTED, text)
