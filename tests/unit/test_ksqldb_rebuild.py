"""The ksqlDB engine's rebuild path: which topics a recreated aggregate re-reads (pure), and the
statements it sends, on the ksqlDB double (metastore mode: no Kafka; the data path is tested in
tests/integration/test_rebuild_ksqldb.py)."""

from __future__ import annotations

import pytest

from pipeline_defs.core import registry
from pipeline_defs.spec import default_spec_path, parse_spec
from pipeline_defs.systems.ksqldb.rebuild import rebuild_aggregate, source_topics
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from resources.ksqldb import KsqlDbClient
from tests.doubles.ksqldb_server import KsqlDbDouble

pytestmark = pytest.mark.unit
AGG = "USER_AGGREGATE_EVENTS"
CDC = "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
DELTAS = "POC_CLICKSTREAM_DELTAS"


@pytest.fixture
def spec():
    return parse_spec(default_spec_path().read_text(), "pipeline.yaml")


def test_source_topics_follow_the_aggregate_to_its_cdc_topic(spec):
    topics = source_topics(KsqlCompiler(spec), AGG)
    # the recreated aggregate re-reads the deltas stream's topic from its earliest record; the deltas stream
    # (not recreated) keeps reading the CDC topic: both must still hold every record
    assert topics == {
        CDC: f"the CDC topic {CDC} (read by POC_CLICKSTREAM_STREAM)",
        "POC_CLICKSTREAM_DELTAS": f"the topic POC_CLICKSTREAM_DELTAS of POC_CLICKSTREAM_DELTAS (which {AGG} reads)",
    }
    assert source_topics(KsqlCompiler(spec), "POC_USERDATA_STREAM") == {}  # reads a topic, re-reads nothing


class _Counts:
    def __init__(self, marks):
        self.watermarks = marks


class _Kafka:
    """Topic watermarks as KafkaClient.topic_counts reports them (the refusal needs nothing else
    when no record is left to read)."""

    def __init__(self, marks):
        self.marks = marks

    def topic_counts(self, topics):
        return {t: _Counts(self.marks[t]) for t in topics if t in self.marks}


def _provisioned(spec, ksql):
    from pipeline_defs.lineage import build_lineage

    for node in build_lineage(spec).by_system("ksqldb"):
        ksql.execute(node.desired.statement.statement, dict(node.desired.properties))


def test_terminate_drop_create_from_earliest_then_refusals(spec):
    agg = next(a for a in registry.engine_of(spec).aggregates(spec) if a.name == AGG)
    server = KsqlDbDouble()
    server.start()
    try:
        with KsqlDbClient(server.url) as ksql:
            _provisioned(spec, ksql)
            [old] = [q.id for q in ksql.list_queries() if AGG in q.sinks]
            mark = len(server.requests)
            done = rebuild_aggregate(spec, agg, ksql, _Kafka({CDC: {0: (0, 10)}, DELTAS: {0: (0, 12)}}), wait_seconds=5)
            [new] = [q for q in ksql.list_queries() if AGG in q.sinks]
            assert new.id != old and new.is_running and f"terminated {old}" in done
            posted = [r.json() for r in server.requests[mark:] if r.method == "POST" and r.path == "/ksql"]
            sent = [p for p in posted if p["ksql"].split()[0] in ("TERMINATE", "DROP", "CREATE")]
            assert [s["ksql"].split()[0] for s in sent] == ["TERMINATE", "DROP", "CREATE"]
            assert sent[-1]["streamsProperties"]["auto.offset.reset"] == "earliest"

            writes_before = _writes(server)
            with pytest.raises(
                registry.CannotRebuild, match=rf"the CDC topic {CDC} \(read by POC_CLICKSTREAM_STREAM\) lost its records before offset p0:4"
            ):
                rebuild_aggregate(spec, agg, ksql, _Kafka({CDC: {0: (4, 4)}, DELTAS: {0: (0, 12)}}))
            with pytest.raises(registry.CannotRebuild, match=rf"the CDC topic {CDC} .* does not exist"):
                rebuild_aggregate(spec, agg, ksql, _Kafka({DELTAS: {0: (0, 12)}}))
            with pytest.raises(registry.CannotRebuild, match=rf"the topic {DELTAS} .* lost its records before offset p0:3"):
                rebuild_aggregate(spec, agg, ksql, _Kafka({CDC: {0: (0, 10)}, DELTAS: {0: (3, 3)}}))
            # refused before touching ksqlDB: the running query is left alone
            assert _writes(server) == writes_before
            assert [q.id for q in ksql.list_queries() if AGG in q.sinks] == [new.id]
    finally:
        server.stop()


def _writes(server) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.path == "/ksql" and r.json()["ksql"].split()[0] != "SHOW")
