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

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource
from pydantic import Field

from resources import endpoints
from resources._lazy import lazy_import
from resources.oracle_client import (
    ConnectionTarget,
    OracleClient,
    Outcome,
    PoolLike,
    StatementLike,
    StatementResult,
)
from resources.oracle_errors import (
    ALREADY_EXISTS_CODES,
    AUTH_CODES,
    PRIVILEGE_CODES,
    OracleAuthenticationError,
    OracleConfigError,
    OracleError,
    OraclePrivilegeError,
    OracleServiceNotFound,
    OracleStatementError,
    OracleUnreachable,
)

oracledb = lazy_import("oracledb")

__all__ = [
    "ALREADY_EXISTS_CODES",
    "AUTH_CODES",
    "PRIVILEGE_CODES",
    "ConnectionTarget",
    "OracleAuthenticationError",
    "OracleClient",
    "OracleConfigError",
    "OracleError",
    "OraclePrivilegeError",
    "OracleResource",
    "OracleServiceNotFound",
    "OracleStatementError",
    "OracleUnreachable",
    "Outcome",
    "PoolLike",
    "StatementLike",
    "StatementResult",
]


class OracleResource(ConfigurableResource):
    """Oracle connection settings. Unset endpoint fields fall back to resources/endpoints.py at run time.

    Pass secrets as `dagster.EnvVar(endpoints.ORACLE_PASSWORD_ENV)` / `EnvVar(endpoints.ORACLE_ADMIN_PASSWORD_ENV)`.
    """

    host: str | None = Field(
        default=None, description=f"Listener host; default ${endpoints.ORACLE_HOST.env} or '{endpoints.ORACLE_HOST.default}'"
    )
    port: int | None = Field(
        default=None, description=f"Listener port; default ${endpoints.ORACLE_PORT.env} or {endpoints.ORACLE_PORT.default}"
    )
    service_name: str | None = Field(
        default=None,
        description=f"Service name; default ${endpoints.ORACLE_SERVICE_NAME.env} or '{endpoints.ORACLE_SERVICE_NAME.default}' (unless sid is set)",
    )
    sid: str | None = Field(default=None, description="Connect by SID instead of service name")
    user: str | None = Field(
        default=None, description=f"CDC user; default ${endpoints.ORACLE_USER.env} or '{endpoints.ORACLE_USER.default}'"
    )
    password: str = Field(repr=False, description=f"Password of `user` (EnvVar {endpoints.ORACLE_PASSWORD_ENV})")
    admin_user: str | None = Field(
        default=None,
        description=f"Admin for prerequisite fixes; default ${endpoints.ORACLE_ADMIN_USER.env} or '{endpoints.ORACLE_ADMIN_USER.default}'",
    )
    admin_password: str | None = Field(
        default=None,
        repr=False,
        description=f"Admin password (EnvVar {endpoints.ORACLE_ADMIN_PASSWORD_ENV}); admin client unavailable without it",
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
        return self._endpoint(self.admin_user or endpoints.ORACLE_ADMIN_USER.get(), self.as_sysdba, endpoints.ORACLE_ADMIN_PASSWORD_ENV)

    def _secrets(self) -> set[str]:
        return {s for s in (self.password, self.admin_password) if isinstance(s, str) and s}

    # ---- clients -----------------------------------------------------------------------------------

    def _create_pool(self, params: oracledb.PoolParams, password: str) -> PoolLike:
        """Override point for tests (tests/doubles/oracle_registry.py). Thin mode: no init_oracle_client()."""
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
