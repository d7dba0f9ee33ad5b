"""The Avro topics' Schema Registry check (compose profile) against the registry double."""

from __future__ import annotations

import pytest

from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import load_spec
from pipeline_defs.systems.kafka.schemas import schema_checks
from resources.schema_registry import SchemaRegistryResource

pytestmark = pytest.mark.unit

SCHEMA = {"type": "record", "name": "V", "fields": [{"name": "NAME", "type": ["null", "string"], "default": None}]}


def _topic_check():
    lineage = build_lineage(load_spec(env={}))  # the compose spec: Avro, as in the seed
    node = next(n for n in lineage.by_kind("kafka_topic") if n.name.endswith("POC_CLICKSTREAM"))
    assert node.desired.avro_sides == ("key", "value")
    [check] = schema_checks(node)
    return node, check


def test_json_topics_have_no_schema_check():
    lineage = build_lineage(load_spec(env={"CDC_FORMAT": "json"}))
    assert all(schema_checks(n) == [] for n in lineage.by_kind("kafka_topic"))


def test_missing_subjects_then_registered_then_a_frozen_compatibility(schema_registry_double):
    node, check = _topic_check()
    registry = SchemaRegistryResource(url=schema_registry_double.url)
    result = check(schema_registry=registry)
    assert not result.passed
    assert f"{node.name}-key is not registered" in result.metadata["problem"].value
    schema_registry_double.register(f"{node.name}-key", '"string"')
    schema_registry_double.register(f"{node.name}-value", SCHEMA)
    assert check(schema_registry=registry).passed
    schema_registry_double.set_compatibility("NONE", f"{node.name}-value")
    result = check(schema_registry=registry)
    assert not result.passed and "compatibility is NONE" in result.metadata["problem"].value
