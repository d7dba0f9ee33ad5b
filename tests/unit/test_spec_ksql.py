"""The ksqlDB statements derived from the spec: the seed's objects, the change-aware deltas stream, the windowed
aggregate, and the JSON format.
"""

from __future__ import annotations

import re

import pytest

from pipeline_defs.core import registry
from pipeline_defs.spec import load_spec
from pipeline_defs.systems.ksqldb.plugin import KsqlDbPlugin
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from tests.unit.spec_seed import SEED_KSQL
from tests.unit.spec_support import DEFAULT, aggregate, ksql_statements

pytestmark = pytest.mark.unit


def _columns(statement: str) -> list[tuple[str, str]]:
    body = statement[statement.index("(") + 1 : statement.index(") WITH")]
    return [tuple(c.split()[:2]) for c in body.replace("\n", " ").split(",") if c.strip()]


def test_ksql_statements(spec):
    stmts = ksql_statements(spec)
    assert [(s.name, s.kind) for s in stmts] == [
        ("POC_USERDATA_STREAM", "table"),
        ("POC_CLICKSTREAM_STREAM", "stream"),
        ("POC_CLICKSTREAM_DELTAS", "stream"),
        ("USER_AGGREGATE_EVENTS", "table"),
    ]
    by = {s.name: s.statement for s in stmts}
    # same columns, types and keys as the seed's CREATE statements, plus the change columns of the clicks
    change_cols = {"POC_CLICKSTREAM_STREAM": [("OP_TYPE", "STRING"), ("BEFORE_STATE", "STRUCT<NAME")]}
    for name, body in re.findall(r"CREATE (?:TABLE|STREAM) (\w+) \((.*?)\) WITH", SEED_KSQL, re.S):
        seed_cols = [tuple(c.split()[:2]) for c in body.split(",")]
        assert _columns(by[name])[: len(seed_cols) + len(change_cols.get(name, []))] == seed_cols + change_cols.get(name, [])
    assert "ID STRING PRIMARY KEY" in by["POC_USERDATA_STREAM"]
    assert "KEY_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"] and "VALUE_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"]
    click = by["POC_CLICKSTREAM_STREAM"]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in click and "EVENTTIMESTAMP BIGINT" in click
    agg = by["USER_AGGREGATE_EVENTS"]
    for frag in (
        "KAFKA_TOPIC='USER_AGGREGATE_EVENTS'",
        "AS_VALUE(NAME) AS USER_NAME",
        "SUM(DELTA) AS EVENT_COUNT",
        "WINDOWSTART AS WINDOW_START",
        "WINDOWEND AS WINDOW_END",
        "FROM POC_CLICKSTREAM_DELTAS",
        "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE)",
        "GROUP BY NAME",
    ):
        assert frag in agg, frag
    deltas = by["POC_CLICKSTREAM_DELTAS"]
    for frag in (
        "TIMESTAMP='EVENTTIMESTAMP'",
        "CASE WHEN OP_TYPE = 'D' THEN CAST(-1 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS DELTA",
        "INSERT INTO POC_CLICKSTREAM_DELTAS\nSELECT\n  BEFORE_STATE->NAME AS NAME,\n  BEFORE_STATE->EVENTTIMESTAMP AS EVENTTIMESTAMP",
        "WHERE OP_TYPE = 'U'",
    ):
        assert frag in deltas, frag
    for s in stmts:
        assert s.statement.startswith(f"CREATE {s.kind.upper()} IF NOT EXISTS {s.name}")
        assert s.statement.endswith(";") and s.statement.count(";") == (2 if s.name == "POC_CLICKSTREAM_DELTAS" else 1)
        assert "--" not in s.statement and "/*" not in s.statement
    assert KsqlCompiler(spec).properties() == {"auto.offset.reset": "earliest"}
    cols = KsqlCompiler(spec).object_columns("USER_AGGREGATE_EVENTS")
    assert [(c.name, c.type, c.key) for c in cols] == [
        ("NAME", "STRING", True),
        ("USER_NAME", "STRING", False),
        ("EVENT_COUNT", "BIGINT", False),
        ("WINDOW_START", "BIGINT", False),
        ("WINDOW_END", "BIGINT", False),
    ]
    agg = aggregate(spec, "USER_AGGREGATE_EVENTS")
    assert (agg.window_ms, agg.grace_ms) == (60_000, 60_000)
    assert (agg.source_table, agg.group_by, agg.event_time) == ("POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP")
    assert (agg.name_field, agg.count_field, agg.window_start_field, agg.window_end_field, agg.value_format) == (
        "USER_NAME",
        "EVENT_COUNT",
        "WINDOW_START",
        "WINDOW_END",
        "AVRO",
    )
    assert isinstance(registry.engine_of(spec), KsqlDbPlugin)


def test_json_format_statements():
    s = load_spec(DEFAULT, env={"CDC_FORMAT": "json", "CDC_SOURCE_FLAVOR": "debezium"})
    for st in ksql_statements(s):
        # the key-less deltas stream names no key format
        assert ("KEY_FORMAT='KAFKA'" in st.statement or st.name == "POC_CLICKSTREAM_DELTAS") and "VALUE_FORMAT='JSON'" in st.statement
        assert "AVRO" not in st.statement
