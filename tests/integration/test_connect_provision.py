"""apply_connector (pipeline_defs/systems/connect/provision.py) on the real Connect worker with the Redis sink
double: one GET, one compare, one write; a connector that is not RUNNING after the wait is a ProvisionFailure
carrying the task's trace; a dry run writes nothing."""

from __future__ import annotations

import socket

import pytest

from pipeline_defs.core.outcome import ProvisionFailure
from pipeline_defs.systems.connect.props import ConnectorProps
from pipeline_defs.systems.connect.provision import apply_connector
from resources.connect import KafkaConnectResource

pytestmark = pytest.mark.integration

REDIS_SINK = "com.redis.kafka.connect.RedisSinkConnector"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _props(name: str, topic: str, redis_uri: str, **extra: str) -> ConnectorProps:
    cfg = {
        "connector.class": REDIS_SINK,
        "name": name,
        "tasks.max": "1",
        "topics": topic,
        "redis.uri": redis_uri,
        "redis.command": "SET",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        **extra,
    }
    return ConnectorProps(name, "sink", cfg, (topic,))


@pytest.fixture
def connect(stack):
    client = KafkaConnectResource(url=stack["KAFKA_CONNECT_URL"], backoff_seconds=0.2).get_client()
    made: list[str] = []
    yield client, made
    for name in made:
        client.delete(name)
    client.close()


def _writes(client) -> int:
    return sum(1 for m, _ in client.requests_made if m in ("PUT", "POST", "DELETE"))


def test_create_unchanged_update_and_dry_run(connect, kafka_client, stack, unique):
    client, made = connect
    topic = f"{unique}-prov"
    kafka_client.create_topic(topic)
    try:
        name = f"{unique}-sink"
        made.append(name)
        props = _props(name, topic, stack["REDIS_URL"])
        created = apply_connector(props, client, kafka_client, dry_run=False, wait_seconds=40)
        assert created.action == "created" and created.metadata["state"] == "RUNNING"
        assert client.get_config(name) == dict(props.config)

        before = _writes(client)
        again = apply_connector(props, client, kafka_client, dry_run=False, wait_seconds=40)
        assert (again.action, again.changes, again.writes) == ("unchanged", [], 0)
        assert _writes(client) == before  # no PUT: Connect restarted nothing

        edited = _props(name, topic, stack["REDIS_URL"], **{"redis.separator": "|"})
        plan = apply_connector(edited, client, kafka_client, dry_run=True)
        assert plan.action == "would_update" and plan.metadata["changed_keys"] == ["redis.separator"]
        assert _writes(client) == before and "redis.separator" not in client.get_config(name)

        updated = apply_connector(edited, client, kafka_client, dry_run=False, wait_seconds=40)
        assert updated.action == "updated" and updated.metadata["changed_keys"] == ["redis.separator"]
        assert _writes(client) == before + 1 and client.get_config(name)["redis.separator"] == "|"
    finally:
        kafka_client.delete_topic(topic)


def test_connector_not_running_after_the_wait_is_a_provision_failure(connect, kafka_client, unique):
    client, made = connect
    topic = f"{unique}-fail"
    kafka_client.create_topic(topic)
    try:
        name = f"{unique}-down"
        made.append(name)
        # the sink's task connects to Redis in start(): with nothing listening it FAILS
        props = _props(name, topic, f"redis://127.0.0.1:{_closed_port()}")
        with pytest.raises(ProvisionFailure) as e:
            apply_connector(props, client, kafka_client, dry_run=False, wait_seconds=40)
        assert str(e.value).startswith(f"connector {name} is FAILED after 40s:")
        assert e.value.metadata["state"] == "FAILED" and e.value.metadata["tasks_failed"] == 1
        assert "Unable to connect to redis://127.0.0.1:" in e.value.metadata["trace"]
        assert client.get_config(name) == dict(props.config)  # it was created; it just does not run
    finally:
        kafka_client.delete_topic(topic)
