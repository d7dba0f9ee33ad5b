"""Failure classification: user-actionable causes raise the incident at once, transient ones back off."""

from __future__ import annotations

import pytest

from pipeline_defs.systems.connect.causes import CAUSES, classify
from pipeline_defs.systems.connect.healing import HealthPolicy, Memory, decide

pytestmark = pytest.mark.unit

TRACES = {
    # real texts: PostgreSQL SQLSTATE messages as Debezium wraps them, Oracle ORA codes, Kafka exceptions
    "authentication_failed": 'org.postgresql.util.PSQLException: FATAL: password authentication failed for user "cdc_reader"',
    "missing_privilege": "org.postgresql.util.PSQLException: ERROR: permission denied for table POC_CLICKSTREAM",
    "log_settings": 'io.debezium.DebeziumException: Postgres server wal_level property must be "logical" but is: replica',
    "change_log_purged": "org.apache.kafka.connect.errors.ConnectException: ORA-01291: missing logfile: resuming at SCN 1796143428264",
    "publication_missing": 'org.postgresql.util.PSQLException: ERROR: publication "cdc_pub" does not exist',
    "invalid_config": "org.apache.kafka.common.config.ConfigException: Invalid value x for configuration poll.interval.ms",
    "unknown_column_type": "org.apache.kafka.connect.errors.DataException: unsupported column type 'tsvector'",
    "network": "java.net.ConnectException: Connection refused (Connection refused)",
    "broker_unavailable": "org.apache.kafka.common.errors.NetworkException: Broker may not be available",
    "rebalance": "org.apache.kafka.clients.consumer.CommitFailedException: rebalance in progress",
    "timeout": "org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata",
}


# Traces the real Debezium PostgreSQL 3.6.1 task wrote on the local stack (tests/integration/test_failure_causes_real.py
# produces them), the stack frames cut to the first of each exception
REAL_TRACES = {
    "publication_missing": (
        "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. "
        "This connector will be stopped.\n"
        "\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n"
        "Caused by: org.apache.kafka.connect.errors.ConnectException: Publication autocreation is disabled, please create "
        "one and restart the connector.\n"
        "\tat io.debezium.connector.postgresql.connection.PostgresReplicationConnection.initPublication("
        "PostgresReplicationConnection.java:242)\n"
    ),
    # after the publication was created again: the change written while it was missing is decoded with the catalog
    # of its time
    "publication_missing_after_recreate": (
        "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. "
        "This connector will be stopped.\n"
        'Caused by: org.postgresql.util.PSQLException: ERROR: publication "e2e_70c617_pub" does not exist\n'
        '  Where: slot "e2e_70c617_userdata", output plugin "pgoutput", in the change callback, associated LSN 0/309D758\n'
    ),
    "missing_privilege": (
        "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. "
        "This connector will be stopped.\n"
        "\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n"
        "Caused by: io.debezium.jdbc.JdbcConnectionException: FATAL: must be superuser or replication role to start walsender\n"
    ),
}


@pytest.mark.parametrize("cause", sorted(REAL_TRACES))
def test_real_debezium_traces_are_recognised(cause):
    assert classify(REAL_TRACES[cause]).name == cause.removesuffix("_after_recreate")


@pytest.mark.parametrize("cause", sorted(TRACES))
def test_each_known_cause_is_recognised(cause):
    assert classify(TRACES[cause]).name == cause


def test_the_table_says_which_causes_a_restart_can_fix():
    restartable = {c.name for c in CAUSES if c.restartable}
    assert restartable == {"network", "broker_unavailable", "rebalance", "timeout"}
    assert all(c.fix for c in CAUSES)


def test_purged_change_logs_of_each_source_are_one_cause():
    for trace in (
        "io.debezium.DebeziumException: None of log files contains offset SCN: 2174541, re-snapshot is required.",
        "org.postgresql.util.PSQLException: ERROR: requested WAL segment 000000010000000000000002 has already been removed",
        'ERROR: can no longer get changes from replication slot "cdc_slot"',
    ):
        assert classify(trace).name == "change_log_purged", trace


def test_unknown_is_transient_and_named():
    c = classify("java.lang.IllegalStateException: something nobody has seen")
    assert c.name == "unknown" and c.restartable


def _failed(trace: str) -> dict:
    return {
        "c1": {
            "status": {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "FAILED", "trace": trace}]},
            "info": {"config": {"name": "c1", "k": "v"}},
        }
    }


def test_user_actionable_failure_raises_the_incident_at_once_and_never_restarts():
    mem, policy = Memory(), HealthPolicy()
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["authentication_failed"]), {}, mem, 0.0, policy)
    assert (d.action, d.reason) == ("incident", "authentication_failed")
    assert "password" in d.detail["fix"]
    # the next ticks neither restart nor raise it again
    for t in (60.0, 3600.0, 86400.0):
        [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["authentication_failed"]), {}, mem, t, policy)
        assert d.action == "none"


def test_transient_failure_keeps_the_backoff():
    mem, policy = Memory(), HealthPolicy()
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["network"]), {}, mem, 0.0, policy)
    assert (d.action, d.reason, d.detail["cause"]) == ("restart", "failed", "network")
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["network"]), {}, mem, 60.0, policy)
    assert d.action == "none" and d.reason == "backoff"


def _running() -> dict:
    return {
        "c1": {
            "status": {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]},
            "info": {"config": {"name": "c1", "k": "v"}},
        }
    }


def test_after_a_person_fixes_a_user_actionable_cause_the_next_failure_is_judged_again():
    mem, policy = Memory(), HealthPolicy()
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["publication_missing"]), {}, mem, 0.0, policy)
    assert d.action == "incident"
    [d] = decide({"c1": {"k": "v"}}, _running(), {}, mem, 600.0, policy)  # fixed and restarted by a person
    assert d.reason == "healthy"
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["missing_privilege"]), {}, mem, 700.0, policy)
    assert (d.action, d.reason) == ("incident", "missing_privilege")
    [d] = decide({"c1": {"k": "v"}}, _running(), {}, mem, 800.0, policy)
    [d] = decide({"c1": {"k": "v"}}, _failed(TRACES["network"]), {}, mem, 900.0, policy)
    assert (d.action, d.detail["cause"]) == ("restart", "network")
