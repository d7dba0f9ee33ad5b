"""The health loop's decisions, driven through a simulated hour with an injected clock."""

from __future__ import annotations

import pytest

from pipeline_defs.systems.connect.healing import HealthPolicy, Memory, decide

pytestmark = pytest.mark.unit

CFG = {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max": "1", "topics": "t"}


def listing(state="RUNNING", task_state="RUNNING", config=None, name="sink"):
    return {
        name: {
            "status": {
                "name": name,
                "connector": {"state": state, "worker_id": "w"},
                "tasks": [
                    {
                        "id": 0,
                        "state": task_state,
                        "worker_id": "w",
                        **({"trace": "java.lang.RuntimeException: boom"} if task_state == "FAILED" else {}),
                    }
                ],
            },
            "info": {"name": name, "config": {**CFG, "name": name, **(config or {})}, "tasks": [], "type": "sink"},
        }
    }


def tick(memory, now, listing_, lags=None, policy=HealthPolicy(), desired=None):
    return decide(desired or {"sink": CFG}, listing_, lags or {}, memory, now, policy)


def test_healthy_connector_needs_nothing():
    [d] = tick(Memory(), 0, listing())
    assert (d.action, d.reason) == ("none", "healthy")


def test_missing_is_reregistered_once_per_incident():
    m = Memory()
    [d1] = tick(m, 0, {})
    [d2] = tick(m, 30, {})  # next tick, still missing: backoff holds the second attempt
    assert d1.action == "reregister" and d1.reason == "missing"
    assert d2.action == "none" and d2.reason == "backoff"
    [d3] = tick(m, 121, {})  # 2 minutes later: a second attempt, with its own run key
    assert d3.action == "reregister" and d3.incident != d1.incident


def test_drift_is_reregistered_and_named():
    [d] = tick(Memory(), 0, listing(config={"topics": "other"}))
    assert (d.action, d.reason) == ("reregister", "drift") and d.detail["keys"] == ["topics"]


def test_unmanaged_connectors_are_never_touched():
    both = {**listing(), **listing(state="FAILED", name="not-ours")}
    assert [d.connector for d in tick(Memory(), 0, both)] == ["sink"]


def restarts_over(minutes, policy):
    m, times, incidents = Memory(), [], []
    for second in range(0, minutes * 60 + 1, 30):  # a tick every 30 s
        for d in tick(m, second, listing(task_state="FAILED"), policy=policy):
            if d.action == "restart":
                times.append(second // 60)
            if d.action == "incident":
                incidents.append(second // 60)
    return times, incidents, m


def test_permanent_failure_backs_off_like_strimzi_over_an_hour():
    times, incidents, _ = restarts_over(60, HealthPolicy(max_restarts=100))
    assert times == [0, 2, 8, 20, 40]  # waits of 0, 2, 6, 12, 20 minutes between restarts
    assert incidents == []


def test_restarts_stop_after_the_maximum_and_the_incident_is_raised_once():
    times, incidents, m = restarts_over(60, HealthPolicy(max_restarts=3))
    assert times == [0, 2, 8]
    assert incidents == [20]  # when the 4th restart would have been due
    assert m.connectors["sink"].exhausted


def test_counter_resets_after_a_stable_period():
    m = Memory()
    tick(m, 0, listing(task_state="FAILED"))
    tick(m, 120, listing(task_state="FAILED"))
    assert m.connectors["sink"].restarts == 2
    tick(m, 150, listing())  # healthy again, but not yet stable for the last backoff step (6 min)
    assert m.connectors["sink"].restarts == 2
    tick(m, 150 + 5 * 60, listing())
    assert m.connectors["sink"].restarts == 2
    tick(m, 150 + 6 * 60, listing())  # healthy without a break for 6 minutes
    assert m.connectors["sink"].restarts == 0
    [d] = tick(m, 1000, listing(task_state="FAILED"))
    assert d.action == "restart"  # a new incident restarts at once


def test_growing_lag_warns_then_restarts_past_the_bound():
    policy = HealthPolicy(lag_window_ticks=3, lag_restart_bound=100)
    m = Memory()
    decisions = [tick(m, i * 30, listing(), {"sink": lag}, policy)[0] for i, lag in enumerate([1, 5, 20, 50, 80, 150])]
    actions = [(d.action, d.reason) for d in decisions]
    assert actions[:3] == [("none", "healthy")] * 3
    assert actions[3] == ("lag_warning", "stuck") and decisions[3].detail["lag_history"] == [1, 5, 20, 50]
    assert actions[5] == ("restart", "stuck")


def test_lag_that_falls_is_not_stuck():
    policy = HealthPolicy(lag_window_ticks=3)
    m = Memory()
    decisions = [tick(m, i * 30, listing(), {"sink": lag}, policy)[0] for i, lag in enumerate([10, 20, 5, 30, 40])]
    assert all(d.reason == "healthy" for d in decisions)


def test_cursor_round_trip_and_garbage():
    m = Memory()
    tick(m, 0, listing(task_state="FAILED"))
    again = Memory.from_cursor(m.to_cursor())
    assert again.connectors["sink"].restarts == 1 and again.connectors["sink"].last_restart == 0
    assert Memory.from_cursor("not json").connectors == {}


def test_a_moment_of_running_after_a_restart_does_not_reset_the_count():
    m = Memory()
    tick(m, 0, listing(task_state="FAILED"))  # restart 1
    tick(m, 150, listing())  # RUNNING for a moment, 2.5 minutes after the restart...
    tick(m, 180, listing(task_state="FAILED"))  # ...then failed again
    assert m.connectors["sink"].restarts == 2  # restart 2, counted on top of the first
    [d] = tick(m, 200, listing(task_state="FAILED"))
    assert d.reason == "backoff"  # next one waits 6 minutes
