"""ksqlDB provisioning (pipeline_defs/systems/ksqldb/provision.py) against the ksqlDB double: read with
DESCRIBE EXTENDED, compare, DROP + CREATE only on a difference. Drift covers kind, columns and formats and,
read back from the stored statement, the topic, the event-time column and the window's size and grace."""

from __future__ import annotations

import pytest
import yaml

from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import default_spec_path, parse_spec
from pipeline_defs.systems.ksqldb.provision import data_facts, describe, drift, provision_object
from resources.ksqldb import KsqlDbClient
from tests.doubles.ksqldb_server import KsqlDbDouble

pytestmark = pytest.mark.unit

AGG = "USER_AGGREGATE_EVENTS"
CLICKS = "POC_CLICKSTREAM_STREAM"
DELTAS = "POC_CLICKSTREAM_DELTAS"


def _spec(edit=None):
    doc = yaml.safe_load(default_spec_path(env={}).read_text())
    if edit:
        edit(doc)
    return parse_spec(yaml.safe_dump(doc), "pipeline.yaml")


def _obj(doc, name):
    return next(o for o in doc["engine"]["objects"] if o["name"] == name)


def _no_deltas(doc) -> None:
    """The spec of a COUNT over the change records (no deltas stream): what the seed built."""
    doc["engine"]["objects"].remove(_obj(doc, DELTAS))
    _obj(doc, CLICKS).pop("changes")
    _obj(doc, AGG)["aggregate"]["from"] = CLICKS


def _props(spec) -> dict:
    return {n.name: n.desired for n in build_lineage(spec).by_system("ksqldb")}


def _writes(double: KsqlDbDouble) -> int:
    return len(double.commands)


@pytest.fixture
def provisioned(ksqldb_double):  # the fixture of tests.doubles.fixtures (a pytest plugin)
    client = KsqlDbClient(ksqldb_double.url)
    outcomes = [provision_object(p, client, dry_run=False) for p in _props(_spec()).values()]
    assert [(o.node, o.action) for o in outcomes] == [
        ("POC_USERDATA_STREAM", "created"),
        (CLICKS, "created"),
        (DELTAS, "created"),
        (AGG, "created"),
    ]
    yield ksqldb_double, client
    client.close()


def test_second_run_is_unchanged_and_writes_nothing(provisioned):
    double, client = provisioned
    before = _writes(double)
    for p in _props(_spec()).values():
        assert drift(p, describe(client, p.name)) == []
        out = provision_object(p, client, dry_run=False)
        assert (out.action, out.changes, out.writes) == ("unchanged", [], 0)
    assert _writes(double) == before


def test_data_facts_read_back_from_the_stored_statement(provisioned):
    _, client = provisioned
    assert data_facts(describe(client, AGG).statement) == {
        "KAFKA_TOPIC": AGG,
        "TIMESTAMP": "(record time)",
        "READS": DELTAS,
        "AGGREGATE": "SUM(DELTA)",
        "WINDOW SIZE": "1 MINUTE",
        "GRACE PERIOD": "1 MINUTE",
    }
    assert data_facts(describe(client, CLICKS).statement) == {
        "KAFKA_TOPIC": "ORCLCDB.C__MYUSER.POC_CLICKSTREAM",
        "TIMESTAMP": "EVENTTIMESTAMP",
    }


@pytest.mark.parametrize(
    "case,edit,name,expected",
    [
        ("window-size", lambda d: _obj(d, AGG)["aggregate"]["window"].update(size="2 MINUTES"), AGG, ["window size 1 MINUTE != 2 MINUTE"]),
        ("grace", lambda d: _obj(d, AGG)["aggregate"]["window"].update(grace="30 SECONDS"), AGG, ["grace period 1 MINUTE != 30 SECOND"]),
        (
            "event-time",
            lambda d: _no_deltas(d) or _obj(d, CLICKS).pop("timestamp"),
            CLICKS,
            [
                "columns: missing [], unexpected [('BEFORE_STATE', 'STRUCT<NAMESTRING,EVENTTIMESTAMPBIGINT>', False), ('OP_TYPE', 'STRING', False)]",
                "timestamp EVENTTIMESTAMP != (record time)",
            ],
        ),
        ("topic", lambda d: _obj(d, AGG).update(topic="user-aggregates-v2"), AGG, ["topic USER_AGGREGATE_EVENTS != user-aggregates-v2"]),
    ],
)
def test_a_change_that_alters_the_data_is_drift(provisioned, case, edit, name, expected):
    double, client = provisioned
    p = _props(_spec(edit))[name]
    assert drift(p, describe(client, name)) == expected
    before = _writes(double)
    plan = provision_object(p, client, dry_run=True)
    assert plan.action == "would_update" and plan.metadata["drift"] == expected
    assert plan.changes[0].startswith(f"DROP {'TABLE' if p.kind == 'table' else 'STREAM'} {name} (")
    assert plan.changes[1] == p.statement.statement
    assert _writes(double) == before  # the plan wrote nothing


def test_drifted_window_is_recreated_then_unchanged(provisioned):
    double, client = provisioned
    p = _props(_spec(lambda d: _obj(d, AGG)["aggregate"]["window"].update(size="5 MINUTES")))[AGG]
    out = provision_object(p, client, dry_run=False)
    assert out.action == "updated" and out.metadata["drift"] == ["window size 1 MINUTE != 5 MINUTE"]
    assert any(c.upper().startswith(f"DROP TABLE IF EXISTS {AGG}") and "DELETE TOPIC" not in c.upper() for c in double.commands)
    assert data_facts(describe(client, AGG).statement)["WINDOW SIZE"] == "5 MINUTE"
    assert out.metadata["query_state"] == "RUNNING"
    again = provision_object(p, client, dry_run=False)
    assert (again.action, again.writes) == ("unchanged", 0)


SEED_AGGREGATE = """CREATE TABLE USER_AGGREGATE_EVENTS WITH (KAFKA_TOPIC='USER_AGGREGATE_EVENTS', KEY_FORMAT='AVRO',
VALUE_FORMAT='AVRO') AS SELECT NAME, AS_VALUE(NAME) AS USER_NAME, COUNT(*) AS EVENT_COUNT, WINDOWSTART AS WINDOW_START,
WINDOWEND AS WINDOW_END FROM POC_CLICKSTREAM_STREAM WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE) GROUP BY NAME
EMIT CHANGES;"""


def test_a_count_of_change_records_is_drift_from_the_count_of_rows(provisioned):
    """An aggregate counting change records (the seed's COUNT(*) over the CDC stream, where an UPDATE or
    DELETE is one more click) is not the spec's SUM of deltas: drift names what reads what."""
    double, client = provisioned
    client.drop("TABLE", AGG)
    client.execute(SEED_AGGREGATE)
    p = _props(_spec())[AGG]
    assert drift(p, describe(client, AGG)) == ["aggregate COUNT(*) != SUM(DELTA)", f"reads {CLICKS} != {DELTAS}"]
    out = provision_object(p, client, dry_run=False)
    assert out.action == "updated"
    assert data_facts(describe(client, AGG).statement)["AGGREGATE"] == "SUM(DELTA)"
    assert provision_object(p, client, dry_run=False).action == "unchanged"


def test_deltas_without_their_insert_writer_are_drift_and_recreated(provisioned):
    """The deltas stream has two writers; a missing INSERT INTO (an update's retraction) is drift, and
    provisioning terminates INSERT queries before the DROP (ksqlDB refuses to drop a stream they write)."""
    double, client = provisioned
    p = _props(_spec())[DELTAS]
    writers = describe(client, DELTAS).write_queries
    assert sorted(q.id.split("_")[0] for q in writers) == ["CSAS", "INSERTQUERY"]
    insert = next(q.id for q in writers if q.id.startswith("INSERTQUERY_"))
    client.drop("TABLE", AGG)  # its reader: a stream read by a table cannot be dropped either
    with pytest.raises(Exception, match="write into this source"):
        client.drop("STREAM", DELTAS)
    client.terminate(insert)
    found = drift(p, describe(client, DELTAS))
    assert len(found) == 1 and found[0].startswith("missing writer: INSERT INTO POC_CLICKSTREAM_DELTAS SELECT BEFORE_STATE->NAME")
    out = provision_object(p, client, dry_run=False)
    assert out.action == "updated"
    assert drift(p, describe(client, DELTAS)) == []
    # the old deltas would be counted again by the recreated queries: their topic goes with the stream
    assert double.deleted_topics == [DELTAS]
    # with both writers again, an update terminates the INSERT query itself before its DROP
    stale = _props(_spec(lambda d: _obj(d, DELTAS)["deltas"].update(delta_as="CHANGE")))[DELTAS]
    assert provision_object(stale, client, dry_run=False).action == "updated"
    assert sorted(q.id.split("_")[0] for q in describe(client, DELTAS).write_queries) == ["CSAS", "INSERTQUERY"]
