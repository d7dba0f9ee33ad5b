"""The PostgreSQL source plug-in: lineage from the CDC role to the CDC topics, provisioning of the
role, tables and publication, the preflight checks, and the rows the data check compares Redis with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome, would
from pipeline_defs.spec.loader import spec_hash
from pipeline_defs.systems.connect.props import ConnectorProps, connector_node
from pipeline_defs.systems.kafka import TopicProps, topic_node
from pipeline_defs.systems.postgres import catalog as cat
from pipeline_defs.systems.postgres.connectors import ConnectEndpoints, connector_config
from pipeline_defs.systems.postgres.events import window_count_query, window_counts
from pipeline_defs.systems.postgres.names import cdc_topic, qualified_name
from pipeline_defs.systems.postgres.plan import demo_row_statements, for_node
from pipeline_defs.systems.postgres.plan import plan as plan_statements
from pipeline_defs.systems.postgres.spec import PostgresSource, cross_validate
from pipeline_defs.systems.postgres.sql import drop_slot_statement
from pipeline_defs.systems.postgres.types import column_neutral_type

COMPATIBLE = {"io.debezium.connector.postgresql.PostgresConnector": ("3.0", None)}
_DESCRIPTIONS = {
    "postgres_role": "PostgreSQL CDC role {name}: LOGIN REPLICATION, CONNECT, schema USAGE (the database must run wal_level=logical)",
    "postgres_table": "PostgreSQL table {name}: columns, primary key, SELECT for the CDC role, replica identity, initial rows",
    "postgres_publication": "PostgreSQL publication {name}: exactly the captured tables; slots of removed connectors are dropped",
}


@dataclass(frozen=True)
class PgObject:
    """A Postgres node's desired state: the source spec and its part of the plan
    ("role", "table:<NAME>" or "publication")."""

    source: PostgresSource
    part: str


def _node(kind: str, name: str, key: Key, source: PostgresSource, part: str, metadata: dict, version: Any) -> LineageNode:
    return LineageNode(
        key,
        kind,
        name,
        "postgres",
        "postgres",
        PgObject(source, part),
        metadata,
        spec_hash(version),
        _DESCRIPTIONS[kind].format(name=name),
        frozenset({"postgres", "sql"}),
    )


def _secret(name: str) -> str | None:
    from resources.endpoints import secret

    return secret(name)


class PostgresSourcePlugin(registry.SourcePlugin):
    name = kind = "postgres"
    model = PostgresSource
    resource_keys = fault_resource_keys = frozenset({"postgres"})
    env_overrides = {"CDC_CONNECT_POSTGRES_HOST": "source.host", "CDC_CONNECT_POSTGRES_PORT": "source.port"}

    def resources(self) -> dict[str, Any]:
        import dagster as dg

        from resources import endpoints as ep
        from resources.postgres import PostgresResource

        return {"postgres": PostgresResource(password=dg.EnvVar(ep.POSTGRES_ADMIN_PASSWORD_VAR))}

    # ------------------------------------------------------------------ spec
    def cross_validate(self, spec: Any) -> registry.Problems:
        return cross_validate(spec.source)

    def connector_names(self, spec: Any) -> list[tuple[str, str]]:
        return [(f"source.connectors[{i}].name", c.name) for i, c in enumerate(spec.source.connectors)]

    def tables(self, spec: Any) -> list[registry.SourceTable]:
        src: PostgresSource = spec.source
        captured = {t for c in src.connectors for t in c.tables}
        return [
            registry.SourceTable(
                t.name,
                qualified_name(src, t),
                cdc_topic(src, t),
                tuple(registry.SourceColumn(c.name, column_neutral_type(c.type), c.primary_key, c.type) for c in t.columns),
                captured=t.capture and t.name in captured,
            )
            for t in src.tables
        ]

    def wire_format(self, spec: Any) -> str:
        return "json"

    # ------------------------------------------------------------------ lineage
    def lineage(self, spec: Any, g: GraphBuilder) -> dict[str, Key]:
        src: PostgresSource = spec.source
        role_key = g.add(
            _node(
                "postgres_role",
                src.role.name,
                ("postgres", "role", asset_key_component(src.role.name)),
                src,
                "role",
                {"role": src.role.name, "database": src.database, "password_env": src.role.password_env},
                [src.role, src.database, src.schema_name],
            )
        )
        table_keys: dict[str, Key] = {}
        for t in src.tables:
            q = qualified_name(src, t)
            table_keys[t.name] = g.add(
                _node(
                    "postgres_table",
                    q,
                    ("postgres", "table", asset_key_component(t.name)),
                    src,
                    f"table:{t.name}",
                    {
                        "table": q,
                        "columns": [f"{c.name} {c.type}{' PRIMARY KEY' if c.primary_key else ''}" for c in t.columns],
                        "captured": t.capture,
                        "replica_identity": t.replica_identity,
                        "topic": cdc_topic(src, t) if t.capture else None,
                    },
                    [src.schema_name, t],
                ),
                role_key,
            )
        pub_key = g.add(
            _node(
                "postgres_publication",
                src.publication,
                ("postgres", "publication", asset_key_component(src.publication)),
                src,
                "publication",
                {"publication": src.publication, "tables": [t.name for t in src.captured], "slots": [c.slot_name for c in src.connectors]},
                [src.publication, [t.name for t in src.captured], [c.slot_name for c in src.connectors]],
            ),
            *(table_keys[t.name] for t in src.captured),
        )
        endpoints = ConnectEndpoints(replication_factor=spec.kafka.replication_factor, partitions=spec.kafka.partitions)
        topics: dict[str, Key] = {}
        for conn in src.connectors:
            cfg = connector_config(src, conn, endpoints)
            props = ConnectorProps(
                conn.name, "source", cfg, tuple(cdc_topic(src, t) for t in conn.tables), COMPATIBLE, initial_state=conn.initial_state
            )
            ck = g.add(
                connector_node(
                    props,
                    description=f"Kafka Connect source {conn.name}: Debezium captures PostgreSQL changes "
                    f"(slot {conn.slot_name}, publication {src.publication})",
                    metadata={
                        "tables": [qualified_name(src, t) for t in conn.tables],
                        "slot": conn.slot_name,
                        "topics": list(props.topics),
                    },
                    code_version=spec_hash(cfg),
                ),
                pub_key,
                *(table_keys[t] for t in conn.tables),
            )
            for t in conn.tables:
                topic = cdc_topic(src, t)
                tp = TopicProps(topic, spec.kafka.partitions, spec.kafka.replication_factor, created_by_engine=False)
                topics[t] = g.add(
                    topic_node(
                        tp, {"producer": conn.name, "table": qualified_name(src, t), "format": "json"}, spec_hash([topic, conn.name])
                    ),
                    ck,
                )
        return topics

    # ------------------------------------------------------------------ provisioning
    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        obj: PgObject = node.desired
        src = obj.source
        client = resources.postgres.get_client()
        password = _secret(src.role.password_env)
        state = cat.read_catalog(src, client.query, cdc_password=password)
        mine = for_node(plan_statements(src, state, password), obj.part)
        md: dict[str, Any] = {"statements": len(mine)}
        dropped: list[str] = []
        held: list[str] = []
        if obj.part == "publication":
            # a slot of a connector that left the spec holds WAL until the disk fills: drop it once
            # no connector streams from it; an active one is reported (its connector still runs)
            for slot in _removed_slots(src, state):
                (held if state.slots[slot].active else dropped).append(slot)
            md.update(slots_dropped=dropped, slots_held_by_a_running_connector=held)
        if obj.part == "role":
            md["wal_level"] = state.wal_level
        changes = [s.display for s in mine] + [f"drop replication slot {s} (its connector left the spec)" for s in dropped]
        creates = any(s.sql.startswith(("CREATE ROLE", "CREATE TABLE", "CREATE PUBLICATION")) for s in mine)
        action = "unchanged" if not changes else ("created" if creates else "updated")
        if dry_run:
            return Outcome(node.name, would(action), changes, md)
        if mine:
            client.execute([(s.sql, s.params or None) for s in mine], secrets=s_secrets(mine))
        for slot in dropped:
            st = drop_slot_statement(slot)
            client.execute([(st.sql, st.params)])
        return Outcome(node.name, action, changes, md)

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        from pipeline_defs.systems.postgres.dagster_checks import postgres_checks

        return postgres_checks(node, lineage)

    # ------------------------------------------------------------------ data
    def source_counts(self, spec: Any, resources: Any, agg: registry.AggregateOutput, since_ms: int | None) -> dict[tuple[str, int], int]:
        sql, params = window_count_query(spec.source, agg.source_table, agg.group_by, agg.event_time, agg.window_ms, since_ms)
        return window_counts(resources.postgres.get_client().query(sql, params))

    def connector_faults(self, spec: Any, resources: Any) -> dict[str, str]:
        from pipeline_defs.systems.postgres.stalls import connector_faults

        return connector_faults(spec.source, resources)

    def insert_demo_rows(self, spec: Any, resources: Any) -> dict[str, int]:
        client = resources.postgres.get_client()
        inserted = present = 0
        for st in demo_row_statements(spec.source):
            if client.execute([(st.sql, st.params or None)]) > 0:
                inserted += 1
            else:
                present += 1
        return {"inserted": inserted, "already_present": present}


def s_secrets(statements) -> set[str]:
    return {x for s in statements for x in s.secrets}


def _removed_slots(src: PostgresSource, state: cat.CatalogState) -> list[str]:
    """Logical slots of this database named with the spec's slot prefix that no connector names."""
    wanted = {c.slot_name for c in src.connectors}
    return sorted(
        n
        for n, s in state.slots.items()
        if s.slot_type == "logical" and s.database == src.database and n not in wanted and n.startswith(src.slot_prefix)
    )
