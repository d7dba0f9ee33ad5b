"""The Oracle catalog: read-only probes, the state they describe, initial rows, and the checks.

Pure: the resource (resources/oracle.py) runs the probes; the test double understands these shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.systems.oracle.names import ROW_EXPRESSIONS
from pipeline_defs.systems.oracle.sql import (
    ALL_COLUMN_LOGGING,
    DATABASE_SUPPLEMENTAL_LOG_SQL,
    Grant,
    OracleSpec,
    Probe,
    Statement,
    TableSpec,
    column_type,
    ident,
    role_grants,
    user_grants,
)

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
        Probe("role_privs", "SELECT GRANTEE, GRANTED_ROLE, COMMON FROM DBA_ROLE_PRIVS WHERE GRANTEE IN (:g1, :g2)", grantees),
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
        r["USERNAME"]: {"default_tablespace": r["DEFAULT_TABLESPACE"], "common": _yes(r.get("COMMON"))} for r in results.get("users", ())
    }
    for r in results.get("quotas", ()):
        s.quotas[(r["USERNAME"], r["TABLESPACE_NAME"])] = int(r["MAX_BYTES"])
    s.tables = {(r["OWNER"], r["TABLE_NAME"]) for r in results.get("tables", ())}
    s.sys_privs = {(r["GRANTEE"], r["PRIVILEGE"], _yes(r["COMMON"])) for r in results.get("sys_privs", ())}
    s.tab_privs = {(r["GRANTEE"], r["OWNER"], r["TABLE_NAME"], r["PRIVILEGE"], _yes(r["COMMON"])) for r in results.get("tab_privs", ())}
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
# Checks: (passed, details)
# --------------------------------------------------------------------------------------------------

CheckResult = tuple[bool, dict[str, Any]]


# compose/oracle/init/ turns ARCHIVELOG and supplemental logging on, but the image runs it once only
FIRST_BOOT_HINT = (
    "In the compose stack ARCHIVELOG and supplemental logging are turned on by "
    "compose/oracle/init/01_archivelog_supplemental_logging.sql, which the Oracle image runs only on the database's "
    "first boot; if that boot was interrupted, follow compose/README.md, section \"Oracle's first boot was "
    'interrupted" (run the script by hand, or recreate the oracle-data volume).'
)


def check_archivelog(state: CatalogState) -> CheckResult:
    mode = state.log_mode
    passed = str(mode).upper() == "ARCHIVELOG"
    details: dict[str, Any] = {"log_mode": mode}
    if not passed:
        details["problem"] = f"database is in {mode} mode; LogMiner-based CDC needs ARCHIVELOG"
        details["remedy"] = (
            "as SYSDBA in the container: SHUTDOWN IMMEDIATE, STARTUP MOUNT, ALTER DATABASE ARCHIVELOG, "
            "ALTER DATABASE OPEN (needs an instance restart; not done over SQL*Net). " + FIRST_BOOT_HINT
        )
    return passed, details


def check_supplemental_logging(oracle: OracleSpec, state: CatalogState) -> CheckResult:
    owner = ident(oracle.user.name)
    minimal = str(state.supplemental_log_data_min).upper()
    all_db = str(state.supplemental_log_data_all).upper() == "YES"
    missing = [f"{owner}.{ident(t.name)}" for t in oracle.tables if (owner, ident(t.name), ALL_COLUMN_LOGGING) not in state.log_groups]
    min_ok = minimal in ("YES", "IMPLICIT")
    passed = min_ok and (all_db or not missing)
    details: dict[str, Any] = {
        "supplemental_log_data_min": state.supplemental_log_data_min,
        "supplemental_log_data_all": state.supplemental_log_data_all,
        "tables_without_all_column_logging": [] if all_db else missing,
    }
    if not min_ok:
        details["problem"] = (
            f"minimal supplemental logging is {state.supplemental_log_data_min}; run {DATABASE_SUPPLEMENTAL_LOG_SQL} in CDB$ROOT"
        )
        details["remedy"] = FIRST_BOOT_HINT
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
            mismatched.append(
                f"{fq} has PRIMARY KEY ({', '.join(state.primary_keys[key])}), spec says ({', '.join(primary_key_columns(t))})"
            )
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
