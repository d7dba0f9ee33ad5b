"""The Oracle plan: only the statements whose effect is missing from the catalog, in order."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline_defs.systems.oracle.catalog import CatalogState, _table_columns, insert_statement, primary_key_columns, row_key
from pipeline_defs.systems.oracle.sql import (
    ALL_COLUMN_LOGGING,
    DATABASE_SUPPLEMENTAL_LOG_SQL,
    OracleSpec,
    Statement,
    TableSpec,
    ident,
    quota_bytes,
    quote_password,
    role_grants,
    user_grants,
)
from resources.redaction import REDACTED

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
