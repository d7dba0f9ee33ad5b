"""Oracle's typed errors and the mapping from python-oracledb exceptions (ORA-/DPY- codes) and
socket failures to them. Messages name host, port and service and never carry a password."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from resources import endpoints
from resources.errors import ResourceError, Unreachable

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


def network_unreachable(exc: OSError, target: Any, clean: Callable[[str], str]) -> OracleUnreachable:
    """A socket-level failure the driver did not wrap: python-oracledb (26.x) resolves the host name
    itself and lets socket.gaierror through; refused connections and timeouts can surface as
    OSError subclasses the same way."""
    t = target
    reason = {
        "gaierror": "the host name does not resolve",
        "ConnectionRefusedError": "connection refused",
        "TimeoutError": "timed out",
    }.get(type(exc).__name__, type(exc).__name__)
    return OracleUnreachable(
        f"cannot reach Oracle at {t.host}:{t.port} ({t.service}): {reason} [{clean(str(exc))}] - is the database up "
        f"and are {endpoints.ORACLE_HOST.env}/{endpoints.ORACLE_PORT.env} right?",
        host=t.host,
        port=t.port,
        service=t.service,
    )


def translate(exc: BaseException, target: Any, *, phase: str, display: str, clean: Callable[[str], str]) -> OracleError:
    """The typed error for a driver exception. `target` is the ConnectionTarget, `clean` scrubs
    secrets from text, `phase` is "connect" or "statement"."""
    err = _driver_error(exc)
    codes = _codes_in_chain(exc)
    full_code = err.full_code if err is not None else None
    code = err.code if err is not None else None
    lines = [ln for ln in str(err.message if err is not None else exc).splitlines() if ln and not ln.startswith("Help:")]
    driver_text = clean(" ".join(lines))
    t = target
    where = f"Oracle at {t.host}:{t.port} ({t.service})"
    common: dict[str, Any] = {"full_code": full_code, "code": code, "host": t.host, "port": t.port, "service": t.service}
    stmt = clean(display)

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
