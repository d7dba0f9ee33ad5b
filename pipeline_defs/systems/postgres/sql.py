"""SQL statement builders for the PostgreSQL source. Pure: strings and parameters, no connection.

Every identifier is validated by the spec and quoted here; every row value is a ``%s`` parameter
(psycopg binds it). Utility statements cannot take parameters, so the CDC role's password goes
into CREATE/ALTER ROLE as a SCRAM-SHA-256 *verifier* computed here: the plain password never
reaches the server, a statement, a log line or the server's own log, and :attr:`Statement.display`
shows the password clause as ``'********'``.

Each statement is tagged with the lineage node it belongs to (``role``, ``table:<NAME>``,
``publication``, ``slot:<name>``, ``demo:<NAME>``) so each asset can run its own part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets as _secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.systems.postgres.idents import qualified, quote_ident, quote_literal, slot_ident
from pipeline_defs.systems.postgres.spec import ROW_EXPRESSIONS, PgTable, PostgresSource
from pipeline_defs.systems.postgres.types import PgType

REDACTED = "********"  # resources.redaction.REDACTED, repeated to keep this package import-light
SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations
_PASSWORD = re.compile(r"[\x20-\x7e]{1,1000}")


@dataclass(frozen=True)
class Statement:
    """One statement. ``display`` is the only form that may be logged, shown or put in metadata."""

    node: str
    sql: str = field(repr=False)
    display: str
    params: tuple[Any, ...] = field(default=(), repr=False)
    # strings that must be scrubbed from any error text the driver raises for this statement
    secrets: frozenset[str] = field(default=frozenset(), repr=False)

    def __str__(self) -> str:
        return self.display


def plain(node: str, sql: str, params: Sequence[Any] = ()) -> Statement:
    return Statement(node=node, sql=sql, display=sql, params=tuple(params))


# ---- role / password -----------------------------------------------------------------------------


def _check_password(password: str) -> None:
    # PostgreSQL runs SASLprep over the password first; for printable ASCII that is the identity,
    # so the verifier computed here is the one the server would compute
    if not isinstance(password, str) or not _PASSWORD.fullmatch(password):
        raise ValueError("the CDC role password must be 1-1000 printable ASCII characters (value not shown)")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5803, what pg_authid holds)."""
    _check_password(password)
    salt = salt if salt is not None else _secrets.token_bytes(16)
    stored, server = _scram_keys(password, salt, iterations)
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


_VERIFIER = re.compile(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)")


def verifier_matches(verifier: str | None, password: str) -> bool:
    """Whether a stored pg_authid.rolpassword was made from ``password`` (False for md5 or none)."""
    m = _VERIFIER.fullmatch(verifier or "")
    if not m:
        return False
    stored, server = _scram_keys(password, base64.b64decode(m.group(2)), int(m.group(1)))
    return hmac.compare_digest(stored, base64.b64decode(m.group(3))) and hmac.compare_digest(server, base64.b64decode(m.group(4)))


def _password_statement(node: str, head: str, password: str) -> Statement:
    verifier = scram_verifier(password)
    return Statement(
        node=node,
        sql=f"{head} PASSWORD {quote_literal(verifier)}",
        display=f"{head} PASSWORD '{REDACTED}'",
        secrets=frozenset({verifier, password}),
    )


def create_role(source: PostgresSource, password: str) -> Statement:
    return _password_statement("role", f"CREATE ROLE {quote_ident(source.role.name)} LOGIN REPLICATION", password)


def alter_role_attributes(source: PostgresSource) -> Statement:
    return plain("role", f"ALTER ROLE {quote_ident(source.role.name)} LOGIN REPLICATION")


def alter_role_password(source: PostgresSource, password: str) -> Statement:
    return _password_statement("role", f"ALTER ROLE {quote_ident(source.role.name)}", password)


def create_schema(source: PostgresSource) -> Statement:
    return plain("role", f"CREATE SCHEMA IF NOT EXISTS {quote_ident(source.schema_name)}")


def grant_connect(source: PostgresSource) -> Statement:
    return plain("role", f"GRANT CONNECT ON DATABASE {quote_ident(source.database)} TO {quote_ident(source.role.name)}")


def grant_schema_usage(source: PostgresSource) -> Statement:
    return plain("role", f"GRANT USAGE ON SCHEMA {quote_ident(source.schema_name)} TO {quote_ident(source.role.name)}")


# ---- tables ----------------------------------------------------------------------------------------


def create_table(source: PostgresSource, table: PgTable) -> Statement:
    defs = [f"{quote_ident(c.name)} {c.type_info.render()}" + (" NOT NULL" if c.primary_key else "") for c in table.columns]
    pk = ", ".join(quote_ident(c) for c in table.primary_key)
    defs.append(f"PRIMARY KEY ({pk})")
    return plain(f"table:{table.name}", f"CREATE TABLE {qualified(source.schema_name, table.name)} ({', '.join(defs)})")


def grant_select(source: PostgresSource, table: PgTable) -> Statement:
    return plain(
        f"table:{table.name}",
        f"GRANT SELECT ON TABLE {qualified(source.schema_name, table.name)} TO {quote_ident(source.role.name)}",
    )


def replica_identity(source: PostgresSource, table: PgTable) -> Statement:
    mode = "FULL" if table.replica_identity == "full" else "DEFAULT"
    sql = f"ALTER TABLE {qualified(source.schema_name, table.name)} REPLICA IDENTITY {mode}"
    return plain(f"table:{table.name}", sql)


def _expression(t: PgType) -> str:
    # statement_timestamp(), not CURRENT_TIMESTAMP: rows inserted in one transaction get distinct
    # times, as the seed's separate INSERTs did. TIMESTAMP holds UTC wall time because Debezium
    # reads TIMESTAMP columns as UTC (the session time zone must not shift event times).
    if t.base == "TIMESTAMPTZ":
        return "statement_timestamp()"
    if t.base == "DATE":
        return "(statement_timestamp() AT TIME ZONE 'UTC')::DATE"
    return "(statement_timestamp() AT TIME ZONE 'UTC')"


def bind_value(t: PgType, value: Any) -> Any:
    """The parameter for ``value`` in a column of type ``t``: numbers for text columns become their
    decimal string here (explicit, instead of relying on an implicit cast)."""
    if value is not None and t.base in ("TEXT", "VARCHAR") and not isinstance(value, str):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.upper() in ROW_EXPRESSIONS


def insert_row(source: PostgresSource, table: PgTable, row: Mapping[str, Any], *, node: str | None = None) -> Statement:
    """INSERT .. ON CONFLICT DO NOTHING: a row already present by primary key is left alone."""
    unknown = sorted(set(row) - {c.name for c in table.columns})
    if unknown:
        raise ValueError(f"row of {table.name} names unknown columns {unknown}")
    names, values, params = [], [], []
    for c in table.columns:  # spec column order
        if c.name not in row:
            continue
        t = c.type_info
        names.append(quote_ident(c.name))
        if is_expression(row[c.name]) and t.is_time:
            values.append(_expression(t))
        else:
            values.append(f"CAST(%s AS {t.render()})")
            params.append(bind_value(t, row[c.name]))
    sql = (
        f"INSERT INTO {qualified(source.schema_name, table.name)} ({', '.join(names)}) VALUES ({', '.join(values)}) ON CONFLICT DO NOTHING"
    )
    return plain(node or f"table:{table.name}", sql, params)


def row_key(table: PgTable, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The primary-key values of a spec row, as bound (what presence probes compare)."""
    return tuple(bind_value(table.column(c).type_info, row[c]) for c in table.primary_key)


# ---- publication -----------------------------------------------------------------------------------


def _table_list(source: PostgresSource, tables: Sequence[str]) -> str:
    return ", ".join(qualified(source.schema_name, t) for t in tables)


def create_publication(source: PostgresSource, tables: Sequence[str]) -> Statement:
    """Never FOR ALL TABLES (that needs a superuser and captures tables nobody declared)."""
    sql = f"CREATE PUBLICATION {quote_ident(source.publication)} FOR TABLE {_table_list(source, tables)}"
    return plain("publication", sql)


def set_publication_tables(source: PostgresSource, tables: Sequence[str]) -> Statement:
    sql = f"ALTER PUBLICATION {quote_ident(source.publication)} SET TABLE {_table_list(source, tables)}"
    return plain("publication", sql)


def set_publication_actions(source: PostgresSource) -> Statement:
    """Publish every change kind (a publication made with fewer would hide deletes or updates)."""
    sql = f"ALTER PUBLICATION {quote_ident(source.publication)} SET (publish = 'insert, update, delete, truncate')"
    return plain("publication", sql)


def drop_publication(source: PostgresSource) -> Statement:
    return plain("publication", f"DROP PUBLICATION IF EXISTS {quote_ident(source.publication)}")


# ---- replication slots -----------------------------------------------------------------------------


def drop_slot_statement(slot: str) -> Statement:
    """Drop a replication slot a removed connector left behind; a no-op while the slot is active.

    Deleting a Debezium connector does not drop its slot, which then retains WAL forever. The
    statement drops the slot only when no walsender holds it: it returns one row
    (``dropped = slot name``) when it dropped the slot and no row when the slot is absent or still
    active. An active slot means a connector still streams from it (the connector was not
    removed, or another worker runs it): stop or delete that connector first; terminating its
    walsender (``pg_terminate_backend(active_pid)``) would only make Debezium reconnect and keep it.
    """
    slot_ident(slot)
    sql = "SELECT slot_name AS dropped, pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s AND NOT active"
    return Statement(node=f"slot:{slot}", sql=sql, display=f"{sql}  -- slot {slot}", params=(slot,))
