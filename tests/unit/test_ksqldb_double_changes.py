"""The ksqlDB double's constructs for the deltas stream (tests/doubles/ksql_expr.py, INSERT INTO, windowed SUM), each
as ksqlDB 0.29 documents it, and the spec rules that guard the deltas stream."""

from __future__ import annotations

import pytest
import yaml

from pipeline_defs.spec import default_spec_path, parse_spec
from pipeline_defs.spec.errors import SpecError
from resources.ksqldb import KsqlDbClient, KsqlStatementError
from tests.doubles.ksql_expr import evaluate, parse_cond, parse_expr, truth, type_of
from tests.doubles.ksql_lexical import SqlError
from tests.doubles.ksql_windowed_count import WindowedCount

pytestmark = pytest.mark.unit

CLICKS = (
    "CREATE STREAM CLICKS (EVENTID STRING, NAME STRING, TS BIGINT, OP_TYPE STRING, "
    "BEFORE_STATE STRUCT<NAME STRING, TS BIGINT>) WITH (KAFKA_TOPIC='clicks', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON', "
    "TIMESTAMP='TS');"
)
DELTAS = (
    "CREATE STREAM DELTAS WITH (KAFKA_TOPIC='deltas', VALUE_FORMAT='JSON', TIMESTAMP='TS') AS SELECT NAME, TS, "
    "CASE WHEN OP_TYPE = 'D' THEN CAST(-1 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS DELTA FROM CLICKS EMIT CHANGES;"
)
INSERT = (
    "INSERT INTO DELTAS SELECT BEFORE_STATE->NAME AS NAME, BEFORE_STATE->TS AS TS, CAST(-1 AS BIGINT) AS DELTA "
    "FROM CLICKS WHERE OP_TYPE = 'U' EMIT CHANGES;"
)
TYPES = {"NAME": "STRING", "TS": "BIGINT", "OP_TYPE": "STRING", "BEFORE_STATE": "STRUCT<`NAME` STRING, `TS` BIGINT>"}


def test_expressions_evaluate_as_ksqldb_documents():
    case = parse_expr("CASE WHEN OP_TYPE = 'D' THEN CAST(-1 AS BIGINT) ELSE CAST(1 AS BIGINT) END")
    assert type_of(case, TYPES) == "BIGINT"
    assert [evaluate(case, {"OP_TYPE": op}) for op in ("I", "U", "D", "R", None)] == [1, 1, -1, 1, 1]
    deref = parse_expr("BEFORE_STATE->NAME")
    assert type_of(deref, TYPES) == "STRING"
    assert evaluate(deref, {"BEFORE_STATE": {"NAME": "jdoe", "TS": 5}}) == "jdoe"
    assert evaluate(deref, {"BEFORE_STATE": None}) is None  # a NULL struct dereferences to NULL
    where = parse_cond("OP_TYPE = 'U'")
    assert truth(where, {"OP_TYPE": "U"}) and not truth(where, {"OP_TYPE": "I"})
    assert not truth(where, {"OP_TYPE": None})  # NULL = 'U' is not TRUE
    assert evaluate(parse_expr("CAST(NULL AS BIGINT)"), {}) is None


@pytest.mark.parametrize(
    "text,message",
    [
        ("CASE WHEN OP_TYPE = 'D' THEN 'x' ELSE CAST(1 AS BIGINT) END", "Type for all 'THEN' and 'ELSE' clauses should be the same"),
        ("BEFORE_STATE->MISSING", "Could not find field 'MISSING'"),
        ("NAME->X", "Expected STRUCT type"),
        ("UNKNOWN_COL", "cannot be resolved"),
    ],
)
def test_expressions_ksqldb_refuses_are_refused(text, message):
    with pytest.raises(SqlError, match=message):
        type_of(parse_expr(text), TYPES)


def test_windowed_sum_adds_the_deltas():
    w = WindowedCount(60_000, 60_000, cache_max_bytes=0)
    for ts, delta in ((1_000, 1), (2_000, 1), (3_000, -1), (61_000, 1)):
        w.add("jdoe", b"jdoe", ts, 0, delta)
    assert w.counts() == {("jdoe", 0): 1, ("jdoe", 60_000): 1}


def test_insert_into_is_a_second_writer_that_blocks_drop(ksqldb_double):
    with KsqlDbClient(ksqldb_double.url) as client:
        client.execute(CLICKS)
        client.execute(DELTAS + "\n" + INSERT)
        d = client.describe("DELTAS")
        assert [(f.name, f.type) for f in d.fields] == [("NAME", "STRING"), ("TS", "BIGINT"), ("DELTA", "BIGINT")]
        assert d.raw["timestamp"] == "TS"
        assert sorted(q.id.split("_")[0] for q in d.write_queries) == ["CSAS", "INSERTQUERY"]
        with pytest.raises(KsqlStatementError, match="write into this source: \\[INSERTQUERY_"):
            client.drop("STREAM", "DELTAS")
        with pytest.raises(KsqlStatementError, match="Cannot drop CLICKS"):
            client.drop("STREAM", "CLICKS")
        # the result schema must equal the target's (insert-into.md)
        with pytest.raises(KsqlStatementError, match="Incompatible schema between results and sink"):
            client.execute("INSERT INTO DELTAS SELECT NAME, TS FROM CLICKS EMIT CHANGES;")
        client.execute("CREATE TABLE T1 (ID STRING PRIMARY KEY, V STRING) WITH (KAFKA_TOPIC='t1', VALUE_FORMAT='JSON');")
        with pytest.raises(KsqlStatementError, match="INSERT INTO can only be used to insert into a stream"):
            client.execute("INSERT INTO T1 SELECT NAME AS ID, OP_TYPE AS V FROM CLICKS EMIT CHANGES;")


def _spec_with(edit):
    doc = yaml.safe_load(default_spec_path(env={}).read_text())
    edit(doc)
    return parse_spec(yaml.safe_dump(doc), "pipeline.yaml")


def _obj(doc, name):
    return next(o for o in doc["engine"]["objects"] if o["name"] == name)


@pytest.mark.parametrize(
    "edit,path,reason",
    [
        (lambda d: _obj(d, "POC_CLICKSTREAM_STREAM").pop("changes"), "engine.objects[2].deltas.from", "declares no 'changes'"),
        (lambda d: _obj(d, "POC_CLICKSTREAM_STREAM").pop("timestamp"), "engine.objects[2].deltas.from", "no event-time 'timestamp'"),
        (
            lambda d: _obj(d, "POC_CLICKSTREAM_DELTAS")["deltas"].update({"from": "POC_USERDATA_STREAM"}),
            "engine.objects[2].deltas.from",
            "must be a stream over a CDC topic",
        ),
        (
            lambda d: _obj(d, "POC_CLICKSTREAM_DELTAS")["deltas"].update(group_by="ID"),
            "engine.objects[3].aggregate.group_by",
            "carries 'ID', not 'NAME'",
        ),
        (
            lambda d: _obj(d, "POC_CLICKSTREAM_DELTAS")["deltas"].update(delta_as="NAME"),
            "engine.objects[2].deltas.delta_as",
            "already a column",
        ),
        (
            lambda d: _obj(d, "POC_CLICKSTREAM_STREAM")["changes"].update(op_type="NAME"),
            "engine.objects[1].changes.op_type",
            "already a column",
        ),
    ],
)
def test_deltas_spec_errors_name_the_field(edit, path, reason):
    with pytest.raises(SpecError) as err:
        _spec_with(edit)
    assert any(p == path and reason in r for p, r in err.value.problems), err.value.problems
