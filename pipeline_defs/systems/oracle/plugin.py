"""The Oracle source plug-in: lineage from the role to the CDC topics, provisioning of the role,
user and tables, the catalog checks, and the rows the data check compares Redis with."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome, would
from pipeline_defs.spec.loader import spec_hash
from pipeline_defs.systems.connect.props import ConnectorProps, PreTopic, connector_node
from pipeline_defs.systems.kafka import TopicProps, topic_node
from pipeline_defs.systems.oracle import catalog as cat
from pipeline_defs.systems.oracle import plan as oplan
from pipeline_defs.systems.oracle.connectors import FLAVORS, flavor_of, redo_log_topic, topic_for
from pipeline_defs.systems.oracle.names import neutral_type
from pipeline_defs.systems.oracle.spec import OracleSource
from pipeline_defs.systems.oracle.sql import Statement, ident, role_grants
from pipeline_defs.systems.oracle.validate import cross_validate
from pipeline_defs.systems.redis.compare import count_windows

# Plugin versions the derived configs are written for: {class: (min, below)}
COMPATIBLE = {
    "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector": ("2.0", None),
    "io.debezium.connector.oracle.OracleConnector": ("2.0", None),
}
_DESCRIPTIONS = {
    "oracle_role": "Oracle CDC role {name} with every grant in the spec, plus the database's supplemental logging",
    "oracle_user": "Oracle CDC user {name}: tablespace, quota, roles and grants",
    "oracle_table": "Oracle table {name}: columns, primary key, SELECT for the CDC role, all-column supplemental logging, initial rows",
}


@dataclass(frozen=True)
class OracleObject:
    """An Oracle node's desired state: the source spec and which part of the plan is its own
    ("role", "user" or a table name)."""

    source: OracleSource
    part: str


def _owner_of(sql: str, owner: str, tables: list[str]) -> str | None:
    for t in tables:
        if re.search(rf"(?<![A-Z0-9_$#]){re.escape(owner)}\.{re.escape(t)}(?![A-Z0-9_$#])", sql):
            return t
    return None


def partition(source: OracleSource, statements: list[Statement]) -> dict[str, list[Statement]]:
    """Which lineage node each planned statement belongs to: "role", "user" or a table name.

    The role node also carries the database-wide prerequisite (supplemental logging), because every
    captured table depends on it and the role is the root of the Oracle chain."""
    user, role = source.user.name, source.role.name
    tables = [t.name for t in source.tables]
    out: dict[str, list[Statement]] = {"role": [], "user": [], **{t: [] for t in tables}}
    for s in statements:
        table = _owner_of(s.sql, user, tables)
        if table is not None:
            out[table].append(s)
        elif s.kind == "role" or (s.kind == "grant" and s.sql.rstrip().endswith(f" TO {role}")) or s.sql.startswith("ALTER DATABASE"):
            out["role"].append(s)
        else:
            out["user"].append(s)
    return out


def _node(kind: str, name: str, key: Key, source: OracleSource, part: str, metadata: dict, version: Any) -> LineageNode:
    return LineageNode(
        key,
        kind,
        name,
        "oracle",
        "oracle",
        OracleObject(source, part),
        metadata,
        spec_hash(version),
        _DESCRIPTIONS[kind].format(name=name),
        frozenset({"oracle", "sql"}),
    )


class OracleSourcePlugin(registry.SourcePlugin):
    name = kind = "oracle"
    model = OracleSource
    resource_keys = frozenset({"oracle"})
    env_overrides = {
        "CDC_SOURCE_FLAVOR": "source.flavor",
        "CDC_FORMAT": "source.format",
        "CDC_CONNECT_ORACLE_HOST": "source.host",
        "CDC_CONNECT_ORACLE_PORT": "source.port",
    }

    def resources(self) -> dict[str, Any]:
        import dagster as dg

        from resources import endpoints as ep
        from resources.oracle import OracleResource

        return {
            "oracle": OracleResource(
                host=ep.ORACLE_HOST.get(),
                port=int(ep.ORACLE_PORT.get()),
                service_name=ep.ORACLE_SERVICE_NAME.get(),
                user=ep.ORACLE_USER.get(),
                password=dg.EnvVar(ep.ORACLE_PASSWORD_ENV),
                admin_user=ep.ORACLE_ADMIN_USER.get(),
                admin_password=dg.EnvVar(ep.ORACLE_ADMIN_PASSWORD_ENV),
                as_sysdba=ep.ORACLE_ADMIN_USER.get().lower() == "sys",
            )
        }

    # ------------------------------------------------------------------ spec
    def cross_validate(self, spec: Any) -> registry.Problems:
        return cross_validate(spec.source)

    def connector_names(self, spec: Any) -> list[tuple[str, str]]:
        return [(f"source.connectors[{i}].name", c.name) for i, c in enumerate(spec.source.connectors)]

    def tables(self, spec: Any) -> list[registry.SourceTable]:
        src: OracleSource = spec.source
        captured = {t for c in src.connectors for t in c.tables}
        return [
            registry.SourceTable(
                t.name,
                f"{src.user.name}.{t.name}",
                topic_for(src, t.name),
                tuple(registry.SourceColumn(c.name, neutral_type(c.type_info), c.primary_key, c.type) for c in t.columns),
                captured=t.capture and t.name in captured,
            )
            for t in src.tables
        ]

    def wire_format(self, spec: Any) -> str:
        return spec.source.format

    # ------------------------------------------------------------------ lineage
    def lineage(self, spec: Any, g: GraphBuilder) -> dict[str, Key]:
        src: OracleSource = spec.source
        grants = [g_ for g_ in role_grants(src) if g_.kind == "object" and g_.owner == ident(src.user.name)]
        role_key = g.add(
            _node(
                "oracle_role",
                src.role.name,
                ("oracle", "role", asset_key_component(src.role.name)),
                src,
                "role",
                {
                    "role": src.role.name,
                    "system_privileges": len(src.role.system_privileges),
                    "object_privileges": len(src.role.object_privileges) + len(grants),
                    "granted_roles": list(src.role.granted_roles),
                },
                [src.role, [(x.owner, x.object_name, x.privilege) for x in grants]],
            )
        )
        user_key = g.add(
            _node(
                "oracle_user",
                src.user.name,
                ("oracle", "user", asset_key_component(src.user.name)),
                src,
                "user",
                {"user": src.user.name, "default_tablespace": src.user.default_tablespace, "password_env": src.user.password_env},
                src.user,
            ),
            role_key,
        )
        table_keys: dict[str, Key] = {}
        for t in src.tables:
            q = f"{src.user.name}.{t.name}"
            table_keys[t.name] = g.add(
                _node(
                    "oracle_table",
                    q,
                    ("oracle", "table", asset_key_component(t.name)),
                    src,
                    t.name,
                    {
                        "table": q,
                        "columns": [f"{c.name} {c.type}{' PRIMARY KEY' if c.primary_key else ''}" for c in t.columns],
                        "captured": t.capture,
                        "topic": topic_for(src, t.name) if t.capture else None,
                    },
                    [src.user.name, t],
                ),
                user_key,
            )
        flavor = flavor_of(src)
        configs = flavor.connector_configs(spec)
        topics: dict[str, Key] = {}
        for conn in src.connectors:
            cfg = {**configs[conn.name], "name": conn.name}
            redo = redo_log_topic(src, conn.name, cfg)
            props = ConnectorProps(
                conn.name,
                "source",
                cfg,
                tuple(topic_for(src, t) for t in conn.tables),
                COMPATIBLE,
                (
                    PreTopic(
                        redo,
                        1,
                        spec.kafka.replication_factor,
                        {"cleanup.policy": "delete", "retention.ms": str(FLAVORS["confluent"].REDO_RETENTION_MS)},
                    ),
                )
                if redo
                else (),
            )
            ck = g.add(
                connector_node(
                    props,
                    description=f"Kafka Connect source {conn.name}: captures Oracle changes into Kafka",
                    metadata={"flavor": src.flavor, "tables": [f"{src.user.name}.{t}" for t in conn.tables], "topics": list(props.topics)},
                    code_version=spec_hash(cfg),
                ),
                *(table_keys[t] for t in conn.tables),
            )
            for t in conn.tables:
                topic = topic_for(src, t)
                tp = TopicProps(
                    topic,
                    spec.kafka.partitions,
                    spec.kafka.replication_factor,
                    created_by_engine=False,
                    avro_sides=("key", "value") if src.format == "avro" else (),
                )
                topics[t] = g.add(
                    topic_node(
                        tp,
                        {"producer": conn.name, "table": f"{src.user.name}.{t}", "format": src.format},
                        spec_hash([topic, src.format, conn.name]),
                    ),
                    ck,
                )
        return topics

    # ------------------------------------------------------------------ provisioning
    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        obj: OracleObject = node.desired
        oracle = resources.oracle
        with oracle.admin_client() as admin:
            state = cat.read_catalog(obj.source, admin.query)
            planned = oplan.plan(obj.source, state, user_password=oracle.password)
            mine = partition(obj.source, planned)[obj.part]
            creates = {"role", "user", "table"}
            action = "unchanged" if not mine else ("created" if any(s.kind in creates for s in mine) else "updated")
            displays = [s.display for s in mine]
            md: dict[str, Any] = {"statements": len(mine)}
            if dry_run:
                return Outcome(node.name, would(action), displays, md)
            results = admin.apply(mine) if mine else []
        applied = [r.display for r in results if str(r.outcome) == "applied"]
        md["applied"] = len(applied)
        if mine and not applied:
            action = "unchanged"  # every statement was an "already exists" no-op
        return Outcome(node.name, action, applied, md)

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        from pipeline_defs.systems.oracle.checks import oracle_checks

        return oracle_checks(node, lineage)

    # ------------------------------------------------------------------ data
    def source_counts(self, spec: Any, resources: Any, agg: registry.AggregateOutput, since_ms: int | None) -> dict[tuple[str, int], int]:
        src: OracleSource = spec.source
        for name in (src.user.name, agg.source_table, agg.group_by, agg.event_time):
            ident(name)  # validated by the spec; asserted again before it reaches SQL
        g, ts, qualified = agg.group_by, agg.event_time, f"{src.user.name}.{agg.source_table}"
        with resources.oracle.client() as client:
            newest = client.query(f"SELECT {g} AS GROUP_VALUE, MAX({ts}) AS EVENT_TIME FROM {qualified} GROUP BY {g}")
            recent = (
                []
                if since_ms is None
                else client.query(
                    f"SELECT {g} AS GROUP_VALUE, {ts} AS EVENT_TIME FROM {qualified} WHERE {ts} >= :since",
                    {"since": dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC).replace(tzinfo=None)},
                )
            )
        rows = rows_with_newest(
            [(r["GROUP_VALUE"], r["EVENT_TIME"]) for r in recent], [(r["GROUP_VALUE"], r["EVENT_TIME"]) for r in newest]
        )
        return count_windows(rows, agg.window_ms)

    def insert_demo_rows(self, spec: Any, resources: Any) -> dict[str, int]:
        src: OracleSource = spec.source
        applied = unchanged = 0
        with resources.oracle.admin_client() as admin:
            for table in src.tables:
                stmts = [cat.insert_statement(src.user.name, table, row) for row in table.demo_rows]
                for r in admin.apply(stmts):
                    if str(r.outcome) == "applied":
                        applied += 1
                    else:
                        unchanged += 1
        return {"inserted": applied, "already_present": unchanged}


def rows_with_newest(recent: list[tuple[str, Any]], newest: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The recent rows plus each group's newest row, unless that group is among the recent ones."""
    rows = [r for r in recent if r[1] is not None]
    seen = {name for name, _ in rows}
    return rows + [r for r in newest if r[1] is not None and r[0] not in seen]
