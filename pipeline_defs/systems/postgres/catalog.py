"""Read what the database holds for a PostgreSQL source into a :class:`CatalogState`.

:func:`read_catalog` takes a ``query(sql, params) -> list[dict]`` callable (an admin connection
in ``source.database``; :func:`pipeline_defs.systems.postgres.db.query_fn` makes one from
psycopg), so this module is driver-free and everything after it (plan, checks) is pure.
Every probe is read-only and takes names as parameters, never interpolated, except the row
probe, which quotes validated identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.systems.postgres.idents import qualified, quote_ident
from pipeline_defs.systems.postgres.spec import PgTable, PostgresSource
from pipeline_defs.systems.postgres.sql import row_key, verifier_matches

Query = Callable[[str, Sequence[Any] | None], list[dict[str, Any]]]

REPLICA_IDENTITY = {"d": "default", "f": "full", "n": "nothing", "i": "index"}
PUBLISH_ACTIONS = ("insert", "update", "delete", "truncate")


@dataclass
class RoleState:
    name: str
    login: bool
    replication: bool
    superuser: bool
    connect: bool = False  # CONNECT on the source database (directly or through PUBLIC)
    schema_usage: bool = False  # USAGE on the source schema
    # None: not compared (no password given, or the admin cannot read pg_authid)
    password_matches: bool | None = None


@dataclass
class TableState:
    name: str
    columns: dict[str, str]  # column -> format_type() spelling, in attnum order
    primary_key: tuple[str, ...]
    replica_identity: str  # default | full | nothing | index
    select_granted: bool | None = None  # the CDC role may SELECT it; None: the role does not exist
    rows_probed: bool = False
    present_keys: set[tuple[Any, ...]] = field(default_factory=set)  # primary keys of initial rows found


@dataclass
class PublicationState:
    name: str
    all_tables: bool
    tables: set[str]  # "schema.TABLE" from pg_publication_tables
    actions: set[str]  # of PUBLISH_ACTIONS


@dataclass
class SlotState:
    slot_name: str
    plugin: str | None
    slot_type: str
    database: str | None
    active: bool
    active_pid: int | None
    confirmed_flush_lsn: str | None
    restart_lsn: str | None
    wal_status: str | None
    retained_wal_bytes: int | None  # pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)


@dataclass
class CatalogState:
    database: str = ""
    server_version_num: int = 0
    wal_level: str | None = None
    max_replication_slots: int | None = None
    max_wal_senders: int | None = None
    schema_exists: bool = False
    role: RoleState | None = None
    tables: dict[str, TableState] = field(default_factory=dict)
    publication: PublicationState | None = None
    slots: dict[str, SlotState] = field(default_factory=dict)  # every slot of the cluster


_SETTINGS_SQL = (
    "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders', 'server_version_num')"
)
_ROLE_SQL = "SELECT rolname, rolcanlogin, rolreplication, rolsuper FROM pg_roles WHERE rolname = %s"
_ADMIN_SUPER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
_AUTHID_SQL = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"
_ROLE_PRIVS_SQL = (
    "SELECT has_database_privilege(%s, current_database(), 'CONNECT') AS can_connect, "
    "(SELECT has_schema_privilege(%s, n.oid, 'USAGE') FROM pg_namespace n WHERE n.nspname = %s) AS schema_usage"
)
_SCHEMA_SQL = "SELECT 1 AS found FROM pg_namespace WHERE nspname = %s"
_TABLES_SQL = (
    "SELECT c.relname, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)"
)
_COLUMNS_SQL = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
)
_PK_SQL = (
    "SELECT c.relname, k.ord, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
    "WHERE i.indisprimary AND n.nspname = %s AND c.relname = ANY(%s) ORDER BY c.relname, k.ord"
)
_GRANTS_SQL = (
    "SELECT c.relname, has_table_privilege(%s, c.oid, 'SELECT') AS can_select FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)"
)
_PUB_SQL = "SELECT pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = %s"
_PUB_TABLES_SQL = "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s"
_SLOTS_SQL = (
    "SELECT slot_name, plugin, slot_type, database, active, active_pid, "
    "confirmed_flush_lsn::text AS confirmed_flush_lsn, "
    "restart_lsn::text AS restart_lsn, wal_status, "
    "CASE WHEN restart_lsn IS NULL THEN NULL "
    "ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained_wal_bytes "
    "FROM pg_replication_slots"
)


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def row_probe(source: PostgresSource, table: PgTable, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[Any]]:
    """SQL + params returning column ``i`` = the index of every row (of ``rows``) whose primary key
    is present in the table. Keys are cast to the column types, so PostgreSQL compares them."""
    pk = [table.column(c) for c in table.primary_key]
    values, params = [], []
    for i, row in enumerate(rows):
        cells = [str(i)]
        for c, v in zip(pk, row_key(table, row), strict=True):
            cells.append(f"CAST(%s AS {c.type_info.render()})")
            params.append(v)
        values.append(f"({', '.join(cells)})")
    keys = [f"k{j}" for j in range(len(pk))]
    match = " AND ".join(f"t.{quote_ident(c.name)} = v.{k}" for c, k in zip(pk, keys, strict=True))
    sql = (
        f"SELECT v.i FROM (VALUES {', '.join(values)}) AS v(i, {', '.join(keys)}) "
        f"WHERE EXISTS (SELECT 1 FROM {qualified(source.schema_name, table.name)} t WHERE {match})"
    )
    return sql, params


def rows_present(source: PostgresSource, table: PgTable, rows: Sequence[Mapping[str, Any]], query: Query) -> set[int]:
    """Indexes of ``rows`` already in the table (by primary key)."""
    if not rows:
        return set()
    sql, params = row_probe(source, table, rows)
    return {int(r["i"]) for r in query(sql, params)}


def read_catalog(source: PostgresSource, query: Query, *, cdc_password: str | None = None) -> CatalogState:
    """Everything plan() and the checks need, read through ``query``. With ``cdc_password`` and a
    superuser admin, the role's stored SCRAM verifier is compared with it (the verifier itself is
    not kept)."""
    s = CatalogState(database=source.database)
    settings = {r["name"]: r["setting"] for r in query(_SETTINGS_SQL, None)}
    s.wal_level = settings.get("wal_level")
    s.max_replication_slots = _int(settings.get("max_replication_slots"))
    s.max_wal_senders = _int(settings.get("max_wal_senders"))
    s.server_version_num = _int(settings.get("server_version_num")) or 0
    schema = source.schema_name
    s.schema_exists = bool(query(_SCHEMA_SQL, [schema]))

    role = source.role.name
    rows = query(_ROLE_SQL, [role])
    if rows:
        r = rows[0]
        s.role = RoleState(role, bool(r["rolcanlogin"]), bool(r["rolreplication"]), bool(r["rolsuper"]))
        privs = query(_ROLE_PRIVS_SQL, [role, role, schema])[0]
        s.role.connect = bool(privs["can_connect"])
        s.role.schema_usage = bool(privs["schema_usage"])
        if cdc_password is not None and query(_ADMIN_SUPER_SQL, None)[0]["rolsuper"]:
            stored = query(_AUTHID_SQL, [role])
            s.role.password_matches = verifier_matches(stored[0]["rolpassword"] if stored else None, cdc_password)

    names = [t.name for t in source.tables]
    cols: dict[str, dict[str, str]] = {}
    for r in query(_COLUMNS_SQL, [schema, names]):
        cols.setdefault(r["relname"], {})[r["attname"]] = r["type"]
    pks: dict[str, list[str]] = {}
    for r in query(_PK_SQL, [schema, names]):
        pks.setdefault(r["relname"], []).append(r["attname"])
    for r in query(_TABLES_SQL, [schema, names]):
        name = r["relname"]
        s.tables[name] = TableState(
            name=name,
            columns=cols.get(name, {}),
            primary_key=tuple(pks.get(name, ())),
            replica_identity=REPLICA_IDENTITY.get(r["relreplident"], str(r["relreplident"])),
        )
    if s.role is not None:
        for r in query(_GRANTS_SQL, [role, schema, names]):
            if r["relname"] in s.tables:
                s.tables[r["relname"]].select_granted = bool(r["can_select"])
    for t in source.tables:
        ts = s.tables.get(t.name)
        if ts is None or not t.initial_rows:
            continue
        found = rows_present(source, t, t.initial_rows, query)
        ts.present_keys = {row_key(t, t.initial_rows[i]) for i in found}
        ts.rows_probed = True

    pubs = query(_PUB_SQL, [source.publication])
    if pubs:
        p = pubs[0]
        s.publication = PublicationState(
            name=source.publication,
            all_tables=bool(p["puballtables"]),
            tables={f"{r['schemaname']}.{r['tablename']}" for r in query(_PUB_TABLES_SQL, [source.publication])},
            actions={a for a in PUBLISH_ACTIONS if p[f"pub{a}"]},
        )

    for r in query(_SLOTS_SQL, None):
        s.slots[r["slot_name"]] = SlotState(
            slot_name=r["slot_name"],
            plugin=r["plugin"],
            slot_type=r["slot_type"],
            database=r["database"],
            active=bool(r["active"]),
            active_pid=_int(r["active_pid"]),
            confirmed_flush_lsn=r["confirmed_flush_lsn"],
            restart_lsn=r["restart_lsn"],
            wal_status=r["wal_status"],
            retained_wal_bytes=_int(r["retained_wal_bytes"]),
        )
    return s
