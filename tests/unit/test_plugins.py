"""The plug-in registry: the spec's unions come from the registered packages, unknown kinds are
refused with the field named, and dispatch follows the spec's kind, not a hard-coded system."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Lineage, LineageNode
from pipeline_defs.core.outcome import Outcome
from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import SpecError, parse_spec
from pipeline_defs.spec.fields import Model

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _doc() -> dict:
    return yaml.safe_load((REPO / "pipeline.yaml").read_text())


@pytest.mark.parametrize("section", ["source", "engine"])
def test_unknown_kind_is_a_clear_spec_error(section):
    doc = _doc()
    doc[section]["kind"] = "teradata"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "p.yaml")
    msg = str(e.value)
    assert msg.startswith(f"p.yaml: {section}.kind: 'teradata' is not a known kind"), msg
    assert "oracle" in msg if section == "source" else "ksqldb" in msg


def test_missing_kind_names_the_field():
    doc = _doc()
    del doc["engine"]["kind"]
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "p.yaml")
    assert "p.yaml: engine.kind: required field is missing" in str(e.value)


def test_unknown_key_in_a_union_member_lists_that_members_keys():
    doc = _doc()
    doc["source"]["tablespace"] = "USERS"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "p.yaml")
    msg = str(e.value)
    assert "p.yaml: source.tablespace: unknown key 'tablespace' (allowed: kind, flavor, database" in msg


class StubEngineSpec(Model):
    kind: Literal["stub"]
    aggregate: str
    source_table: str


class StubEngine(registry.EnginePlugin):
    """A test-only engine: one aggregate over one table, provisioned into a list."""

    name = kind = "stub"
    model = StubEngineSpec
    resource_keys = frozenset()
    provisioned: list[str] = []

    def cross_validate(self, spec: Any, tables) -> registry.Problems:
        return [] if spec.engine.source_table in tables else [("engine.source_table", "unknown table")]

    def aggregates(self, spec: Any) -> list[registry.AggregateOutput]:
        e = spec.engine
        return [
            registry.AggregateOutput(
                e.aggregate, f"stub.{e.aggregate}", e.source_table, "NAME", "EVENTTIMESTAMP", 60_000, 0, "NAME", "N", "S", "E", None, "JSON"
            )
        ]

    def lineage(self, spec: Any, g: GraphBuilder, topics) -> dict:
        e = spec.engine
        key = g.add(LineageNode(("stub", e.aggregate), "stub_job", e.aggregate, "stub", "stub", desired=e), topics[e.source_table])
        return {e.aggregate: key}

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        self.provisioned.append(node.name)
        return Outcome(node.name, "would_create" if dry_run else "created", ["start stub job"])


@pytest.fixture
def stub_engine():
    plugin = registry.register(StubEngine())
    yield plugin
    registry.unregister(plugin)


def test_a_registered_engine_is_the_one_the_lineage_and_provisioning_use(stub_engine):
    doc = _doc()
    doc["engine"] = {"kind": "stub", "aggregate": "CLICKS", "source_table": "POC_CLICKSTREAM"}
    doc["sinks"][0]["object"] = "CLICKS"
    spec = parse_spec(yaml.safe_dump(doc), "stub.yaml")
    lineage = build_lineage(spec)
    stub_nodes = lineage.by_system("stub")
    assert [n.name for n in stub_nodes] == ["CLICKS"]
    assert lineage.by_system("ksqldb") == []
    # the stub's output feeds the sink exactly as ksqlDB's aggregate topic would
    sink = next(n for n in lineage.by_system("connect") if n.desired.role == "sink")
    assert sink.desired.config["topics"] == "stub.CLICKS"
    assert lineage.deps(sink.key) == [stub_nodes[0].key]
    # provisioning dispatches on node.system
    out = registry.system(stub_nodes[0].system).provision(stub_nodes[0], lineage, None, dry_run=True)
    assert out.action == "would_create" and stub_engine.provisioned == ["CLICKS"]
    # and the engine's own rules run: an unknown table is refused with its field
    doc["engine"]["source_table"] = "NOPE"
    with pytest.raises(SpecError, match=r"stub.yaml: engine.source_table: unknown table"):
        parse_spec(yaml.safe_dump(doc), "stub.yaml")


def test_unregistering_removes_the_union_member(stub_engine):
    registry.unregister(stub_engine)
    doc = _doc()
    doc["engine"] = {"kind": "stub", "aggregate": "CLICKS", "source_table": "POC_CLICKSTREAM"}
    with pytest.raises(SpecError, match=r"engine\.kind: 'stub' is not a known kind"):
        parse_spec(yaml.safe_dump(doc), "stub.yaml")
    registry.register(stub_engine)  # the fixture unregisters it again


def test_generic_layers_never_name_a_system():
    """lineage, assets, checks, jobs, sensors, definitions and the spec assembly ask the registry."""
    names = ["oracle", "ksqldb", "postgres", "flink", "redis", "connect", "kafka", "debezium", "confluent"]
    for mod in [
        "lineage.py",
        "assets.py",
        "checks.py",
        "jobs.py",
        "sensors.py",
        "definitions.py",
        "wiring.py",
        "spec/model.py",
        "spec/loader.py",
        "core/registry.py",
        "core/nodes.py",
    ]:
        code = (REPO / "pipeline_defs" / mod).read_text()
        for n in names:
            # no import of a system package, no dispatch on a system's kind or name
            assert f"systems.{n}" not in code, f"{mod} imports the {n} package"
            assert f'== "{n}"' not in code and f"== '{n}'" not in code, f"{mod} dispatches on {n}"
            assert f'["{n}"]' not in code, f"{mod} looks {n} up by name"
