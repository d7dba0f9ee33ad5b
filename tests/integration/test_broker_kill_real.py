"""kill -9 of the Kafka broker under a running Debezium PostgreSQL connector, on a stack of its own (Kafka +
Connect only, see broker_stack.py; the connector reads the session's PostgreSQL): what really happens, and
what the connector_health sensor does about it.

What the real systems do (Kafka Connect 3.9, Debezium 3.6.1): the task does not fail. Connect retries a
record send that fails with a retriable error forever ("Failed to send record ... Backing off before
retrying"), even with the connector's producer overrides (delivery.timeout.ms=6000, max.block.ms=5000; the
worker's connector.client.config.override.policy is All, Kafka's default since 3.0), so the task stays
RUNNING through the outage and resumes by itself once the broker is back. A restart would not help and
cannot be had anyway: POST /connectors/<name>/restart times out while the broker is down. So the sensor
must, and does, leave it alone: no restart during the outage, and after the operator starts the broker
again the rows written meanwhile arrive, with the connector RUNNING."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline_defs.core.nodes import Lineage
from pipeline_defs.lineage import build_lineage
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import build_connector_health_sensor
from pipeline_defs.systems.postgres.names import cdc_topic
from resources.connect import connector_health
from tests.integration.broker_stack import REPO, BrokerStack
from tests.integration.local_env import LocalPipeline, renamed_spec, wait_until

pytestmark = pytest.mark.integration

OUTAGE_ROWS = [f"outage-{i}" for i in range(5)]


@pytest.fixture(scope="module")
def broker(stack, tmp_path_factory):
    session_home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack")).resolve()  # as the stack fixture finds it
    b = BrokerStack(tmp_path_factory.mktemp("broker-stack"), session_home)
    try:
        b.start()
        yield b
    finally:
        b.down()


def _read_ids(bootstrap: str, topic: str, want: set[str], timeout: float = 60) -> set[str]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while not want <= seen and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error() and m.value():
                seen.add(json.loads(m.value())["ID"])
    finally:
        c.close()
    return seen


def test_killed_broker_is_ridden_out_without_restarts_and_nothing_is_lost(broker, stack, tmp_path, monkeypatch):
    monkeypatch.setenv("CDC_CONNECT_BOOTSTRAP_SERVERS", broker.bootstrap)  # the connector's topics: the broker stack's
    tag = uuid.uuid4().hex[:6]
    doc = renamed_spec(tag)
    doc["source"]["debezium"] = {"heartbeat_interval_ms": 1000}
    # producer overrides that would fail a send within seconds if Connect let a send failure fail the task
    doc["source"]["connectors"][0]["config"] = {
        "producer.override.delivery.timeout.ms": 6000,
        "producer.override.request.timeout.ms": 3000,
        "producer.override.max.block.ms": 5000,
    }
    p = LocalPipeline({**stack, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_CONNECT_URL": broker.connect_url}, tmp_path, tag, doc)
    name = p.spec.source.connectors[0].name
    lineage = build_lineage(p.spec)
    node = next(n for n in lineage.by_system("connect") if n.name == name)
    sensor = build_connector_health_sensor(Lineage([node], []), policy=HealthPolicy())
    resources = p.resources()
    cursor = None

    def tick():
        nonlocal cursor
        with dg.build_sensor_context(
            instance=p.instance, cursor=cursor, resources={"connect": resources["connect"], "kafka": resources["kafka"]}
        ) as ctx:
            result = sensor(ctx)
        cursor = result.cursor if isinstance(result, dg.SensorResult) else cursor
        return result

    connect = p.connect()
    try:
        keys = [dg.AssetKey(list(n.key)) for n in lineage.nodes if n.system == "postgres" or n.name == name]
        run = p.defs.resolve_job_def("provision_pipeline").execute_in_process(
            instance=p.instance, raise_on_error=False, asset_selection=keys
        )
        assert run.success
        wait_until(f"{name} RUNNING", lambda: connector_health(connect.status(name))[0] == "RUNNING", 60)
        config = connect.get_config(name)
        assert config["producer.override.delivery.timeout.ms"] == "6000"  # the worker accepted the override

        broker.kill_broker()  # kill -9 of the pid in <home>/run/kafka.pid, waited until gone
        for row in OUTAGE_ROWS:
            p.sql((f'INSERT INTO "{p.schema}"."POC_USERDATA" ("ID", "NAME") VALUES (%s, %s)', [row, "outage"]))
        outage_start = time.monotonic()
        states = []
        while time.monotonic() - outage_start < 14:  # over twice delivery.timeout.ms
            result = tick()
            assert isinstance(result, dg.SensorResult), result
            assert not result.run_requests, [r.job_name for r in result.run_requests]
            assert result.skip_reason.skip_message == "all connectors healthy"
            states.append(connector_health(connect.status(name))[0])
            time.sleep(4)
        assert set(states) == {"RUNNING"}, states  # the task never failed: nothing for a restart to fix

        broker.stack("start", "kafka")  # the operator brings the broker back
        topic = cdc_topic(p.spec.source, p.spec.source.table("POC_USERDATA"))
        seen = _read_ids(broker.bootstrap, topic, set(OUTAGE_ROWS) | {"101"})
        assert set(OUTAGE_ROWS) | {"101"} <= seen, seen  # the snapshot row and every row of the outage
        assert connector_health(connect.status(name))[0] == "RUNNING"
        result = tick()
        assert isinstance(result, dg.SensorResult) and not result.run_requests
    finally:
        connect.close()
        problems = p.close()
        assert not problems, problems
