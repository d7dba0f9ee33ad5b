"""Offsets as code on a real connector of the local stack: connector_offsets lists, alter_connector_offsets
moves a sink back (stop, PATCH, resume) and it resumes from exactly there, reset_connector_offsets
starts it over from the earliest offset; a connector created STOPPED (KIP-980) is a valid end state of
apply_connector."""

from __future__ import annotations

import json
import time
import uuid

import dagster as dg
import pytest

from pipeline_defs.systems.connect import offsets as off
from pipeline_defs.systems.connect.offset_jobs import offset_jobs
from pipeline_defs.systems.connect.props import ConnectorProps, connector_node
from pipeline_defs.systems.connect.provision import apply_connector
from resources.connect import KafkaConnectResource

pytestmark = pytest.mark.integration
SINK_CLASS = "com.cdcplane.redis.RedisJsonSinkConnector"


def _wait(what, fn, timeout=90.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:
            last = e
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout:.0f}s; last: {last!r}")


@pytest.fixture
def sink(stack, connect_client, kafka_client, redis_client):
    tag = uuid.uuid4().hex[:6]
    name, topic, space = f"off-sink-{tag}", f"off_topic_{tag}", f"OFF{tag}"
    kafka_client.create_topic(topic)
    # record i sets key OFF<tag>:k<i % 3> to {"ID": "k..", "N": i}: where the sink resumes shows in the values
    kafka_client.produce(topic, [(json.dumps({"ID": f"k{i % 3}"}), json.dumps({"ID": f"k{i % 3}", "N": i})) for i in range(9)])
    config = {
        "connector.class": SINK_CLASS,
        "tasks.max": "1",
        "topics": topic,
        "redis.uri": stack["REDIS_URL"].rsplit("/", 1)[0],
        "redis.key": space,
        "redis.key.field": "ID",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "name": name,
    }
    props = ConnectorProps(name, "sink", config, (topic,), initial_state="STOPPED")
    yield props, topic, space
    connect_client.delete(name)
    kafka_client.delete_topic(topic)
    redis_client.delete_prefix(space + ":")


def _n(redis_client, space) -> dict[str, int]:
    out = {}
    for k in ("k0", "k1", "k2"):
        raw = redis_client.r.execute_command("JSON.GET", f"{space}:{k}")
        out[k] = json.loads(raw)["N"] if raw else None
    return out


def test_list_alter_reset_on_a_real_sink(stack, sink, connect_client, kafka_client, redis_client):
    props, topic, space = sink
    # created STOPPED (KIP-980): a valid end state, no task runs, nothing written
    out = apply_connector(props, connect_client, kafka_client, dry_run=False, wait_seconds=20)
    assert out.action == "created" and out.metadata["connector_state"] == "STOPPED"
    assert apply_connector(props, connect_client, kafka_client, dry_run=False, wait_seconds=5).action == "unchanged"
    assert _n(redis_client, space) == {"k0": None, "k1": None, "k2": None}

    connect_client.resume(props.name)
    _wait("all 9 records written", lambda: _n(redis_client, space) == {"k0": 6, "k1": 7, "k2": 8})
    _wait("offsets committed", lambda: off.sink_positions(connect_client.offsets(props.name)) == {(topic, 0): 9})

    lineage = type("L", (), {"by_system": lambda self, s: [connector_node(props, description="", metadata={}, code_version="")]})()
    jobs = {j.name: j for j in offset_jobs(lineage)}
    resources = {"connect": KafkaConnectResource(url=stack["KAFKA_CONNECT_URL"], backoff_seconds=0.2)}
    instance = dg.DagsterInstance.ephemeral()

    listed = jobs["connector_offsets"].execute_in_process(
        run_config={"ops": {"list_offsets": {"config": {"connectors": [props.name]}}}}, resources=resources, instance=instance
    )
    [mat] = [e for e in listed.all_events if e.event_type_value == "STEP_OUTPUT"]
    table = mat.event_specific_data.metadata["offsets"]
    assert [r.data for r in table.records] == [
        {
            "connector": props.name,
            "partition": json.dumps({"kafka_partition": 0, "kafka_topic": topic}, separators=(",", ":")),
            "offset": '{"kafka_offset":9}',
        }
    ]

    # move back to offset 4: the sink re-reads records 4..8; mark Redis so the replay shows
    redis_client.r.execute_command("JSON.SET", f"{space}:k0", "$.N", "-1")
    redis_client.r.execute_command("JSON.SET", f"{space}:k1", "$.N", "-1")
    altered = jobs["alter_connector_offsets"].execute_in_process(
        run_config={"ops": {"alter_offsets": {"config": {"connector": props.name, "offsets": [off.sink_offset(topic, 0, 4)]}}}},
        resources=resources,
        instance=instance,
    )
    assert altered.success
    _wait("resumed RUNNING", lambda: connect_client.status(props.name)["connector"]["state"] == "RUNNING")
    # from offset 4: k0 <- 6 (record 6), k1 <- 7, k2 <- 8; records 0..3 were not re-read (k1's 4 came before 7)
    _wait("replay from offset 4", lambda: _n(redis_client, space) == {"k0": 6, "k1": 7, "k2": 8})
    _wait("offsets back at the end", lambda: off.sink_positions(connect_client.offsets(props.name)) == {(topic, 0): 9})

    # move to offset 7: only 7 and 8 are re-read, so the marked k0 keeps its mark
    redis_client.r.execute_command("JSON.SET", f"{space}:k0", "$.N", "-1")
    assert (
        jobs["alter_connector_offsets"]
        .execute_in_process(
            run_config={"ops": {"alter_offsets": {"config": {"connector": props.name, "offsets": [off.sink_offset(topic, 0, 7)]}}}},
            resources=resources,
            instance=instance,
        )
        .success
    )
    _wait("offsets back at the end", lambda: off.sink_positions(connect_client.offsets(props.name)) == {(topic, 0): 9})
    assert _n(redis_client, space)["k0"] == -1

    # reset: from the earliest offset, every record again; the last per key wins
    assert (
        jobs["reset_connector_offsets"]
        .execute_in_process(
            run_config={"ops": {"reset_offsets": {"config": {"connectors": [props.name]}}}}, resources=resources, instance=instance
        )
        .success
    )
    _wait("replay from the start", lambda: _n(redis_client, space) == {"k0": 6, "k1": 7, "k2": 8})

    bad = jobs["alter_connector_offsets"].execute_in_process(
        run_config={
            "ops": {"alter_offsets": {"config": {"connector": props.name, "offsets": [{"partition": {"topic": topic}, "offset": {}}]}}}
        },
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not bad.success
    msg = next(e for e in bad.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data.error.message
    assert "offsets[0].partition: a sink partition is" in msg
