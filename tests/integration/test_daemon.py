"""The daemon really runs the sensor: a real `dagster-daemon run` loads the code location, ticks
connector_health on its own, and the run it launches heals a deleted connector on the real stack."""

from __future__ import annotations

import os
import socket
import time

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from bench._daemon import Daemon, alive, group_members, write_home
from pipeline_defs.lineage import build_lineage
from resources.connect import config_diff, connector_health
from tests.integration.pipeline_env import pipeline_env, run

pytestmark = pytest.mark.integration

CONNECTOR = "clickstream_avro"
SENSOR = "connector_health"


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    gen = pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)
    ctx = next(gen)
    assert run(ctx, "provision_pipeline").success
    yield ctx
    gen.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon_env(env, stack) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    e.update(env.env)  # CDC_PIPELINE_SPEC, CDC_FORMAT, CDC_CONNECT_*, ORACLE_PASSWORD
    e.update(
        {
            "KAFKA_CONNECT_URL": stack["KAFKA_CONNECT_URL"],
            "KAFKA_BOOTSTRAP_SERVERS": stack["KAFKA_BOOTSTRAP_SERVERS"],
            "REDIS_URL": stack["REDIS_URL"],
            "KSQLDB_URL": env.ksql.url,
            # The Oracle double lives in the test process. reregister_connectors does not use the oracle
            # resource (its run succeeds without this variable too); the data_quality run that
            # data_quality_trigger launches on its first tick does, and its Oracle checks should fail
            # fast (connection refused on a closed port) rather than wait on DNS for "oracle".
            "ORACLE_ADMIN_PASSWORD": "dummy-admin-pw",
            "ORACLE_HOST": "127.0.0.1",
            "ORACLE_PORT": str(_closed_port()),
            "CDC_HEALTH_INTERVAL_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return e


def _sensor_ticks(instance: dg.DagsterInstance, name: str) -> list:
    ticks = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            ticks += instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=500)
    return ticks


def _describe_ticks(ticks) -> str:
    lines = []
    for t in sorted(ticks, key=lambda t: t.timestamp):
        err = t.error.to_string() if t.error else ""
        lines.append(
            f"  {time.strftime('%H:%M:%S', time.localtime(t.timestamp))} {t.status.value} "
            f"skip={t.skip_reason!r} runs={list(t.run_ids)} {err}"
        )
    return "\n".join(lines) or "  (none)"


def _wait(predicate, timeout: float, interval: float = 1.0, on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(on_timeout())


def test_daemon_ticks_the_health_sensor_and_its_run_reregisters_a_deleted_connector(env, stack, tmp_path):
    home = tmp_path / "dagster_home"
    workspace = write_home(home)
    started = time.monotonic()
    daemon = Daemon(home, _daemon_env(env, stack), workspace=workspace, debug=True)
    instance = dg.DagsterInstance.from_config(str(home))
    timings: dict[str, float] = {}
    ok = False
    try:

        def diagnostics() -> str:
            return (
                f"daemon {'alive' if daemon.alive() else f'exited {daemon.proc.returncode}'}\n"
                f"{SENSOR} ticks:\n{_describe_ticks(_sensor_ticks(instance, SENSOR))}\n"
                f"runs: {[(r.job_name, r.status.value, dict(r.tags)) for r in instance.get_runs(limit=20)]}"
            )

        # 1. the daemon loads the code location and ticks the sensor on its own: the pipeline is healthy,
        # so the ticks are skips -- which also proves the daemon's environment renders the same configs
        def healthy_tick():
            assert daemon.alive(), f"dagster-daemon exited with {daemon.proc.returncode}"
            ticks = _sensor_ticks(instance, SENSOR)
            failed = [t for t in ticks if t.status == TickStatus.FAILURE]
            assert not failed, f"{SENSOR} failed in the daemon:\n{_describe_ticks(failed)}"
            return [t for t in ticks if t.status == TickStatus.SKIPPED]

        first = _wait(healthy_tick, 180, on_timeout=lambda: f"{SENSOR} never ticked\n{diagnostics()}")
        timings["first_tick"] = time.monotonic() - started
        assert {t.skip_reason for t in first} == {"all connectors healthy"}, diagnostics()
        assert instance.get_runs(filters=dg.RunsFilter(job_name="reregister_connectors")) == []

        # 2. break a connector; nobody calls the sensor by hand
        assert env.connect.delete(CONNECTOR)
        broken_at = time.monotonic()

        def healed():
            assert daemon.alive(), f"dagster-daemon exited with {daemon.proc.returncode}"
            runs = instance.get_runs(filters=dg.RunsFilter(job_name="reregister_connectors", tags={"cdc/connector": CONNECTOR}))
            if not runs or runs[0].status != dg.DagsterRunStatus.SUCCESS:
                assert not runs or runs[0].status not in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED), (
                    f"the re-register run ended {runs[0].status}"
                )
                return None
            try:
                status = env.connect.status(CONNECTOR)
            except Exception:
                return None
            return runs if connector_health(status)[0] == "RUNNING" else None

        runs = _wait(healed, 180, on_timeout=lambda: f"{CONNECTOR} not healed by the daemon\n{diagnostics()}")
        timings["healed"] = time.monotonic() - broken_at

        # 3. exactly one run, requested by the sensor for this incident, and it succeeded
        [rr] = runs
        assert rr.status == dg.DagsterRunStatus.SUCCESS
        assert rr.tags["cdc/connector"] == CONNECTOR and rr.tags["cdc/reason"] == "missing"
        assert rr.tags["dagster/sensor_name"] == SENSOR
        assert rr.run_config["ops"]["reregister"]["config"]["connectors"] == [CONNECTOR]
        # the run re-created it (a materialization with action=created for the connector asset)
        mats = instance.get_records_for_run(rr.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        actions = {
            r.event_log_entry.dagster_event.asset_key.to_user_string(): r.event_log_entry.dagster_event.event_specific_data.materialization.metadata[
                "action"
            ].value
            for r in mats
        }
        assert list(actions.values()) == ["created"], actions
        live = env.connect.get_config(CONNECTOR)
        desired = build_lineage(env.spec).node(("connect", CONNECTOR)).desired.config
        assert desired["name"] == CONNECTOR and not config_diff(dict(desired), live)
        # Connect stores the placeholder the run sent, never the password the test environment holds
        assert live["oracle.password"] == "${env:ORACLE_PASSWORD}" and env.env["ORACLE_PASSWORD"] not in live.values()
        # the tick that requested it is recorded by the daemon
        requested = [t for t in _sensor_ticks(instance, SENSOR) if rr.run_id in t.run_ids]
        assert len(requested) == 1 and requested[0].status == TickStatus.SUCCESS
        ok = True
    finally:
        log = daemon.log()
        strays = daemon.stop()
        print(f"timings: { ({k: round(v, 1) for k, v in timings.items()}) }")
        if not ok:
            print(f"---- dagster-daemon log ({daemon.log_path}) ----\n{log[-20000:]}")
        instance.dispose()
    assert group_members(daemon.pgid) == [] and alive(daemon.tree) == [], "processes of the daemon survived"
    assert strays == [], f"left after SIGTERM, needed SIGKILL: {strays}"
    assert len(daemon.tree) >= 2, "the daemon should have run a code server (and run workers) as children"
