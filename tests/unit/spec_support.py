"""Shared by the spec tests (tests/unit/test_spec_*.py): the spec files, and what the system packages
(pipeline_defs/systems/{oracle,ksqldb,redis,connect}, pipeline_defs/lineage.py) derive from a spec, read the way
provisioning reads it (from the lineage nodes).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipeline_defs.core import registry
from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.systems.connect.props import ConnectorProps
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from pipeline_defs.systems.oracle.connectors import flavor_of, topic_for
from pipeline_defs.systems.oracle.sql import role_grants
from pipeline_defs.systems.redis.plugin import RedisKeysProps

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "pipeline.yaml"
THREE = REPO / "tests" / "specs" / "three_tables.yaml"
NO_ENV: dict[str, str] = {}


def source_connector_configs(spec) -> dict[str, dict[str, str]]:
    return flavor_of(spec.source).connector_configs(spec)


def connector_props(spec) -> dict[str, ConnectorProps]:
    return {n.name: n.desired for n in lineage(spec).by_system("connect")}


def sink_connector_configs(spec) -> dict[str, dict[str, str]]:
    return {name: dict(p.config) for name, p in connector_props(spec).items() if p.role == "sink"}


def ksql_statements(spec):
    return KsqlCompiler(spec).statements()


def cdc_topic(spec, table: str) -> str:
    return topic_for(spec.source, table)


def aggregate(spec, name: str) -> registry.AggregateOutput:
    [agg] = [a for a in registry.engine_of(spec).aggregates(spec) if a.name == name]
    return agg


def redis_keys(spec, sink: str) -> RedisKeysProps:
    [props] = [n.desired for n in lineage(spec).by_kind("redis_keys") if n.desired.sink == sink]
    return props


def table_select_grants(spec) -> list[tuple[str, str, str]]:
    """The derived per-table grants of the CDC role: (privilege, OWNER.TABLE, grantee)."""
    user = spec.source.user.name
    return [
        (g.privilege, f"{g.owner}.{g.object_name}", g.grantee) for g in role_grants(spec.source) if g.kind == "object" and g.owner == user
    ]


def _seed_config(text: str) -> dict[str, str]:
    cfg = json.loads(text)["config"]
    return {k: str(v) for k, v in cfg.items()}


def _doc() -> dict:
    return yaml.safe_load(DEFAULT.read_text())
