"""Oracle SQL: statements, grants and the validation of everything interpolated into them.

Everything here is pure: no driver, no connection. The resource (resources/oracle.py) runs what these
functions return; the test double (tests/doubles/oracle_sql_*.py) understands exactly these shapes.

Shapes follow the hand-built recipe (seed) one statement per privilege, without trailing ';':

    CREATE ROLE C##CDC_PRIVS
    GRANT EXECUTE_CATALOG_ROLE TO C##CDC_PRIVS
    GRANT SELECT ON SYS.V_$DATABASE TO C##CDC_PRIVS
    CREATE USER C##MYUSER IDENTIFIED BY "<password>" DEFAULT TABLESPACE USERS CONTAINER=ALL
    ALTER USER C##MYUSER QUOTA UNLIMITED ON USERS
    GRANT C##CDC_PRIVS TO C##MYUSER CONTAINER=ALL
    CREATE TABLE C##MYUSER.POC_USERDATA (ID VARCHAR2(50) NOT NULL, NAME VARCHAR2(50), PRIMARY KEY (ID))
    GRANT SELECT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS
    ALTER TABLE C##MYUSER.POC_USERDATA ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS
    INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)

Unqualified object names in object grants (``V_$DATABASE``, ``ALL_OBJECTS``) are qualified with ``SYS.``:
the recipe runs them as SYS, where they resolve to SYS objects, and DBA_TAB_PRIVS reports
``OWNER='SYS'``. Qualifying keeps the statements valid for an admin that is not SYS.

Grants: a spec grant without CONTAINER=ALL is satisfied by a local or a common catalog row; one with
CONTAINER=ALL only by a common row (DBA_*_PRIVS.COMMON='YES').
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pipeline_defs.systems.oracle.names import _ORACLE_IDENT, OBJECT_PRIVILEGES, QUOTA, oracle_type_info

# --------------------------------------------------------------------------------------------------
# The spec shape this module reads (pipeline_defs/spec.py provides it; tests use SimpleNamespace)
# --------------------------------------------------------------------------------------------------


class ObjectPrivilegeSpec(Protocol):
    privilege: str
    object: str


class RoleSpec(Protocol):
    name: str
    system_privileges: Sequence[str]
    object_privileges: Sequence[ObjectPrivilegeSpec]
    granted_roles: Sequence[str]


class UserRoleSpec(Protocol):
    name: str
    container_all: bool


class UserSystemPrivilegeSpec(Protocol):
    privilege: str
    container_all: bool


class UserObjectPrivilegeSpec(Protocol):
    privilege: str
    object: str
    container_all: bool


class UserSpec(Protocol):
    name: str
    default_tablespace: str
    quota: str
    container_all: bool
    roles: Sequence[UserRoleSpec]
    system_privileges: Sequence[UserSystemPrivilegeSpec]
    object_privileges: Sequence[UserObjectPrivilegeSpec]


class ColumnSpec(Protocol):
    name: str
    type: str
    primary_key: bool


class TableSpec(Protocol):
    name: str
    columns: Sequence[ColumnSpec]
    initial_rows: Sequence[Mapping[str, Any]]


class OracleSpec(Protocol):
    role: RoleSpec
    user: UserSpec
    tables: Sequence[TableSpec]


# --------------------------------------------------------------------------------------------------
# Validation of everything interpolated into SQL: the same rules the spec validates with (names.py)
# --------------------------------------------------------------------------------------------------

_PRIVILEGE_WORDS = re.compile(r"[A-Za-z_]+( [A-Za-z_]+){0,4}")
# 19c: passwords are at most 30 bytes; a quoted password may hold any printable character but '"'.
_PASSWORD = re.compile(r"[\x20\x21\x23-\x7e]{1,30}")
# Oracle-supplied roles that a spec may list among privileges; granting them is a role grant (DBA_ROLE_PRIVS).
PREDEFINED_ROLES = frozenset(
    {
        "CONNECT",
        "RESOURCE",
        "DBA",
        "EXECUTE_CATALOG_ROLE",
        "SELECT_CATALOG_ROLE",
        "DELETE_CATALOG_ROLE",
        "LOGSTDBY_ADMINISTRATOR",
        "GATHER_SYSTEM_STATISTICS",
        "RECOVERY_CATALOG_OWNER",
        "SCHEDULER_ADMIN",
        "AQ_ADMINISTRATOR_ROLE",
        "AQ_USER_ROLE",
        "DATAPUMP_EXP_FULL_DATABASE",
        "DATAPUMP_IMP_FULL_DATABASE",
    }
)
ALL_COLUMN_LOGGING = "ALL COLUMN LOGGING"
DATABASE_SUPPLEMENTAL_LOG_SQL = "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA"

Kind = Literal["role", "user", "grant", "table", "supplemental_log", "seed_rows"]


def ident(name: str) -> str:
    """An Oracle unquoted identifier, upper-cased (letter first, then letters, digits, _ $ #, max 128)."""
    if not isinstance(name, str) or len(name.encode()) > 128 or not _ORACLE_IDENT.fullmatch(name.upper()):
        raise ValueError(f"not a valid Oracle unquoted identifier: {name!r}")
    return name.upper()


def qualified(name: str, default_owner: str = "SYS") -> tuple[str, str]:
    """'SYS.DBMS_LOGMNR' -> ('SYS', 'DBMS_LOGMNR'); 'V_$DATABASE' -> ('SYS', 'V_$DATABASE')."""
    parts = name.split(".") if isinstance(name, str) else [name]
    if len(parts) == 1:
        owner, obj = default_owner, parts[0]
    elif len(parts) == 2:
        owner, obj = parts
    else:
        raise ValueError(f"object name must be NAME or OWNER.NAME: {name!r}")
    owner, obj = ident(owner), ident(obj)
    if obj.startswith(("V$", "GV$")):
        raise ValueError(f"{name!r} is a public synonym; grant on the underlying view {obj.replace('$', '_$', 1)}")
    return owner, obj


def privilege_name(privilege: str) -> str:
    if not isinstance(privilege, str) or not _PRIVILEGE_WORDS.fullmatch(privilege.strip()):
        raise ValueError(f"not a valid privilege name: {privilege!r}")
    return " ".join(privilege.split()).upper()


def object_privilege(privilege: str) -> str:
    p = privilege_name(privilege)
    if p not in OBJECT_PRIVILEGES:
        raise ValueError(f"not an object privilege: {privilege!r}")
    return p


def column_type(type_: str) -> str:
    """An allowlisted column type (the spec's allowlist, names.oracle_type_info), normalised."""
    try:
        oracle_type_info(type_)
    except ValueError:
        raise ValueError(f"unsupported column type: {type_!r}") from None
    return " ".join(type_.split()).upper()


def quota_bytes(quota: str) -> int:
    """'UNLIMITED' -> -1 (DBA_TS_QUOTAS.MAX_BYTES), '100M' -> 104857600."""
    m = QUOTA.fullmatch(str(quota).strip().upper())
    if not m:
        raise ValueError(f"not a valid quota: {quota!r}")
    if m.group(0) == "UNLIMITED":
        return -1
    return int(m.group(1)) * {None: 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[m.group(2)]


def quote_password(password: str) -> str:
    """A double-quoted password literal for IDENTIFIED BY (DDL takes no binds). Never echoes the value."""
    if not isinstance(password, str) or not _PASSWORD.fullmatch(password):
        raise ValueError("the Oracle user password must be 1-30 printable ASCII characters without a double quote")
    return f'"{password}"'


def _check_sql(sql: str) -> str:
    if sql != sql.strip() or sql.endswith((";", "/")):
        raise ValueError("statements must not carry a trailing ';' or '/' or surrounding whitespace")
    return sql


# --------------------------------------------------------------------------------------------------
# Statements, probes, grants
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement to run. `display` is the only form that may be logged or shown."""

    kind: Kind
    sql: str = field(repr=False)
    display: str
    params: Mapping[str, Any] | None = field(default=None, repr=False)
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    # ORA codes that mean "already there" for this statement on top of the resource's defaults
    extra_unchanged_codes: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        _check_sql(self.sql)

    def __str__(self) -> str:
        return self.display


@dataclass(frozen=True)
class Probe:
    name: str
    sql: str
    params: Mapping[str, Any] | None = None


GrantKind = Literal["system", "object", "role"]


@dataclass(frozen=True)
class Grant:
    grantee: str
    kind: GrantKind
    privilege: str  # system privilege, object privilege, or granted role name
    owner: str | None = None
    object_name: str | None = None
    common: bool = False

    @property
    def sql(self) -> str:
        target = f"{self.privilege} ON {self.owner}.{self.object_name}" if self.kind == "object" else self.privilege
        return f"GRANT {target} TO {self.grantee}" + (" CONTAINER=ALL" if self.common else "")

    @property
    def label(self) -> str:
        """Human-readable, e.g. 'SELECT ON SYS.V_$DATABASE' or 'LOGMINING (CONTAINER=ALL)'."""
        base = f"{self.privilege} ON {self.owner}.{self.object_name}" if self.kind == "object" else self.privilege
        return base + (" (CONTAINER=ALL)" if self.common else "")

    def statement(self) -> Statement:
        return Statement(kind="grant", sql=self.sql, display=self.sql)


def _classify(name: str, extra_roles: Iterable[str] = ()) -> GrantKind:
    return "role" if name in PREDEFINED_ROLES or name in set(extra_roles) else "system"


def role_grants(oracle: OracleSpec) -> list[Grant]:
    """Every grant the role must hold: granted roles, system privileges, object privileges, SELECT on tables."""
    role = ident(oracle.role.name)
    owner = ident(oracle.user.name)
    grants: list[Grant] = []
    for r in oracle.role.granted_roles:
        grants.append(Grant(role, "role", ident(r)))
    for p in oracle.role.system_privileges:
        name = privilege_name(p)
        grants.append(Grant(role, _classify(name), name))
    for op in oracle.role.object_privileges:
        o, n = qualified(op.object)
        grants.append(Grant(role, "object", object_privilege(op.privilege), o, n))
    for t in oracle.tables:
        grants.append(Grant(role, "object", "SELECT", owner, ident(t.name)))
    return _dedupe(grants)


def user_grants(oracle: OracleSpec) -> list[Grant]:
    user = ident(oracle.user.name)
    role = ident(oracle.role.name)
    grants: list[Grant] = []
    for r in oracle.user.roles:
        grants.append(Grant(user, "role", ident(r.name), common=bool(r.container_all)))
    for sp in oracle.user.system_privileges:
        name = privilege_name(sp.privilege)
        grants.append(Grant(user, _classify(name, [role]), name, common=bool(sp.container_all)))
    for op in oracle.user.object_privileges:
        o, n = qualified(op.object)
        grants.append(Grant(user, "object", object_privilege(op.privilege), o, n, common=bool(op.container_all)))
    return _dedupe(grants)


def _dedupe(grants: Iterable[Grant]) -> list[Grant]:
    seen: set[Grant] = set()
    out = []
    for g in grants:
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out
