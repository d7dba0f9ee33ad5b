"""KafkaConnectResource against a real Connect worker (the local stack)."""

from __future__ import annotations

import logging
import time

import pytest

from resources.connect import (
    ConnectorConfigInvalid,
    ConnectorNotFound,
    ConnectUnreachable,
    KafkaConnectClient,
    connector_health,
)

pytestmark = pytest.mark.integration

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
DEBEZIUM = "io.debezium.connector.oracle.OracleConnector"


def wait_state(client, name, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            status = client.status(name)
            if predicate(status):
                return status
        except ConnectorNotFound:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{name} never reached the expected state; last status {status}")


def running(status):
    return connector_health(status)[0] == "RUNNING" and status.get("tasks")


def file_source(tmp_path, topic):
    f = tmp_path / "in.txt"
    f.write_text("a\nb\n")
    return {"connector.class": FILE_SOURCE, "tasks.max": "1", "file": str(f), "topic": topic}


def test_worker_health_and_plugins(connect_client):
    assert connect_client.health()["status"] == "healthy"
    assert connect_client.server_info()["version"].startswith("3.9")
    plugins = {p["class"]: p["version"] for p in connect_client.plugins()}
    assert plugins[DEBEZIUM] == "3.1.3.Final"
    assert plugins[FILE_SOURCE] == "3.9.0"


def test_apply_creates_then_is_a_no_op_then_updates(connect_client, tmp_path, unique):
    cfg = file_source(tmp_path, unique)
    first = connect_client.apply(unique, cfg)
    assert first.action == "created"
    wait_state(connect_client, unique, running)

    writes_before = [r for r in connect_client.requests_made if r[0] in ("PUT", "POST")]
    second = connect_client.apply(unique, {**cfg, "tasks.max": 1})  # int vs "1": same config to Connect
    assert second.action == "unchanged"
    assert [r for r in connect_client.requests_made if r[0] in ("PUT", "POST")] == writes_before

    third = connect_client.apply(unique, {**cfg, "batch.size": "500"})
    assert third.action == "updated" and third.changed_keys == ("batch.size",)
    assert connect_client.get_config(unique)["batch.size"] == "500"
    assert connect_client.delete(unique) is True
    assert connect_client.delete(unique) is False


def test_expanded_listing_has_status_and_info_in_one_request(connect_client, tmp_path, unique):
    connect_client.apply(unique, file_source(tmp_path, unique))
    wait_state(connect_client, unique, running)
    n = len(connect_client.requests_made)
    listing = connect_client.connectors_expanded()
    assert len(connect_client.requests_made) == n + 1
    entry = listing[unique]
    assert entry["status"]["connector"]["state"] == "RUNNING"
    assert entry["info"]["config"]["topic"] == unique
    assert entry["info"]["type"] == "source"
    connect_client.delete(unique)


def test_invalid_config_is_a_400_with_the_error_list(connect_client, unique):
    bad = {"connector.class": FILE_SINK, "tasks.max": "1", "topics": unique, "errors.tolerance": "sometimes"}
    with pytest.raises(ConnectorConfigInvalid) as e:
        connect_client.apply(unique, bad)
    assert e.value.status == 400 and e.value.error_code == 400
    assert "contains the following 1 error(s)" in e.value.message
    result = connect_client.validate(bad)
    assert result.error_count >= 1 and not result.ok
    assert "sometimes" in " ".join(result.errors["errors.tolerance"])
    assert connect_client.get_config(unique) is None  # nothing was created


def test_unknown_connector_is_404(connect_client, unique):
    with pytest.raises(ConnectorNotFound) as e:
        connect_client.status(unique)
    assert e.value.status == 404 and e.value.error_code == 404
    assert connect_client.get_config(unique) is None


def test_failing_task_trace_and_restart_202_body(connect_client, unique):
    # a sink whose target cannot be created fails its task at start, with a stack trace
    cfg = {"connector.class": FILE_SINK, "tasks.max": "1", "topics": unique, "file": f"/nonexistent/{unique}/out"}
    connect_client.apply(unique, cfg)
    status = wait_state(connect_client, unique, lambda s: connector_health(s)[0] == "FAILED")
    state, failed = connector_health(status)
    assert failed[0]["instance"] == "task 0"
    assert "Couldn't find or create file" in failed[0]["trace"]
    assert status["connector"]["state"] == "RUNNING"  # the two levels disagree; health judges both

    body = connect_client.restart(unique, include_tasks=True, only_failed=True)
    assert body["name"] == unique
    assert body["tasks"][0]["state"] == "RESTARTING"
    assert body["connector"]["state"] == "RUNNING"  # only the failed task restarts
    assert connect_client.restart(unique) is None  # plain restart: 204, no body
    connect_client.delete(unique)


def test_pause_resume_stop(connect_client, tmp_path, unique):
    connect_client.apply(unique, file_source(tmp_path, unique))
    wait_state(connect_client, unique, running)
    connect_client.pause(unique)
    wait_state(connect_client, unique, lambda s: s["connector"]["state"] == "PAUSED")
    connect_client.resume(unique)
    wait_state(connect_client, unique, running)
    connect_client.stop(unique)
    wait_state(connect_client, unique, lambda s: s["connector"]["state"] == "STOPPED")
    connect_client.delete(unique)


def test_debezium_oracle_against_unreachable_database(connect_client, unique, caplog):
    """Debezium validates by connecting, so the real worker refuses the registration with a 400;
    the password in the config never shows in the error."""
    secret = "Sup3r-Secret-pw"
    cfg = {
        "connector.class": DEBEZIUM,
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.port": "1",
        "database.user": "c##dbzuser",
        "database.password": secret,
        "database.dbname": "ORCLCDB",
        "topic.prefix": "ORCLCDB",
        "table.include.list": "C##MYUSER.POC_CLICKSTREAM",
        "schema.history.internal.kafka.bootstrap.servers": "127.0.0.1:9092",
        "schema.history.internal.kafka.topic": f"schema-changes.{unique}",
    }
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorConfigInvalid) as e:
        connect_client.apply(unique, cfg)
    assert "Unable to connect" in e.value.message
    result = connect_client.validate(cfg)
    assert result.error_count >= 1
    assert secret not in str(e.value) and secret not in repr(e.value.args)
    assert secret not in caplog.text
    assert secret not in str(result)
    assert connect_client.redacted(cfg)["database.password"] != secret


def test_unreachable_worker_is_retried_then_typed(caplog):
    client = KafkaConnectClient("http://127.0.0.1:1", max_retries=2, backoff=0.01, auth=("admin", "pw-never-shown"))
    caplog.set_level(logging.INFO)
    with pytest.raises(ConnectUnreachable) as e:
        client.list_connectors()
    assert "127.0.0.1:1" in str(e.value)
    assert len(client.requests_made) == 3  # first try + 2 retries
    assert "pw-never-shown" not in str(e.value) and "pw-never-shown" not in caplog.text
