"""A third table and a second aggregate are a spec edit (tests/specs/three_tables.yaml)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.spec import load_spec
from tests.unit.spec_support import (
    THREE,
    aggregate,
    cdc_topic,
    ksql_statements,
    redis_keys,
    sink_connector_configs,
    source_connector_configs,
    table_select_grants,
)

pytestmark = pytest.mark.unit


def test_three_tables_spec(three):
    assert [t.name for t in three.source.tables] == ["POC_USERDATA", "POC_CLICKSTREAM", "POC_PURCHASES"]
    assert three.source.tables[2].demo_rows[1]["PURCHASEDAT"] == dt.datetime(2024, 5, 1, 10, 0)
    assert table_select_grants(three)[-1] == ("SELECT", "C##MYUSER.POC_PURCHASES", "C##CDC_PRIVS")
    assert cdc_topic(three, "POC_PURCHASES") == "ORCLCDB.C__MYUSER.POC_PURCHASES"
    names = [s.name for s in ksql_statements(three)]
    assert names.index("POC_PURCHASES_STREAM") < names.index("PURCHASES_PER_USER")
    assert names.index("POC_CLICKSTREAM_STREAM") < names.index("USER_AGGREGATE_EVENTS")
    agg = {s.name: s.statement for s in ksql_statements(three)}["PURCHASES_PER_USER"]
    assert "WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS)" in agg
    assert "AS_VALUE(NAME) AS BUYER" in agg and "KAFKA_TOPIC='purchases-per-user'" in agg
    purchases_stream = {s.name: s.statement for s in ksql_statements(three)}["POC_PURCHASES_STREAM"]
    assert "PURCHASEID STRING KEY" in purchases_stream and "TIMESTAMP='PURCHASEDAT'" in purchases_stream
    sinks = sink_connector_configs(three)
    assert sinks["redis-sink-purchases"]["topics"] == "purchases-per-user"
    assert sinks["redis-sink-purchases"]["transforms.extractKey.field"] == "BUYER"
    purchases = redis_keys(three, "redis-sink-purchases")
    assert purchases.shape.key_prefix + "jdoe" == "purchases-per-user:jdoe"
    assert list(purchases.expected_keys) == ["purchases-per-user:jdoe", "purchases-per-user:rsmith"]
    agg = aggregate(three, "PURCHASES_PER_USER")
    assert (agg.window_ms, agg.grace_ms) == (300_000, 30_000) and purchases.shape.window_ms == 300_000
    g = lineage(three)
    assert (("kafka", "purchases-per-user"), ("connect", "redis-sink-purchases")) in g.edges
    assert (("oracle", "table", "POC_PURCHASES"), ("connect", "oracle-cdc-purchases")) in g.edges
    assert g.deps(("connect", "oracle-cdc-main")) == [("oracle", "table", "POC_USERDATA"), ("oracle", "table", "POC_CLICKSTREAM")]
    # the same spec with the other flavor and format
    s = load_spec(THREE, env={"CDC_SOURCE_FLAVOR": "confluent", "CDC_FORMAT": "avro"})
    assert ksql_statements(s)[-1].statement.count("'AVRO'") == 2
    assert set(source_connector_configs(s)) == {"oracle-cdc-main", "oracle-cdc-purchases"}
