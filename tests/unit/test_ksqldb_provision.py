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


def _spec(edit=None):
    doc = yaml.safe_load(default_spec_path(env={}).read_text())
    if edit:
        edit(doc)
    return parse_spec(yaml.safe_dump(doc), "pipeline.yaml")


def _obj(doc, name):
    return next(o for o in doc["engine"]["objects"] if o["name"] == name)


def _props(spec) -> dict:
    return {n.name: n.desired for n in build_lineage(spec).by_system("ksqldb")}


def _writes(double: KsqlDbDouble) -> int:
    return len(double.commands)


@pytest.fixture
def provisioned(ksqldb_double):  # the fixture of tests.doubles.fixtures (a pytest plugin)
    client = KsqlDbClient(ksqldb_double.url)
    outcomes = [provision_object(p, client, dry_run=False) for p in _props(_spec()).values()]
    assert [(o.node, o.action) for o in outcomes] == [("POC_USERDATA_STREAM", "created"), (CLICKS, "created"), (AGG, "created")]
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
        ("event-time", lambda d: _obj(d, CLICKS).pop("timestamp"), CLICKS, ["timestamp EVENTTIMESTAMP != (record time)"]),
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
