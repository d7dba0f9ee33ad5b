"""Chaos, shortened (bench/chaos.py is the full run): the local pipeline on the real stack with a real
`dagster-daemon` running the product's sensors, a steady stream of inserts, and Redis killed -9 with its
append-only file deleted (all of Redis's data lost), then restarted as an operator would (`scripts/stack.py up`).
Nobody launches a run: data_quality_trigger runs the checks, matches_postgres fails, redis_rebuild requests
rebuild_redis, the rebuild replays the aggregate topic, and afterwards every committed row is counted exactly
once in Redis."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from bench._daemon import Daemon, write_home
from bench._reconciler import Reconciler
from tests.integration.local_env import LocalPipeline, pg_admin

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
W = 60_000


class Stream(threading.Thread):
    """`rate` rows/s into POC_CLICKSTREAM, event time = commit time, NAME t<run>_<i>_<window start>."""

    def __init__(self, stack: dict[str, str], run: str, schema: str, rate: float = 10):
        super().__init__(daemon=True)
        self.stack, self.run_id, self.rate, self.schema = stack, run, rate, schema
        self.stop = threading.Event()
        self.committed = 0
        self.error: Exception | None = None

    def run(self) -> None:
        s = self.stack
        try:
            with pg_admin(s, autocommit=False) as conn:
                start = time.time()
                while not self.stop.is_set():
                    due = int(self.rate * (time.time() - start)) - self.committed
                    for i in range(max(0, due)):
                        n = self.committed + i
                        ms = int(time.time() * 1000)
                        conn.execute(
                            f'INSERT INTO "{self.schema}"."POC_CLICKSTREAM" ("EVENTID","ID","NAME","EVENTTIMESTAMP") '
                            "VALUES (%s, %s, %s, %s)",
                            (
                                f"t{self.run_id}-{n}",
                                "1",
                                f"t{self.run_id}_{n % 4}_{ms - ms % W}",
                                dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None),
                            ),
                        )
                    conn.commit()
                    self.committed += max(0, due)
                    time.sleep(0.1)
        except Exception as e:  # surfaced by the test
            self.error = e


def _sensor_runs(instance, after: float) -> list:
    return [r for r in instance.get_runs(filters=dg.RunsFilter(created_after=dt.datetime.fromtimestamp(after, dt.UTC)))]


def test_redis_losing_all_its_data_is_healed_by_the_daemon_alone(stack, tmp_path):
    # a tagged copy of the local pipeline (its own schema, connectors, topics, Flink job and keyspace), removed at
    # the end: the session's other modules never meet this test's stream
    pipe = LocalPipeline(stack, tmp_path)
    spec, defs = pipe.spec, pipe.defs
    spec_file = tmp_path / "pipeline.local.yaml"
    home = tmp_path / "dagster_home"
    workspace = write_home(home)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        _run_chaos(stack, pipe, spec, defs, spec_file, home, workspace, instance)
    finally:
        instance.dispose()
        problems = pipe.close()
        assert not problems, problems


def _run_chaos(stack, pipe, spec, defs, spec_file, home, workspace, instance):
    for job in ("provision_pipeline", "seed_demo_events"):
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
        assert result.success, f"{job}: {[e.message for e in result.all_events if e.is_failure][:3]}"
    compare = Reconciler(spec, stack).compare

    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(stack)
    env.update(
        {
            "CDC_PROFILE": "local",
            "CDC_HEALTH_INTERVAL_SECONDS": "5",
            "CDC_DQ_INTERVAL_SECONDS": "5",
            "CDC_DQ_MIN_INTERVAL_SECONDS": "5",
            "CDC_REBUILD_LAG_GRACE_SECONDS": "20",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env["CDC_PIPELINE_SPEC"] = str(spec_file)
    started = time.time()
    daemon = Daemon(home, env, workspace=workspace)
    stream = Stream(stack, os.urandom(3).hex(), pipe.schema)
    ok = False
    try:
        stream.start()

        def wait(what, probe, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                assert daemon.alive(), f"dagster-daemon exited with {daemon.proc.returncode}"
                assert stream.error is None, stream.error
                value = probe()
                if value:
                    return value
                time.sleep(1)
            raise AssertionError(
                f"{what} not within {timeout:.0f}s; runs: {[(r.job_name, r.status.value) for r in _sensor_runs(instance, started)]}"
            )

        # the daemon ticks and its data check passes under the running stream (rows in flight are not wrong)
        wait(
            "a passing data_quality run",
            lambda: any(r.job_name == "data_quality" and r.status == dg.DagsterRunStatus.SUCCESS for r in _sensor_runs(instance, started)),
            120,
        )
        stack_home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
        os.kill(int((stack_home / "run" / "redis.pid").read_text()), signal.SIGKILL)
        time.sleep(0.5)
        shutil.rmtree(stack_home / "run" / "redis-data")
        killed = time.time()
        up = subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), "up"], capture_output=True, text=True)
        assert up.returncode == 0, up.stdout + up.stderr
        assert not compare()[0].passed  # the data is gone: keys of closed windows (and the seed's) are missing

        def rebuilt():
            runs = [r for r in _sensor_runs(instance, killed) if r.job_name == "rebuild_redis"]
            return [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]

        [rebuild, *_] = wait("a successful rebuild_redis run", rebuilt, 150)
        assert rebuild.tags["dagster/sensor_name"] == "redis_rebuild" and rebuild.tags["cdc/reason"] == "new_failure"

        def matches():
            _, floor = compare()
            time.sleep(2)
            report, _ = compare(floor)
            return report.passed and floor is not None

        wait("Redis matching PostgreSQL under the stream", matches, 60)
        stream.stop.set()
        stream.join(10)
        # stream stopped: every committed row counted exactly once (no floor: Redis must equal PostgreSQL)
        report = wait("the exact reconciliation", lambda: (r := compare()[0]).passed and r, 60)
        assert report.source_events >= stream.committed and report.matched == report.keys_checked

        runs = _sensor_runs(instance, started)
        assert all(r.tags.get("dagster/sensor_name") for r in runs), "only the daemon's sensors launched runs"
        failed = [(r.job_name, r.tags.get("cdc/reason")) for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
        # the data_quality run that found the loss fails (its blocking check failed); nothing else does
        assert {j for j, _ in failed} <= {"data_quality"}, failed
        assert not [r for r in runs if r.job_name == "connector_incident"]
        ok = True
    finally:
        stream.stop.set()
        deadline = time.monotonic() + 90  # runs under way finish before the daemon stops (stopping fails them)
        while time.monotonic() < deadline and any(not r.is_finished for r in _sensor_runs(instance, started)):
            time.sleep(1)
        log = daemon.log()
        daemon.stop()
        if not ok:
            print(f"---- dagster-daemon log ----\n{log[-15000:]}")
