"""The lineage graph derived from the spec (pipeline_defs/lineage.py) and the spec hash."""

from __future__ import annotations

import itertools
import re

import pytest

from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.spec import load_spec, spec_hash
from tests.unit.spec_support import DEFAULT, NO_ENV

pytestmark = pytest.mark.unit


def test_lineage_graph(spec):
    g = lineage(spec)
    keys = [n.key for n in g.nodes]
    assert len(keys) == len(set(keys))
    for k in keys:
        assert all(re.fullmatch(r"[A-Za-z0-9_\-]+", part) for part in k), k
    chain = [
        ("oracle", "role", "C__CDC_PRIVS"),
        ("oracle", "user", "C__MYUSER"),
        ("oracle", "table", "POC_CLICKSTREAM"),
        ("connect", "clickstream_avro"),
        ("kafka", "ORCLCDB_C__MYUSER_POC_CLICKSTREAM"),
        ("ksqldb", "POC_CLICKSTREAM_STREAM"),
        ("ksqldb", "POC_CLICKSTREAM_DELTAS"),
        ("ksqldb", "USER_AGGREGATE_EVENTS"),
        ("kafka", "USER_AGGREGATE_EVENTS"),
        ("connect", "redis-sink-json"),
        ("redis", "USER_AGGREGATE_EVENTS"),
    ]
    for up, down in itertools.pairwise(chain):
        assert (up, down) in g.edges, (up, down)
    topic = g.node(("kafka", "ORCLCDB_C__MYUSER_POC_CLICKSTREAM"))
    assert topic.metadata["topic"] == topic.name == "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
    assert g.deps(("ksqldb", "POC_USERDATA_STREAM")) == [("kafka", "ORCLCDB_C__MYUSER_POC_USERDATA")]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in g.node(("ksqldb", "POC_CLICKSTREAM_STREAM")).metadata["statement"]
    assert g.node(("redis", "USER_AGGREGATE_EVENTS")).metadata["key_pattern"] == "USER_AGGREGATE_EVENTS:*"
    assert {n.kind for n in g.nodes} == {
        "oracle_role",
        "oracle_user",
        "oracle_table",
        "source_connector",
        "kafka_topic",
        "ksql_table",
        "ksql_stream",
        "sink_connector",
        "redis_keys",
    }
    assert all(n.code_version for n in g.nodes)
    # every edge joins known nodes; every non-root node has an upstream
    assert all(a in keys and b in keys for a, b in g.edges)
    assert [n.key for n in g.nodes if not g.deps(n.key)] == [("oracle", "role", "C__CDC_PRIVS")]


def test_spec_hash_is_stable_and_sensitive(spec):
    again = load_spec(DEFAULT, env=NO_ENV)
    assert spec_hash(spec) == spec_hash(again)
    assert re.fullmatch(r"[0-9a-f]{16}", spec_hash(spec))
    assert spec_hash({"a": 1, "b": 2}) == spec_hash({"b": 2, "a": 1})
    changed = load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium"})
    assert spec_hash(spec) != spec_hash(changed)
    g1, g2 = lineage(spec), lineage(changed)
    # the flavor changes connector assets, not the ksqlDB objects
    assert g1.node(("connect", "userdata_avro")).code_version != g2.node(("connect", "userdata_avro")).code_version
    assert g1.node(("ksqldb", "USER_AGGREGATE_EVENTS")).code_version == g2.node(("ksqldb", "USER_AGGREGATE_EVENTS")).code_version
