"""Connectors Kafka Connect calls RUNNING that cannot stream, as the database sees them.

Debezium PostgreSQL 3.6.1 retries a refused login at task start forever with the task RUNNING and
no trace (errors.max.retries does not bound it), so Connect's status alone never shows a wrong
password. The database does: the connector's slot stays inactive, and the role's stored verifier is
not the password the connector's ${env:...} placeholder resolves to. The trace written here is what
PostgreSQL tells the client, so connector_health classifies it like any other failure."""

from __future__ import annotations

from typing import Any

from pipeline_defs.systems.postgres.catalog import Query
from pipeline_defs.systems.postgres.spec import PostgresSource
from pipeline_defs.systems.postgres.sql import verifier_matches

_SLOTS_SQL = "SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = ANY(%s)"
_ADMIN_SUPER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
_AUTHID_SQL = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"


def stalled_connectors(source: PostgresSource, query: Query, cdc_password: str | None) -> dict[str, str]:
    """{connector: the error its login gets} for spec connectors whose slot is missing or inactive
    while the CDC role's password is not the one the connectors use. Nothing when every slot streams,
    when the control plane holds no password, or when the admin cannot read pg_authid."""
    slots = {c.slot_name: c.name for c in source.connectors}
    if not slots or cdc_password is None:
        return {}
    active = {r["slot_name"] for r in query(_SLOTS_SQL, [list(slots)]) if r["active"]}
    idle = [name for slot, name in slots.items() if slot not in active]
    if not idle or not query(_ADMIN_SUPER_SQL, None)[0]["rolsuper"]:
        return {}
    stored = query(_AUTHID_SQL, [source.role.name])
    if verifier_matches(stored[0]["rolpassword"] if stored else None, cdc_password):
        return {}
    env = source.role.password_env
    trace = (
        f'FATAL: password authentication failed for user "{source.role.name}" (read from PostgreSQL: the role\'s '
        f"stored password is not the one ${{env:{env}}} gives the connector, whose replication slot is not streaming; "
        "Debezium retries this login inside a RUNNING task)"
    )
    return dict.fromkeys(idle, trace)


def connector_faults(source: PostgresSource, resources: Any) -> dict[str, str]:
    from resources.endpoints import secret

    try:
        password = secret(source.role.password_env)
    except KeyError:  # a variable the control plane does not hold: nothing to compare with
        password = None
    return stalled_connectors(source, resources.postgres.get_client().query, password)
