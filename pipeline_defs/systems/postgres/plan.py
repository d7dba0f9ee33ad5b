"""The minimal statements that bring the database to what the spec declares. Pure.

``plan(source, state, cdc_password)`` returns only the statements whose effect is missing from
``state`` (a :class:`CatalogState` from :func:`read_catalog`), in a runnable order: role, tables
(each with its grant, replica identity and seed rows), publication. Applied and read again, the
next plan is ``[]``. Each statement's ``node`` says which lineage node owns it, so
``for_node(statements, "table:POC_CLICKSTREAM")`` is that asset's part.

What is *not* planned, and why:

* ``wal_level=logical`` needs a server restart: only checked (checks.check_wal_level gives the fix).
* replication slots: Debezium creates its slot on first start; a removed connector's slot is
  dropped by :func:`drop_slot_statement` when the caller decides to (it discards unread changes).
* column changes of an existing table: reported by checks.check_tables, never altered.
* no REVOKE: extra privileges may come through PUBLIC or other roles; revoking from the CDC role
  could not remove those and would plan again on every run.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline_defs.systems.postgres import sql as S
from pipeline_defs.systems.postgres.catalog import PUBLISH_ACTIONS, CatalogState
from pipeline_defs.systems.postgres.names import qualified_name
from pipeline_defs.systems.postgres.spec import PostgresSource
from pipeline_defs.systems.postgres.sql import Statement, drop_slot_statement

__all__ = [
    "demo_row_statements",
    "desired_statements",
    "drop_slot_statement",
    "for_node",
    "plan",
    "publication_tables",
    "redacted_plan",
]


def publication_tables(source: PostgresSource) -> list[str]:
    """The publication's tables: exactly the captured ones, in spec order."""
    return [t.name for t in source.captured]


def _role_part(source: PostgresSource, state: CatalogState, cdc_password: str | None) -> list[Statement]:
    out: list[Statement] = []
    if not state.schema_exists and source.schema_name != "public":
        out.append(S.create_schema(source))
    role = state.role
    if role is None:
        if cdc_password is None:
            raise ValueError(
                f"role {source.role.name} does not exist and no password was given to create it (set {source.role.password_env})"
            )
        return out + [S.create_role(source, cdc_password), S.grant_connect(source), S.grant_schema_usage(source)]
    if not (role.login and role.replication):
        out.append(S.alter_role_attributes(source))
    if cdc_password is not None and role.password_matches is False:
        out.append(S.alter_role_password(source, cdc_password))
    if not role.connect:
        out.append(S.grant_connect(source))
    if not role.schema_usage:
        out.append(S.grant_schema_usage(source))
    return out


def _tables_part(source: PostgresSource, state: CatalogState) -> list[Statement]:
    out: list[Statement] = []
    for t in source.tables:
        ts = state.tables.get(t.name)
        if ts is None:
            out.append(S.create_table(source, t))
        if t.capture and (ts is None or not ts.select_granted):
            out.append(S.grant_select(source, t))
        if (ts.replica_identity if ts else "default") != t.replica_identity:
            out.append(S.replica_identity(source, t))
        if ts is not None and t.initial_rows and not ts.rows_probed:
            raise ValueError(f"rows of {source.schema_name}.{t.name} were not probed (use read_catalog)")
        for row in t.initial_rows:
            if ts is None or S.row_key(t, row) not in ts.present_keys:
                out.append(S.insert_row(source, t, row))
    return out


def _publication_part(source: PostgresSource, state: CatalogState) -> list[Statement]:
    tables = publication_tables(source)
    if not tables:
        return []
    pub = state.publication
    if pub is None:
        return [S.create_publication(source, tables)]
    out: list[Statement] = []
    if pub.all_tables:
        # FOR ALL TABLES cannot be narrowed with SET TABLE: replace it (run both in one transaction,
        # so a streaming connector never finds the publication missing)
        out += [S.drop_publication(source), S.create_publication(source, tables)]
        return out
    if pub.tables != {qualified_name(source, t) for t in tables}:
        out.append(S.set_publication_tables(source, tables))
    if set(PUBLISH_ACTIONS) - pub.actions:
        out.append(S.set_publication_actions(source))
    return out


def plan(source: PostgresSource, state: CatalogState, cdc_password: str | None = None) -> list[Statement]:
    """Only what is missing, in order. ``cdc_password`` is needed when the role does not exist, and
    is used to rotate the role's password when read_catalog found it differs."""
    return _role_part(source, state, cdc_password) + _tables_part(source, state) + _publication_part(source, state)


def desired_statements(source: PostgresSource, cdc_password: str) -> list[Statement]:
    """Everything, as run against an empty database (the plan for an empty catalog)."""
    return plan(source, CatalogState(database=source.database), cdc_password)


def demo_row_statements(source: PostgresSource) -> list[Statement]:
    """One ``INSERT .. ON CONFLICT DO NOTHING`` per demo row (node ``demo:<TABLE>``): running them
    twice inserts each row once; each statement's row count says whether it inserted."""
    return [S.insert_row(source, t, row, node=f"demo:{t.name}") for t in source.tables for row in t.demo_rows]


def for_node(statements: Iterable[Statement], node: str) -> list[Statement]:
    return [s for s in statements if s.node == node]


def redacted_plan(statements: Iterable[Statement]) -> list[dict[str, str]]:
    """Loggable / metadata form of a plan."""
    return [{"node": s.node, "sql": s.display} for s in statements]
