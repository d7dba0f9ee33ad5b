"""Oracle: a plain client over a small python-oracledb Thin-mode pool, and the Dagster resource around it.

- `OracleClient.query(sql, params) -> list[dict]` (column names as the driver reports them, upper-case).
- `OracleClient.execute(sql, params) -> "applied" | "unchanged"`: the ORA codes that mean "already
  there" (ALREADY_EXISTS_CODES, plus a statement's own extra codes) are reported as "unchanged".
  Grants that are already held succeed silently in Oracle and therefore report "applied".
- Connection failures become typed errors naming host, port and service/SID: DPY-6005 (no listener /
  host unreachable) -> OracleUnreachable, DPY-6001/DPY-6003 (unknown service/SID; Thin mode wraps
  them inside DPY-6005) -> OracleServiceNotFound, ORA-01017 & co -> OracleAuthenticationError.
- No message, repr or log line carries a password: every known secret is scrubbed from driver
  text, statements are logged by their display form only, and errors are raised outside the
  `except` block so the driver exception is not chained into tracebacks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from resources._lazy import lazy_import

oracledb = lazy_import("oracledb")
from dagster import ConfigurableResource
from pydantic import Field

from resources import endpoints
from resources.errors import ResourceError, Unreachable
from resources.redaction import REDACTED, scrub

log = logging.getLogger(__name__)

Outcome = Literal["applied", "unchanged"]

# ORA codes that mean the object/attribute is already there when a provisioning statement is re-run.
ALREADY_EXISTS_CODES: frozenset[int] = frozenset(
    {
        1920,  # user name 'X' conflicts with another user or role name (CREATE USER)
        1921,  # role name 'X' conflicts with another user or role name (CREATE ROLE)
        955,  # name is already used by an existing object (CREATE TABLE)
        1430,  # column being added already exists in table
        2260,  # table can have only one primary key
        2261,  # such unique or primary key already exists in the table
        2275,  # such a referential constraint already exists in the table
        32588,  # supplemental logging attribute all column exists (ALTER TABLE ... ADD SUPPLEMENTAL LOG DATA)
        65235,  # cannot create common user/role/profile with the same name as an existing one
    }
)
AUTH_CODES = frozenset({1017, 1045, 28000, 28001, 28009})
PRIVILEGE_CODES = frozenset({1031})

_CODE_IN_TEXT = re.compile(r"\b(?:ORA|DPY)-\d{4,5}\b")
_IDENTIFIED_BY = re.compile(r'(IDENTIFIED\s+BY\s+)("[^"]*"|\S+)', re.I)
_PLSQL = re.compile(r"^\s*(BEGIN|DECLARE)\b", re.I)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class OracleError(ResourceError):
    """An Oracle failure. `full_code` is the driver's code (e.g. 'ORA-00942', 'DPY-6005')."""

    system = "oracle"

    def __init__(
        self,
        message: str,
        *,
        full_code: str | None = None,
        code: int | None = None,
        host: str | None = None,
        port: int | None = None,
        service: str | None = None,
        statement: str | None = None,
    ):
        super().__init__(message, error_code=full_code)
        self.full_code = full_code
        self.code = code
        self.host = host
        self.port = port
        self.service = service
        self.statement = statement


class OracleUnreachable(OracleError, Unreachable):
    """No listener at host:port (DPY-6005 with connection refused / unknown host / timeout)."""


class OracleServiceNotFound(OracleError):
    """The listener answered but does not know the service name or SID (DPY-6001 / DPY-6003)."""


class OracleAuthenticationError(OracleError):
    """Logon denied: ORA-01017 bad credentials, ORA-01045 no CREATE SESSION, ORA-28000 locked, ORA-28009 SYS without SYSDBA."""


class OraclePrivilegeError(OracleError):
    """ORA-01031 insufficient privileges while running a statement."""


class OracleStatementError(OracleError):
    """Any other error raised by a statement."""


class OracleConfigError(OracleError):
    """The resource configuration cannot produce a connection (e.g. admin password missing)."""


# --------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------


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


def _driver_error(exc: BaseException) -> Any:
    return exc.args[0] if exc.args and hasattr(exc.args[0], "full_code") else None


def _codes_in_chain(exc: BaseException) -> set[str]:
    """Every ORA-/DPY- code in the exception, its message lines and its __cause__ chain."""
    codes: set[str] = set()
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        err = _driver_error(e)
        if err is not None and err.full_code:
            codes.add(err.full_code)
        codes.update(_CODE_IN_TEXT.findall(str(err.message if err is not None else e)))
        e = e.__cause__
    return codes


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

    def __enter__(self) -> OracleClient:
        return self

    def __exit__(self, *exc: Any) -> None:
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
                failure = self._translate(exc, phase=phase, display=display, extra_secrets=extra_secrets)
        # raised outside the except block: the driver exception is neither chained nor in __context__
        raise failure

    def _translate(self, exc: oracledb.Error, *, phase: str, display: str, extra_secrets: frozenset[str]) -> OracleError:
        err = _driver_error(exc)
        codes = _codes_in_chain(exc)
        full_code = err.full_code if err is not None else None
        code = err.code if err is not None else None
        lines = [ln for ln in str(err.message if err is not None else exc).splitlines() if ln and not ln.startswith("Help:")]
        driver_text = self._scrub(" ".join(lines), extra_secrets)
        t = self.target
        where = f"Oracle at {t.host}:{t.port} ({t.service})"
        common = dict(full_code=full_code, code=code, host=t.host, port=t.port, service=t.service)
        stmt = self._scrub(display, extra_secrets)

        if "DPY-6001" in codes or "DPY-6003" in codes:
            fix = "the resource's sid" if t.sid else f"{endpoints.ORACLE_SERVICE_NAME.env} / the resource's service_name"
            return OracleServiceNotFound(
                f"{where}: the listener at {t.host}:{t.port} does not know {t.service} [{driver_text}] - check {fix}",
                **common,
            )
        auth = next((c for c in (1017, 1045, 28000, 28001, 28009) if f"ORA-{c:05d}" in codes), None)
        if auth is not None or (code in AUTH_CODES):
            hint = {
                "ORA-01017": f"check the user name and the password (env {t.password_env})",
                "ORA-28009": "SYS must connect with as_sysdba=True",
                "ORA-01045": "the user lacks CREATE SESSION (grant the CDC role or CONNECT)",
            }.get(f"ORA-{auth:05d}" if auth else "", "see the Oracle message")
            return OracleAuthenticationError(
                f"{where} denied logon for user {t.user}{' AS SYSDBA' if t.sysdba else ''} [{driver_text}] - {hint}",
                **common,
            )
        if phase == "connect" or (full_code or "").startswith("DPY-6") or full_code in ("DPY-4005", "DPY-4011"):
            return OracleUnreachable(
                f"cannot reach {where}: [{driver_text}] - is the database up and are "
                f"{endpoints.ORACLE_HOST.env}/{endpoints.ORACLE_PORT.env} right?",
                **common,
            )
        if code in PRIVILEGE_CODES:
            return OraclePrivilegeError(
                f"{where}: user {t.user} has insufficient privileges for: {stmt} [{driver_text}]", statement=stmt, **common
            )
        return OracleStatementError(f"{where}: statement failed: {stmt} [{driver_text}]", statement=stmt, **common)


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


# --------------------------------------------------------------------------------------------------
# Dagster resource
# --------------------------------------------------------------------------------------------------


class OracleResource(ConfigurableResource):
    """Oracle connection settings. Unset endpoint fields fall back to resources/endpoints.py at run time.

    Pass secrets as `dagster.EnvVar(endpoints.ORACLE_PASSWORD_ENV)` / `EnvVar(endpoints.ORACLE_ADMIN_PASSWORD_ENV)`.
    """

    host: str | None = Field(default=None, description=f"Listener host; default ${endpoints.ORACLE_HOST.env} or '{endpoints.ORACLE_HOST.default}'")
    port: int | None = Field(default=None, description=f"Listener port; default ${endpoints.ORACLE_PORT.env} or {endpoints.ORACLE_PORT.default}")
    service_name: str | None = Field(
        default=None,
        description=f"Service name; default ${endpoints.ORACLE_SERVICE_NAME.env} or '{endpoints.ORACLE_SERVICE_NAME.default}' (unless sid is set)",
    )
    sid: str | None = Field(default=None, description="Connect by SID instead of service name")
    user: str | None = Field(default=None, description=f"CDC user; default ${endpoints.ORACLE_USER.env} or '{endpoints.ORACLE_USER.default}'")
    password: str = Field(repr=False, description=f"Password of `user` (EnvVar {endpoints.ORACLE_PASSWORD_ENV})")
    admin_user: str | None = Field(
        default=None, description=f"Admin for prerequisite fixes; default ${endpoints.ORACLE_ADMIN_USER.env} or '{endpoints.ORACLE_ADMIN_USER.default}'"
    )
    admin_password: str | None = Field(
        default=None, repr=False, description=f"Admin password (EnvVar {endpoints.ORACLE_ADMIN_PASSWORD_ENV}); admin client unavailable without it"
    )
    as_sysdba: bool = Field(default=False, description="Connect the admin AS SYSDBA (required for SYS)")
    pool_min: int = 0
    pool_max: int = 2
    pool_increment: int = 1
    timeout_seconds: float = Field(default=10.0, description="TCP connect timeout and pool wait timeout")

    # ---- targets -----------------------------------------------------------------------------------

    def _endpoint(self, user: str, sysdba: bool, password_env: str) -> ConnectionTarget:
        if self.sid and self.service_name:
            raise OracleConfigError("set either service_name or sid, not both")
        return ConnectionTarget(
            host=self.host or endpoints.ORACLE_HOST.get(),
            port=int(self.port or endpoints.ORACLE_PORT.get()),
            service_name=None if self.sid else (self.service_name or endpoints.ORACLE_SERVICE_NAME.get()),
            sid=self.sid,
            user=user,
            sysdba=sysdba,
            password_env=password_env,
        )

    def target(self) -> ConnectionTarget:
        return self._endpoint(self.user or endpoints.ORACLE_USER.get(), False, endpoints.ORACLE_PASSWORD_ENV)

    def admin_target(self) -> ConnectionTarget:
        return self._endpoint(
            self.admin_user or endpoints.ORACLE_ADMIN_USER.get(), self.as_sysdba, endpoints.ORACLE_ADMIN_PASSWORD_ENV
        )

    def _secrets(self) -> set[str]:
        return {s for s in (self.password, self.admin_password) if isinstance(s, str) and s}

    # ---- clients -----------------------------------------------------------------------------------

    def _create_pool(self, params: oracledb.PoolParams, password: str) -> PoolLike:
        """Override point for tests (tests/doubles/oracle_db.py). Thin mode: no init_oracle_client()."""
        return oracledb.create_pool(params=params, password=password)

    def _client(self, target: ConnectionTarget, password: str) -> OracleClient:
        params = target.pool_params(
            pool_min=self.pool_min, pool_max=self.pool_max, pool_increment=self.pool_increment, timeout_s=self.timeout_seconds
        )
        return OracleClient(target, lambda: self._create_pool(params, password), secrets=self._secrets())

    def get_client(self) -> OracleClient:
        """Client for the CDC user (checks, probes). Close it, or use it as a context manager."""
        return self._client(self.target(), self.password)

    def get_admin_client(self) -> OracleClient:
        """Client for the admin (provisioning, prerequisite fixes)."""
        t = self.admin_target()
        if not self.admin_password:
            raise OracleConfigError(
                f"no admin password configured for {t.describe()} (set {endpoints.ORACLE_ADMIN_PASSWORD_ENV})",
                host=t.host,
                port=t.port,
                service=t.service,
            )
        return self._client(t, self.admin_password)

    @contextmanager
    def client(self) -> Iterator[OracleClient]:
        with self.get_client() as c:
            yield c

    @contextmanager
    def admin_client(self) -> Iterator[OracleClient]:
        with self.get_admin_client() as c:
            yield c
