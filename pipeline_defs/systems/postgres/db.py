"""psycopg 3 glue: the only module of this package that talks to a server.

``query_fn(conn)`` adapts a connection to the ``query(sql, params) -> list[dict]`` callable that
read_catalog and the event queries take; ``apply(conn, statements)`` runs a plan in one
transaction and scrubs the statement's secrets from any error before it propagates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipeline_defs.systems.postgres.catalog import Query
from pipeline_defs.systems.postgres.plan import demo_row_statements
from pipeline_defs.systems.postgres.spec import PostgresSource
from pipeline_defs.systems.postgres.sql import REDACTED, Statement


class PostgresApplyError(RuntimeError):
    """A statement failed; the message names the statement by its display text, secrets removed."""

    def __init__(self, statement: Statement, message: str):
        self.statement = statement
        super().__init__(f"{statement.display}: {message}")


def connect(host: str, port: int, dbname: str, user: str, password: str, *, connect_timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection (apply() opens its own transaction)."""
    return psycopg.connect(
        host=host,
        port=port,
        dbname=dbname,
        user=user,
        password=password,
        autocommit=True,
        connect_timeout=connect_timeout,
        application_name="cdc-control-plane",
    )


def query_fn(conn: psycopg.Connection) -> Query:
    def query(sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cur:
            # no params: '%' in the text stays literal
            cur.execute(sql, params) if params else cur.execute(sql)
            return cur.fetchall() if cur.description else []

    return query


def scrub(text: str, secrets: Iterable[str]) -> str:
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return text


def apply(conn: psycopg.Connection, statements: Sequence[Statement]) -> list[int]:
    """Run ``statements`` in one transaction (all or nothing); returns each one's row count
    (an INSERT .. ON CONFLICT DO NOTHING that found its row reports 0)."""
    counts: list[int] = []
    if not statements:
        return counts
    with conn.transaction(), conn.cursor() as cur:
        for st in statements:
            try:
                cur.execute(st.sql, st.params) if st.params else cur.execute(st.sql)
            except psycopg.Error as e:
                msg = scrub(f"{type(e).__name__}: {e}".strip(), st.secrets)
                raise PostgresApplyError(st, msg) from None
            counts.append(cur.rowcount)
    return counts


def insert_demo_rows(conn: psycopg.Connection, source: PostgresSource) -> dict[str, int]:
    """The spec's demo rows, each once (ON CONFLICT DO NOTHING): {'inserted': n, 'already_present': m}."""
    counts = apply(conn, demo_row_statements(source))
    inserted = sum(1 for c in counts if c > 0)
    return {"inserted": inserted, "already_present": len(counts) - inserted}
