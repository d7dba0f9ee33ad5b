"""Oracle objects of the pipeline spec -> SQL statements, catalog probes, a minimal plan and checks.

Everything here is pure: no driver, no connection. The resource (resources/oracle.py) runs what these
functions return; the test double (tests/doubles/oracle_db.py) understands exactly these shapes.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from resources.redaction import REDACTED

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
# Validation of everything interpolated into SQL
# --------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_$#]{0,127}")
_PRIVILEGE_WORDS = re.compile(r"[A-Za-z_]+( [A-Za-z_]+){0,4}")
_COLUMN_TYPE = re.compile(
    r"(VARCHAR2\(\d{1,5}( (BYTE|CHAR))?\)|NVARCHAR2\(\d{1,5}\)|CHAR\(\d{1,4}( (BYTE|CHAR))?\)|NCHAR\(\d{1,4}\)"
    r"|NUMBER(\(\d{1,2}(, ?-?\d{1,3})?\))?|INTEGER|FLOAT(\(\d{1,3}\))?|BINARY_FLOAT|BINARY_DOUBLE|DATE"
    r"|TIMESTAMP(\(\d\))?( WITH( LOCAL)? TIME ZONE)?|CLOB|NCLOB|BLOB|RAW\(\d{1,5}\))",
    re.I,
)
_QUOTA = re.compile(r"UNLIMITED|(\d{1,12})([KMGT])?", re.I)
# 19c: passwords are at most 30 bytes; a quoted password may hold any printable character but '"'.
_PASSWORD = re.compile(r'[\x20\x21\x23-\x7e]{1,30}')

OBJECT_PRIVILEGES = frozenset(
    {"SELECT", "EXECUTE", "INSERT", "UPDATE", "DELETE", "ALTER", "INDEX", "REFERENCES", "READ", "WRITE", "DEBUG", "FLASHBACK"}
)
# Oracle-supplied roles that a spec may list among privileges; granting them is a role grant (DBA_ROLE_PRIVS).
PREDEFINED_ROLES = frozenset(
    {
        "CONNECT", "RESOURCE", "DBA", "EXECUTE_CATALOG_ROLE", "SELECT_CATALOG_ROLE", "DELETE_CATALOG_ROLE",
        "LOGSTDBY_ADMINISTRATOR", "GATHER_SYSTEM_STATISTICS", "RECOVERY_CATALOG_OWNER", "SCHEDULER_ADMIN",
        "AQ_ADMINISTRATOR_ROLE", "AQ_USER_ROLE", "DATAPUMP_EXP_FULL_DATABASE", "DATAPUMP_IMP_FULL_DATABASE",
    }
)
# SQL expressions allowed as initial-row values of DATE/TIMESTAMP columns (everything else is a bind).
ROW_EXPRESSIONS = frozenset({"CURRENT_TIMESTAMP", "SYSTIMESTAMP"})
ALL_COLUMN_LOGGING = "ALL COLUMN LOGGING"

Kind = Literal["role", "user", "grant", "table", "supplemental_log", "seed_rows"]


def ident(name: str) -> str:
    """An Oracle unquoted identifier, upper-cased (letter first, then letters, digits, _ $ #, max 128)."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
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
    if not isinstance(type_, str) or not _COLUMN_TYPE.fullmatch(type_.strip()):
        raise ValueError(f"unsupported column type: {type_!r}")
    return " ".join(type_.split()).upper()


def quota_bytes(quota: str) -> int:
    """'UNLIMITED' -> -1 (DBA_TS_QUOTAS.MAX_BYTES), '100M' -> 104857600."""
    m = _QUOTA.fullmatch(str(quota).strip())
    if not m:
        raise ValueError(f"not a valid quota: {quota!r}")
    if m.group(0).upper() == "UNLIMITED":
        return -1
    return int(m.group(1)) * {None: 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[(m.group(2) or "").upper() or None]


def quote_password(password: str) -> str:
    """A double-quoted password literal for IDENTIFIED BY (DDL takes no binds). Never echoes the value."""
    if not isinstance(password, str) or not _PASSWORD.fullmatch(password):
        raise ValueError(
            "the Oracle user password must be 1-30 printable ASCII characters without a double quote"
        )
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


# --------------------------------------------------------------------------------------------------
# Catalog probes and the state they describe
# --------------------------------------------------------------------------------------------------

PK_PROBE_SQL = (
    "SELECT c.OWNER, c.TABLE_NAME, cc.COLUMN_NAME, cc.POSITION FROM ALL_CONSTRAINTS c "
    "JOIN ALL_CONS_COLUMNS cc ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME "
    "WHERE c.OWNER = :owner AND c.CONSTRAINT_TYPE = 'P' ORDER BY c.TABLE_NAME, cc.POSITION"
)


def catalog_probes(oracle: OracleSpec) -> list[Probe]:
    """Read-only queries (bind variables only) whose results `parse_catalog` turns into a CatalogState."""
    role, user = ident(oracle.role.name), ident(oracle.user.name)
    grantees = {"g1": role, "g2": user}
    return [
        Probe("roles", "SELECT ROLE, COMMON FROM DBA_ROLES WHERE ROLE = :role_name", {"role_name": role}),
        Probe(
            "users",
            "SELECT USERNAME, DEFAULT_TABLESPACE, COMMON FROM DBA_USERS WHERE USERNAME = :user_name",
            {"user_name": user},
        ),
        Probe(
            "quotas",
            "SELECT USERNAME, TABLESPACE_NAME, MAX_BYTES FROM DBA_TS_QUOTAS WHERE USERNAME = :user_name",
            {"user_name": user},
        ),
        Probe("tables", "SELECT OWNER, TABLE_NAME FROM DBA_TABLES WHERE OWNER = :owner", {"owner": user}),
        Probe("sys_privs", "SELECT GRANTEE, PRIVILEGE, COMMON FROM DBA_SYS_PRIVS WHERE GRANTEE IN (:g1, :g2)", grantees),
        Probe(
            "tab_privs",
            "SELECT GRANTEE, OWNER, TABLE_NAME, PRIVILEGE, COMMON FROM DBA_TAB_PRIVS WHERE GRANTEE IN (:g1, :g2)",
            grantees,
        ),
        Probe(
            "role_privs", "SELECT GRANTEE, GRANTED_ROLE, COMMON FROM DBA_ROLE_PRIVS WHERE GRANTEE IN (:g1, :g2)", grantees
        ),
        Probe("database", "SELECT LOG_MODE, SUPPLEMENTAL_LOG_DATA_MIN, SUPPLEMENTAL_LOG_DATA_ALL FROM V$DATABASE"),
        Probe("log_groups", "SELECT OWNER, TABLE_NAME, LOG_GROUP_TYPE FROM DBA_LOG_GROUPS WHERE OWNER = :owner", {"owner": user}),
        Probe("primary_keys", PK_PROBE_SQL, {"owner": user}),
    ]


def _yes(v: Any) -> bool:
    return str(v).upper() == "YES"


@dataclass
class CatalogState:
    roles: set[str] = field(default_factory=set)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    quotas: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, tablespace) -> MAX_BYTES
    tables: set[tuple[str, str]] = field(default_factory=set)
    primary_keys: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    sys_privs: set[tuple[str, str, bool]] = field(default_factory=set)  # grantee, privilege, common
    tab_privs: set[tuple[str, str, str, str, bool]] = field(default_factory=set)  # grantee, owner, table, priv, common
    role_privs: set[tuple[str, str, bool]] = field(default_factory=set)  # grantee, granted_role, common
    log_mode: str | None = None
    supplemental_log_data_min: str | None = None
    supplemental_log_data_all: str | None = None
    log_groups: set[tuple[str, str, str]] = field(default_factory=set)
    # rows of existing tables: which were probed, and which of those are present (by match key)
    rows_probed: set[tuple[str, str]] = field(default_factory=set)
    present_rows: set[tuple[str, str, tuple[Any, ...]]] = field(default_factory=set)

    def holds(self, g: Grant) -> bool:
        commons = (True,) if g.common else (True, False)
        if g.kind == "system":
            return any((g.grantee, g.privilege, c) in self.sys_privs for c in commons)
        if g.kind == "role":
            return any((g.grantee, g.privilege, c) in self.role_privs for c in commons)
        return any((g.grantee, g.owner, g.object_name, g.privilege, c) in self.tab_privs for c in commons)


def parse_catalog(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> CatalogState:
    """Probe rows (keyed by Probe.name; column names upper-case as the driver reports them) -> CatalogState."""
    s = CatalogState()
    s.roles = {r["ROLE"] for r in results.get("roles", ())}
    s.users = {
        r["USERNAME"]: {"default_tablespace": r["DEFAULT_TABLESPACE"], "common": _yes(r.get("COMMON"))}
        for r in results.get("users", ())
    }
    for r in results.get("quotas", ()):
        s.quotas[(r["USERNAME"], r["TABLESPACE_NAME"])] = int(r["MAX_BYTES"])
    s.tables = {(r["OWNER"], r["TABLE_NAME"]) for r in results.get("tables", ())}
    s.sys_privs = {(r["GRANTEE"], r["PRIVILEGE"], _yes(r["COMMON"])) for r in results.get("sys_privs", ())}
    s.tab_privs = {
        (r["GRANTEE"], r["OWNER"], r["TABLE_NAME"], r["PRIVILEGE"], _yes(r["COMMON"])) for r in results.get("tab_privs", ())
    }
    s.role_privs = {(r["GRANTEE"], r["GRANTED_ROLE"], _yes(r["COMMON"])) for r in results.get("role_privs", ())}
    db = list(results.get("database", ()))
    if db:
        s.log_mode = db[0]["LOG_MODE"]
        s.supplemental_log_data_min = db[0]["SUPPLEMENTAL_LOG_DATA_MIN"]
        s.supplemental_log_data_all = db[0]["SUPPLEMENTAL_LOG_DATA_ALL"]
    s.log_groups = {(r["OWNER"], r["TABLE_NAME"], r["LOG_GROUP_TYPE"]) for r in results.get("log_groups", ())}
    pk: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r in results.get("primary_keys", ()):
        pk.setdefault((r["OWNER"], r["TABLE_NAME"]), []).append((int(r["POSITION"]), r["COLUMN_NAME"]))
    s.primary_keys = {k: tuple(c for _, c in sorted(v)) for k, v in pk.items()}
    return s


# ---- initial rows ---------------------------------------------------------------------------------

_CHAR_TYPES = ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR", "CLOB", "NCLOB")
_TIME_TYPES = ("DATE", "TIMESTAMP")


def _row_value(col_type: str, value: Any) -> tuple[str, Any]:
    """('expr', 'CURRENT_TIMESTAMP') or ('bind', value converted the way the column stores it)."""
    if isinstance(value, str) and value.upper() in ROW_EXPRESSIONS and col_type.startswith(_TIME_TYPES):
        return "expr", value.upper()
    if value is not None and col_type.startswith(_CHAR_TYPES) and not isinstance(value, str):
        return "bind", str(value)  # explicit, instead of Oracle's implicit NUMBER -> VARCHAR2 conversion
    return "bind", value


def _table_columns(table: TableSpec) -> dict[str, str]:
    cols = {ident(c.name): column_type(c.type) for c in table.columns}
    if len(cols) != len(table.columns):
        raise ValueError(f"table {table.name!r} has duplicate column names")
    return cols


def primary_key_columns(table: TableSpec) -> tuple[str, ...]:
    return tuple(ident(c.name) for c in table.columns if c.primary_key)


def _match_columns(table: TableSpec, row: Mapping[str, Any]) -> tuple[str, ...]:
    """Columns that identify a seed row: the primary key, else every literal (non-expression) column."""
    pk = primary_key_columns(table)
    if pk:
        return pk
    cols, r = _table_columns(table), _row(row)
    return tuple(c for c in cols if c in r and _row_value(cols[c], r[c])[0] == "bind")


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {ident(k): v for k, v in row.items()}


def row_key(table: TableSpec, row: Mapping[str, Any]) -> tuple[Any, ...]:
    cols, r = _table_columns(table), _row(row)
    key = []
    for c in _match_columns(table, row):
        if c not in r:
            raise ValueError(f"initial row of {table.name} lacks key column {c}")
        kind, v = _row_value(cols[c], r[c])
        if kind != "bind":
            raise ValueError(f"initial row of {table.name}: key column {c} cannot be an SQL expression")
        key.append(v)
    return tuple(key)


def insert_statement(owner: str, table: TableSpec, row: Mapping[str, Any]) -> Statement:
    cols, r = _table_columns(table), _row(row)
    unknown = set(r) - set(cols)
    if unknown:
        raise ValueError(f"initial row of {table.name} names unknown columns {sorted(unknown)}")
    names, values, params = [], [], {}
    for c in cols:  # spec column order
        if c not in r:
            continue
        kind, v = _row_value(cols[c], r[c])
        names.append(c)
        if kind == "expr":
            values.append(v)
        else:
            b = f"v{len(params) + 1}"
            params[b] = v
            values.append(f":{b}")
    sql = f"INSERT INTO {owner}.{ident(table.name)} ({', '.join(names)}) VALUES ({', '.join(values)})"
    # ORA-00001 on a seed row means the row (by primary key) is already there
    return Statement(kind="seed_rows", sql=sql, display=sql, params=params, extra_unchanged_codes=frozenset({1}))


def row_probes(oracle: OracleSpec, state: CatalogState) -> list[Probe]:
    """One COUNT probe per initial row of each table that already exists (missing tables get all rows)."""
    owner = ident(oracle.user.name)
    probes = []
    for t in oracle.tables:
        name = ident(t.name)
        if (owner, name) not in state.tables:
            continue
        for i, row in enumerate(t.initial_rows):
            match = _match_columns(t, row)
            key = row_key(t, row)
            where = " AND ".join(f"{c} = :k{j + 1}" for j, c in enumerate(match))
            params = {f"k{j + 1}": v for j, v in enumerate(key)}
            probes.append(Probe(f"row:{owner}.{name}:{i}", f"SELECT COUNT(*) AS N FROM {owner}.{name} WHERE {where}", params))
    return probes


def apply_row_probe_results(oracle: OracleSpec, state: CatalogState, results: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    owner = ident(oracle.user.name)
    for t in oracle.tables:
        name = ident(t.name)
        if (owner, name) not in state.tables:
            continue
        state.rows_probed.add((owner, name))
        for i, row in enumerate(t.initial_rows):
            rows = results.get(f"row:{owner}.{name}:{i}")
            if rows is None:
                state.rows_probed.discard((owner, name))
                break
            if int(rows[0]["N"]) > 0:
                state.present_rows.add((owner, name, row_key(t, row)))


def read_catalog(oracle: OracleSpec, query: Callable[[str, Mapping[str, Any] | None], list[dict[str, Any]]]) -> CatalogState:
    """Run every probe through `query(sql, params)` (e.g. OracleClient.query) and build the state."""
    results = {p.name: query(p.sql, p.params) for p in catalog_probes(oracle)}
    state = parse_catalog(results)
    rows = {p.name: query(p.sql, p.params) for p in row_probes(oracle, state)}
    apply_row_probe_results(oracle, state, rows)
    return state


# --------------------------------------------------------------------------------------------------
# Desired statements and the plan
# --------------------------------------------------------------------------------------------------


def create_role_statement(oracle: OracleSpec) -> Statement:
    sql = f"CREATE ROLE {ident(oracle.role.name)}"
    return Statement(kind="role", sql=sql, display=sql)


def create_user_statement(oracle: OracleSpec, password: str) -> Statement:
    u = oracle.user
    head = f"CREATE USER {ident(u.name)} IDENTIFIED BY "
    tail = f" DEFAULT TABLESPACE {ident(u.default_tablespace)}" + (" CONTAINER=ALL" if u.container_all else "")
    return Statement(
        kind="user",
        sql=head + quote_password(password) + tail,
        display=head + REDACTED + tail,
        secrets=frozenset({password}),
    )


def quota_statement(oracle: OracleSpec) -> Statement:
    u = oracle.user
    q = str(u.quota).strip().upper()
    quota_bytes(q)
    sql = f"ALTER USER {ident(u.name)} QUOTA {q} ON {ident(u.default_tablespace)}"
    return Statement(kind="user", sql=sql, display=sql)


def create_table_statement(owner: str, table: TableSpec) -> Statement:
    cols = _table_columns(table)
    pk = primary_key_columns(table)
    defs = [f"{c} {t}" + (" NOT NULL" if c in pk else "") for c, t in cols.items()]
    if pk:
        defs.append(f"PRIMARY KEY ({', '.join(pk)})")
    sql = f"CREATE TABLE {owner}.{ident(table.name)} ({', '.join(defs)})"
    return Statement(kind="table", sql=sql, display=sql)


def table_supplemental_log_statement(owner: str, table: TableSpec) -> Statement:
    sql = f"ALTER TABLE {owner}.{ident(table.name)} ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS"
    return Statement(kind="supplemental_log", sql=sql, display=sql)


DATABASE_SUPPLEMENTAL_LOG_SQL = "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA"


def plan(
    oracle: OracleSpec,
    state: CatalogState,
    *,
    user_password: str | None = None,
    database_supplemental_logging: bool = True,
) -> list[Statement]:
    """Only the statements whose effect is missing from `state`, in a runnable order.

    A second run on the catalog the first run produced returns []. `user_password` is needed only when
    the user does not exist yet. ARCHIVELOG cannot be switched over SQL*Net (it needs SHUTDOWN/STARTUP
    MOUNT as SYSDBA), so it is only checked (check_archivelog), never planned.
    """
    role, user = ident(oracle.role.name), ident(oracle.user.name)
    out: list[Statement] = []
    if role not in state.roles:
        out.append(create_role_statement(oracle))
    tables = {ident(t.name) for t in oracle.tables}
    table_grants = [g for g in role_grants(oracle) if g.kind == "object" and g.owner == user and g.object_name in tables]
    out += [g.statement() for g in role_grants(oracle) if g not in table_grants and not state.holds(g)]

    if user not in state.users:
        if user_password is None:
            raise ValueError(f"user {user} does not exist and no password was given to create it")
        out.append(create_user_statement(oracle, user_password))
    ts = ident(oracle.user.default_tablespace)
    if state.quotas.get((user, ts)) != quota_bytes(oracle.user.quota):
        out.append(quota_statement(oracle))
    out += [g.statement() for g in user_grants(oracle) if not state.holds(g)]

    if database_supplemental_logging and str(state.supplemental_log_data_min or "NO").upper() == "NO":
        out.append(Statement(kind="supplemental_log", sql=DATABASE_SUPPLEMENTAL_LOG_SQL, display=DATABASE_SUPPLEMENTAL_LOG_SQL))

    for t in oracle.tables:
        name = ident(t.name)
        exists = (user, name) in state.tables
        if not exists:
            out.append(create_table_statement(user, t))
        out += [g.statement() for g in table_grants if g.object_name == name and not state.holds(g)]
        if (user, name, ALL_COLUMN_LOGGING) not in state.log_groups:
            out.append(table_supplemental_log_statement(user, t))
        if exists and t.initial_rows and (user, name) not in state.rows_probed:
            raise ValueError(f"rows of {user}.{name} were not probed (use read_catalog or row_probes)")
        for row in t.initial_rows:
            if not exists or (user, name, row_key(t, row)) not in state.present_rows:
                out.append(insert_statement(user, t, row))
    return out


def desired_statements(oracle: OracleSpec, *, user_password: str, database_supplemental_logging: bool = True) -> list[Statement]:
    """Everything, as run against an empty database (the plan for an empty catalog)."""
    return plan(oracle, CatalogState(), user_password=user_password, database_supplemental_logging=database_supplemental_logging)


def redacted_plan(statements: Iterable[Statement]) -> list[dict[str, str]]:
    """Loggable/metadata form of a plan."""
    return [{"kind": s.kind, "sql": s.display} for s in statements]


# --------------------------------------------------------------------------------------------------
# Checks: (passed, details)
# --------------------------------------------------------------------------------------------------

CheckResult = tuple[bool, dict[str, Any]]


def check_archivelog(state: CatalogState) -> CheckResult:
    mode = state.log_mode
    passed = str(mode).upper() == "ARCHIVELOG"
    details: dict[str, Any] = {"log_mode": mode}
    if not passed:
        details["problem"] = f"database is in {mode} mode; LogMiner-based CDC needs ARCHIVELOG"
        details["remedy"] = (
            "as SYSDBA in the container: SHUTDOWN IMMEDIATE, STARTUP MOUNT, ALTER DATABASE ARCHIVELOG, "
            "ALTER DATABASE OPEN (needs an instance restart; not done over SQL*Net)"
        )
    return passed, details


def check_supplemental_logging(oracle: OracleSpec, state: CatalogState) -> CheckResult:
    owner = ident(oracle.user.name)
    minimal = str(state.supplemental_log_data_min).upper()
    all_db = str(state.supplemental_log_data_all).upper() == "YES"
    missing = [
        f"{owner}.{ident(t.name)}" for t in oracle.tables if (owner, ident(t.name), ALL_COLUMN_LOGGING) not in state.log_groups
    ]
    min_ok = minimal in ("YES", "IMPLICIT")
    passed = min_ok and (all_db or not missing)
    details: dict[str, Any] = {
        "supplemental_log_data_min": state.supplemental_log_data_min,
        "supplemental_log_data_all": state.supplemental_log_data_all,
        "tables_without_all_column_logging": [] if all_db else missing,
    }
    if not min_ok:
        details["problem"] = f"minimal supplemental logging is {state.supplemental_log_data_min}; run {DATABASE_SUPPLEMENTAL_LOG_SQL} in CDB$ROOT"
    elif not passed:
        details["problem"] = "no (ALL) COLUMNS supplemental logging on: " + ", ".join(missing)
    return passed, details


def _grant_diff(grants: Sequence[Grant], state: CatalogState) -> dict[str, list[str]]:
    missing = [g for g in grants if not state.holds(g)]
    return {
        "missing_system_privileges": [g.label for g in missing if g.kind == "system"],
        "missing_object_privileges": [g.label for g in missing if g.kind == "object"],
        "missing_roles": [g.label for g in missing if g.kind == "role"],
    }


def _grant_check(grantee: str, grants: Sequence[Grant], state: CatalogState, exists: bool, what: str) -> CheckResult:
    diff = _grant_diff(grants, state)
    n_missing = sum(len(v) for v in diff.values())
    passed = exists and n_missing == 0
    details: dict[str, Any] = {what: grantee, "exists": exists, "expected_grants": len(grants), **diff}
    if not exists:
        details["problem"] = f"{what} {grantee} does not exist"
    elif n_missing:
        details["problem"] = f"{what} {grantee} lacks: " + ", ".join(v for vals in diff.values() for v in vals)
    return passed, details


def check_role_grants(oracle: OracleSpec, state: CatalogState) -> CheckResult:
    """The role holds every granted role, system privilege and object privilege of the spec (incl. SELECT on tables)."""
    role = ident(oracle.role.name)
    return _grant_check(role, role_grants(oracle), state, role in state.roles, "role")


def check_user_grants(oracle: OracleSpec, state: CatalogState) -> CheckResult:
    user = ident(oracle.user.name)
    return _grant_check(user, user_grants(oracle), state, user in state.users, "user")


def check_primary_keys(oracle: OracleSpec, state: CatalogState) -> CheckResult:
    owner = ident(oracle.user.name)
    missing_tables, without_pk, mismatched = [], [], []
    for t in oracle.tables:
        key = (owner, ident(t.name))
        fq = f"{owner}.{key[1]}"
        if key not in state.tables:
            missing_tables.append(fq)
        elif key not in state.primary_keys:
            without_pk.append(fq)
        elif primary_key_columns(t) and state.primary_keys[key] != primary_key_columns(t):
            mismatched.append(f"{fq} has PRIMARY KEY ({', '.join(state.primary_keys[key])}), spec says ({', '.join(primary_key_columns(t))})")
    passed = not (missing_tables or without_pk or mismatched)
    details: dict[str, Any] = {
        "tables_without_primary_key": without_pk,
        "missing_tables": missing_tables,
        "primary_key_mismatches": mismatched,
        "primary_keys": {f"{o}.{n}": list(c) for (o, n), c in sorted(state.primary_keys.items())},
    }
    if not passed:
        details["problem"] = "; ".join(
            [f"no primary key: {', '.join(without_pk)}"] * bool(without_pk)
            + [f"missing tables: {', '.join(missing_tables)}"] * bool(missing_tables)
            + mismatched
        )
    return passed, details
