"""The sensor does not act on a connector that a queued or running run already acts on."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline_defs import defs
from pipeline_defs.systems.connect.health import in_flight as _in_flight

pytestmark = pytest.mark.unit


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def queue(instance, job: str, run_config: dict, tags: dict | None = None):
    return instance.create_run_for_job(defs.resolve_job_def(job), run_config=run_config, tags=tags or {})


def test_tagged_sensor_run(instance):
    queue(
        instance,
        "restart_connectors",
        {"ops": {"restart": {"config": {"connectors": ["clickstream_avro"]}}}},
        {"cdc/connector": "clickstream_avro"},
    )
    assert _in_flight(instance, "clickstream_avro") and not _in_flight(instance, "userdata_avro")


def test_manual_run_naming_the_connector_or_all(instance):
    queue(instance, "reregister_connectors", {"ops": {"reregister": {"config": {"connectors": ["userdata_avro"]}}}})
    assert _in_flight(instance, "userdata_avro") and not _in_flight(instance, "clickstream_avro")
    queue(instance, "reregister_connectors", {"ops": {"reregister": {"config": {"connectors": []}}}})
    assert _in_flight(instance, "clickstream_avro")  # empty selection = every connector


def test_finished_runs_do_not_count(instance):
    run = queue(
        instance,
        "restart_connectors",
        {"ops": {"restart": {"config": {"connectors": ["clickstream_avro"]}}}},
        {"cdc/connector": "clickstream_avro"},
    )
    instance.report_run_canceled(run)
    assert not _in_flight(instance, "clickstream_avro")


def test_a_run_does_not_count_itself(instance):
    run = queue(
        instance,
        "reregister_connectors",
        {"ops": {"reregister": {"config": {"connectors": ["userdata_avro"]}}}},
        {"cdc/connector": "userdata_avro"},
    )
    assert _in_flight(instance, "userdata_avro")
    assert not _in_flight(instance, "userdata_avro", exclude_run_id=run.run_id)
    other = queue(instance, "restart_connectors", {"ops": {"restart": {"config": {"connectors": []}}}})
    # another (manual, every connector) run still counts
    assert _in_flight(instance, "userdata_avro", exclude_run_id=run.run_id)
    assert not _in_flight(instance, "clickstream_avro", exclude_run_id=other.run_id)
