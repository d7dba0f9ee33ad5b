"""The connector_health sensor against real connectors on the real stack: it sees real failures,
the runs it requests heal them, it backs off on a permanent failure and then raises the incident."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline_defs.lineage import build_lineage
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import build_connector_health_sensor
from resources.connect import connector_health
from tests.integration.pipeline_env import break_sink, pipeline_env, run, wait_state

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
from tests.integration.pipeline_env import JDOE_KEY as KEY
from tests.integration.pipeline_env import SINK


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    gen = pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)
    ctx = next(gen)
    assert run(ctx, "provision_pipeline").success
    yield ctx
    ctx.redis.r.delete(KEY)
    gen.close()


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_sensor(env, clock=time.time, **policy):
    return build_connector_health_sensor(build_lineage(env.spec), policy=HealthPolicy(**policy), clock=clock)


def tick(env, sensor, cursor=None):
    with dg.build_sensor_context(
        instance=env.instance, cursor=cursor, resources={"connect": env.resources["connect"], "kafka": env.resources["kafka"]}
    ) as ctx:
        return sensor(ctx)


def requests_of(result) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def execute(env, rr: dg.RunRequest):
    job = env.defs.resolve_job_def(rr.job_name)
    return job.execute_in_process(run_config=rr.run_config, instance=env.instance, tags=rr.tags, raise_on_error=False)


def restarted_and_failed_again(env, timeout=60.0):
    """Simulated minutes pass in milliseconds here: let each real restart play out before the next tick."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and connector_health(env.connect.status(SINK))[0] == "FAILED":
        time.sleep(0.05)  # the restart is asynchronous; it may also fail again faster than we poll
    wait_state(env, SINK, "FAILED", timeout=timeout)


def test_healthy_pipeline_needs_nothing(env):
    result = tick(env, make_sensor(env))
    assert requests_of(result) == [] and not result.asset_events
    assert result.skip_reason.skip_message == "all connectors healthy"


def test_deleted_connector_is_reregistered(env):
    env.connect.delete("clickstream_avro")
    [rr] = requests_of(tick(env, make_sensor(env)))
    assert rr.job_name == "reregister_connectors" and rr.tags["cdc/reason"] == "missing"
    assert "clickstream_avro" in rr.run_key
    assert execute(env, rr).success
    wait_state(env, "clickstream_avro", "RUNNING")


def test_drift_is_put_back_and_unmanaged_left_alone(env, tmp_path):
    cfg = env.connect.get_config("userdata_avro")
    env.connect.put_config("userdata_avro", {**cfg, "poll.linger.ms": "999"})
    unmanaged = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "topics": "unmanaged-topic",
        "file": "/nonexistent/dir/out",
    }
    env.connect.apply("unmanaged-broken", unmanaged)
    wait_state(env, "unmanaged-broken", "FAILED")
    try:
        requests = requests_of(tick(env, make_sensor(env)))
        assert [r.tags["cdc/connector"] for r in requests] == ["userdata_avro"]
        assert requests[0].tags["cdc/reason"] == "drift"
        assert execute(env, requests[0]).success
        assert "poll.linger.ms" not in env.connect.get_config("userdata_avro")
        assert env.connect.get_config("unmanaged-broken")["file"] == "/nonexistent/dir/out"  # untouched
        assert connector_health(env.connect.status("unmanaged-broken"))[0] == "FAILED"
    finally:
        env.connect.delete("unmanaged-broken")


def test_failed_sink_is_restarted_and_runs_again_once_the_cause_is_gone(env):
    status = break_sink(env)
    assert "Existing key has wrong Redis type" in status["tasks"][0]["trace"]
    [rr] = requests_of(tick(env, make_sensor(env)))
    assert rr.job_name == "restart_connectors" and rr.tags["cdc/reason"] == "failed"
    assert rr.run_config["ops"]["restart"]["config"] == {"connectors": [SINK], "include_tasks": True, "only_failed": True}
    env.redis.r.delete(KEY)  # the cause is removed
    assert execute(env, rr).success
    wait_state(env, SINK, "RUNNING")
    deadline = time.monotonic() + 30
    while env.redis.r.type(KEY) != "ReJSON-RL" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert env.redis.json_mget([KEY])[KEY]["USER_NAME"] == "jdoe"


def test_permanent_failure_backs_off_over_a_simulated_hour_then_raises_the_incident(env):
    break_sink(env)
    clock = Clock()
    sensor = make_sensor(env, clock=clock, max_restarts=4)
    cursor, restarts, incidents, evaluations = None, [], [], []
    start = clock.now
    for _ in range(0, 60 * 60 + 1, 30):  # a tick every 30 simulated seconds for an hour
        result = tick(env, sensor, cursor)
        cursor = result.cursor if isinstance(result, dg.SensorResult) else cursor
        minute = int((clock.now - start) // 60)
        for rr in requests_of(result):
            if rr.job_name == "restart_connectors":
                restarts.append(minute)
                env.connect.restart(SINK, include_tasks=True, only_failed=True)  # the restart a run would do
                restarted_and_failed_again(env)  # the cause is still there
            elif rr.job_name == "connector_incident":
                incidents.append((minute, rr))
        evaluations += [e for e in (result.asset_events or []) if isinstance(e, dg.AssetCheckEvaluation)]
        clock.now += 30
    assert restarts == [0, 2, 8, 20]  # 0, 2, 6 and 12 minutes apart: no more than the backoff allows
    [(minute, rr)] = incidents
    assert minute == 40  # when a fifth restart would have been due
    [ev] = evaluations
    assert ev.check_name == "running" and not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    assert "Existing key has wrong Redis type" in ev.metadata["trace"].value
    incident_run = execute(env, rr)
    assert not incident_run.success  # a failed run: loud
    assert json.loads(cursor)["connectors"][SINK]["exhausted"] is True
    env.redis.r.delete(KEY)
    env.connect.restart(SINK, include_tasks=True, only_failed=True)
    wait_state(env, SINK, "RUNNING")


def _stack(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), *args], capture_output=True, text=True, timeout=300)


def test_connect_down_is_a_clean_skip_and_the_next_tick_works(env):
    sensor = make_sensor(env)
    assert _stack("stop", "connect").returncode == 0
    try:
        result = tick(env, sensor, cursor='{"v": 1, "connectors": {}}')
        assert isinstance(result, dg.SkipReason)
        assert env.resources["connect"].url in result.skip_message and "unreachable" in result.skip_message
    finally:
        assert _stack("start", "connect").returncode == 0
    wait_state(env, SINK, "RUNNING", timeout=90)
    wait_state(env, "clickstream_avro", "RUNNING", timeout=90)
    result = tick(env, sensor)
    assert isinstance(result, dg.SensorResult) and requests_of(result) == []
