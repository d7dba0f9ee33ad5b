"""Checks of a PostgreSQL source: pure functions of (spec, CatalogState) -> (passed, metadata).

Metadata holds what a person needs to act: the missing grants, the tables missing from or extra
in the publication, the fix for wal_level. The retention guard also sets
``metadata["severity"]`` to OK / WARN / ERROR (the caller maps it to its check severity).
"""

from __future__ import annotations

from typing import Any

from pipeline_defs.systems.postgres.catalog import PUBLISH_ACTIONS, CatalogState, SlotState
from pipeline_defs.systems.postgres.names import qualified_name
from pipeline_defs.systems.postgres.spec import PgConnector, PostgresSource

CheckResult = tuple[bool, dict[str, Any]]

WAL_LEVEL_FIX = (
    "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (wal_level only changes at server start). "
    "Also keep max_replication_slots and max_wal_senders at least the number of CDC connectors (plus other users)."
)


def _problem(md: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    if parts:
        md["problem"] = "; ".join(parts)
    return md


def check_wal_level(source: PostgresSource, state: CatalogState) -> CheckResult:
    """wal_level=logical, and enough replication slots / WAL senders for the spec's connectors."""
    need = len(source.connectors)
    parts = []
    if state.wal_level != "logical":
        parts.append(f"wal_level is {state.wal_level!r}; logical decoding needs 'logical'")
    if (state.max_replication_slots or 0) < need:
        parts.append(f"max_replication_slots={state.max_replication_slots} < {need} connector slot(s)")
    if (state.max_wal_senders or 0) < need:
        parts.append(f"max_wal_senders={state.max_wal_senders} < {need} connector(s)")
    md: dict[str, Any] = {
        "wal_level": state.wal_level,
        "max_replication_slots": state.max_replication_slots,
        "max_wal_senders": state.max_wal_senders,
        "connectors": need,
    }
    if parts:
        md["fix"] = WAL_LEVEL_FIX
    return not parts, _problem(md, parts)


def _slot_md(slot: SlotState) -> dict[str, Any]:
    return {
        "slot_name": slot.slot_name,
        "plugin": slot.plugin,
        "database": slot.database,
        "active": slot.active,
        "active_pid": slot.active_pid,
        "confirmed_flush_lsn": slot.confirmed_flush_lsn,
        "restart_lsn": slot.restart_lsn,
        "wal_status": slot.wal_status,
        "retained_wal_bytes": slot.retained_wal_bytes,
    }


def check_slot(source: PostgresSource, state: CatalogState, connector: PgConnector) -> CheckResult:
    """The connector's replication slot exists on the source database, uses pgoutput, and a
    walsender is streaming from it (active)."""
    slot = state.slots.get(connector.slot_name)
    if slot is None:
        return False, {
            "connector": connector.name,
            "slot_name": connector.slot_name,
            "exists": False,
            "problem": f"replication slot {connector.slot_name} does not exist (Debezium creates it when "
            f"connector {connector.name} first starts: is it running?)",
        }
    md = {"connector": connector.name, "exists": True, **_slot_md(slot)}
    parts = []
    if slot.slot_type != "logical" or slot.plugin != "pgoutput":
        parts.append(f"slot is {slot.slot_type} with plugin {slot.plugin!r}, expected logical pgoutput")
    if slot.database != source.database:
        parts.append(f"slot belongs to database {slot.database!r}, not {source.database!r}")
    if not slot.active:
        parts.append(f"slot {slot.slot_name} is inactive: no connector streams from it, and it retains WAL meanwhile")
    if slot.wal_status == "lost":
        parts.append("the WAL this slot needs was removed (wal_status=lost): the connector must re-snapshot")
    return not parts, _problem(md, parts)


def check_publication(source: PostgresSource, state: CatalogState) -> CheckResult:
    """The publication exists, is not FOR ALL TABLES, publishes all change kinds, and holds
    exactly the captured tables."""
    want = {qualified_name(source, t) for t in source.captured}
    pub = state.publication
    if pub is None:
        return False, {
            "publication": source.publication,
            "exists": False,
            "missing_tables": sorted(want),
            "extra_tables": [],
            "problem": f"publication {source.publication} does not exist",
        }
    missing, extra = sorted(want - pub.tables), sorted(pub.tables - want)
    lacking = [a for a in PUBLISH_ACTIONS if a not in pub.actions]
    parts = []
    if pub.all_tables:
        parts.append("publication is FOR ALL TABLES; it must list exactly the captured tables")
    if missing:
        parts.append("tables missing from the publication: " + ", ".join(missing))
    if extra and not pub.all_tables:
        parts.append("tables in the publication but not captured: " + ", ".join(extra))
    if lacking:
        parts.append("publication does not publish: " + ", ".join(lacking))
    md = {
        "publication": pub.name,
        "exists": True,
        "all_tables": pub.all_tables,
        "tables": sorted(pub.tables),
        "missing_tables": missing,
        "extra_tables": [] if pub.all_tables else extra,
        "unpublished_actions": lacking,
    }
    return not parts, _problem(md, parts)


def check_role(source: PostgresSource, state: CatalogState, *, tables: bool = True) -> CheckResult:
    """The CDC role exists with LOGIN and REPLICATION, may connect and use the schema, and (``tables``)
    may SELECT every captured table (pg_roles + has_*_privilege, so grants through PUBLIC count)."""
    role = state.role
    name = source.role.name
    if role is None:
        return False, {"role": name, "exists": False, "problem": f"role {name} does not exist"}
    no_select = [
        qualified_name(source, t)
        for t in source.captured
        if tables and not (state.tables.get(t.name) and state.tables[t.name].select_granted)
    ]
    parts = []
    for attr, ok in (("LOGIN", role.login), ("REPLICATION", role.replication)):
        if not ok:
            parts.append(f"role {name} lacks {attr}")
    if not role.connect:
        parts.append(f"role {name} may not CONNECT to database {source.database}")
    if not role.schema_usage:
        parts.append(f"role {name} lacks USAGE on schema {source.schema_name}")
    if no_select:
        parts.append(f"role {name} lacks SELECT on: " + ", ".join(no_select))
    if role.password_matches is False:
        parts.append(f"role {name}'s password differs from {source.role.password_env}")
    md: dict[str, Any] = {
        "role": name,
        "exists": True,
        "login": role.login,
        "replication": role.replication,
        "connect": role.connect,
        "schema_usage": role.schema_usage,
        "missing_select": no_select,
        "superuser": role.superuser,
        "password_matches": role.password_matches,
    }
    if role.password_matches is False:
        md["fix"] = (
            f"run provision_pipeline: it sets role {name}'s password from {source.role.password_env}, the variable the "
            f"connectors' ${{env:{source.role.password_env}}} resolves to in the Connect worker (or set that variable in "
            "the worker's environment and restart the worker)"
        )
    if role.superuser:
        md["note"] = f"role {name} is a superuser: more than Debezium needs (LOGIN REPLICATION + SELECT)"
    return not parts, _problem(md, parts)


def check_primary_keys(source: PostgresSource, state: CatalogState, table: str | None = None) -> CheckResult:
    """Every table (or just ``table``) exists with the primary key the spec declares."""
    missing, without_pk, mismatched = [], [], []
    for t in source.tables:
        if table is not None and t.name != table:
            continue
        ts = state.tables.get(t.name)
        q = qualified_name(source, t)
        if ts is None:
            missing.append(q)
        elif not ts.primary_key:
            without_pk.append(q)
        elif list(ts.primary_key) != t.primary_key:
            have, want = ", ".join(ts.primary_key), ", ".join(t.primary_key)
            mismatched.append(f"{q} has PRIMARY KEY ({have}), spec says ({want})")
    parts = (
        ([f"missing tables: {', '.join(missing)}"] if missing else [])
        + ([f"no primary key: {', '.join(without_pk)}"] if without_pk else [])
        + mismatched
    )
    md = {
        "missing_tables": missing,
        "tables_without_primary_key": without_pk,
        "primary_key_mismatches": mismatched,
        "primary_keys": {qualified_name(source, n): list(ts.primary_key) for n, ts in sorted(state.tables.items())},
    }
    return not parts, _problem(md, parts)


def check_table(source: PostgresSource, state: CatalogState, table: str) -> CheckResult:
    """The table's columns have the spec's types (extra columns are reported, not failed: they
    reach the topic but no engine reads them), and its replica identity is the spec's."""
    t = source.table(table)
    if t is None:
        raise ValueError(f"{table!r} is not a table of the spec")
    ts = state.tables.get(t.name)
    q = qualified_name(source, t)
    if ts is None:
        return False, {"table": q, "exists": False, "problem": f"table {q} does not exist"}
    missing = [c.name for c in t.columns if c.name not in ts.columns]
    wrong = [
        f"{c.name} is {ts.columns[c.name]}, spec says {c.type_info.catalog()}"
        for c in t.columns
        if c.name in ts.columns and ts.columns[c.name] != c.type_info.catalog()
    ]
    extra = [c for c in ts.columns if t.column(c) is None]
    parts = ([f"missing columns: {', '.join(missing)}"] if missing else []) + wrong
    if ts.replica_identity != t.replica_identity:
        parts.append(f"replica identity is {ts.replica_identity}, spec says {t.replica_identity}")
    md = {
        "table": q,
        "exists": True,
        "columns": ts.columns,
        "missing_columns": missing,
        "type_mismatches": wrong,
        "extra_columns": extra,
        "replica_identity": ts.replica_identity,
    }
    return not parts, _problem(md, parts)


def managed_slots(source: PostgresSource) -> set[str]:
    return {c.slot_name for c in source.connectors}


def unmanaged_slots(source: PostgresSource, state: CatalogState) -> list[str]:
    """Logical slots on the source database that no connector of the spec names: typically left
    by a removed connector, holding WAL (candidates for sql.drop_slot_statement)."""
    return sorted(
        n for n, s in state.slots.items() if s.slot_type == "logical" and s.database == source.database and n not in managed_slots(source)
    )


def _severity(slot: SlotState, warn: int, error: int) -> tuple[str, str | None]:
    retained = slot.retained_wal_bytes or 0
    if retained >= error:
        return "ERROR", f"slot {slot.slot_name} retains {retained} bytes of WAL (error at {error})"
    if slot.wal_status == "lost":
        return "ERROR", f"slot {slot.slot_name} lost WAL it needs (wal_status=lost)"
    if retained >= warn:
        return "WARN", f"slot {slot.slot_name} retains {retained} bytes of WAL (warning at {warn})"
    if not slot.active:
        return "WARN", f"slot {slot.slot_name} is inactive and retains WAL until a connector resumes or it is dropped"
    return "OK", None


def check_wal_retention(source: PostgresSource, state: CatalogState) -> CheckResult:
    """Retention guard over the connectors' slots and any other logical slot on the database:
    retained WAL >= error_bytes -> ERROR; >= warn_bytes or inactive -> WARN. A missing connector
    slot is check_slot's business, not this one's."""
    warn, error = source.wal_retention.warn_bytes, source.wal_retention.error_bytes
    names = sorted(managed_slots(source) & set(state.slots)) + unmanaged_slots(source, state)
    order = {"OK": 0, "WARN": 1, "ERROR": 2}
    worst, parts, slots = "OK", [], []
    for n in names:
        sev, why = _severity(state.slots[n], warn, error)
        slots.append({**_slot_md(state.slots[n]), "severity": sev, "managed": n in managed_slots(source)})
        if why:
            parts.append(why)
        worst = max(worst, sev, key=order.__getitem__)
    md = {
        "severity": worst,
        "warn_bytes": warn,
        "error_bytes": error,
        "slots": slots,
        "max_retained_wal_bytes": max((s["retained_wal_bytes"] or 0 for s in slots), default=0),
        "unmanaged_slots": unmanaged_slots(source, state),
    }
    return worst == "OK", _problem(md, parts)
