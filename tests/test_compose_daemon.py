"""The compose stack's way of running the main job, against a real `dagster-daemon` with compose/dagster.yaml on a
real PostgreSQL (run monitoring on, QueuedRunCoordinator), a real `dagster code-server`, and the very launch command
scripts/run-main uses (compose/launch_job.py = cdc-launch-job in the image).

- launched through the instance, a job that runs across several monitoring passes ends SUCCESS and the command
  exits 0; a failing job exits 1 with the reason; an unknown job exits 2. There is no Docker engine here, so only
  for this test the run launcher is Dagster's default one (runs as processes of the code server); everything else
  in compose/dagster.yaml is used as it is, except a 2 s monitoring poll instead of 60 s to keep the test short;
- negative control, with the unmodified launcher: `dagster job execute` (what the compose README used to document)
  is marked FAILED mid-run by the same daemon: "No container ID tag for run."
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGSTER_YAML = ROOT / "compose" / "dagster.yaml"
LAUNCH_JOB = ROOT / "compose" / "launch_job.py"
JOBS_FILE = Path(__file__).resolve().parent / "compose_daemon_jobs.py"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures_postgres import PostgresServer, postgres_server  # noqa: F401  (the session fixture, by name)

pytestmark = pytest.mark.unit

MONITORING_POLL_SECONDS = 2


def _free_port(lo: int = 22400, hi: int = 22500) -> int:
    for port in range(lo, hi):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {lo}-{hi}")


def _instance_home(path: Path, *, default_launcher: bool) -> Path:
    cfg = yaml.safe_load(DAGSTER_YAML.read_text())
    if default_launcher:  # no Docker engine here: runs become processes of the code server instead of containers
        cfg["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    assert cfg["run_monitoring"]["enabled"] is True
    cfg["run_monitoring"]["poll_interval_seconds"] = MONITORING_POLL_SECONDS
    path.mkdir(parents=True)
    (path / "dagster.yaml").write_text(yaml.safe_dump(cfg))
    return path


def _env(pg: PostgresServer, db: str, home: Path, monkeypatch, **extra: str) -> dict[str, str]:
    """The processes' environment; the test process reads the same instance, so it gets the storage settings too."""
    storage = {
        "DAGSTER_POSTGRES_HOST": pg.host,
        "DAGSTER_POSTGRES_PORT": str(pg.port),
        "DAGSTER_POSTGRES_USER": pg.user,
        "DAGSTER_POSTGRES_PASSWORD": pg.password,
        "DAGSTER_POSTGRES_DB": db,
    }
    for k, v in storage.items():
        monkeypatch.setenv(k, v)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CDC_"))}
    env.update(DAGSTER_HOME=str(home), **storage, **extra)
    return env


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], log: Path):
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server/daemon and the children it started
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait(what: str, predicate, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"{what} within {timeout:.0f}s\n{tails}")


@contextlib.contextmanager
def _control_plane(tmp_path: Path, env: dict[str, str]):
    """A code server for tests/compose_daemon_jobs.py and a daemon on the instance in env, both ready."""
    from dagster import DagsterInstance

    port = _free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump({"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": "cdc_pipeline"}}]})
    )
    server_log, daemon_log = tmp_path / "code-server.log", tmp_path / "daemon.log"
    server_cmd = [
        str(BIN / "dagster"),
        "code-server",
        "start",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-f",
        str(JOBS_FILE),
        "--location-name",
        "cdc_pipeline",
    ]
    with _process(server_cmd, env, server_log):
        health = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)]
        _wait(
            "the code server did not serve",
            lambda: subprocess.run(health, env=env, capture_output=True, check=False).returncode == 0,
            90,
            [server_log],
        )
        with _process([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, daemon_log):
            home = env["DAGSTER_HOME"]

            def monitoring_alive() -> bool:
                with DagsterInstance.from_config(home) as instance:
                    return "MONITORING" in instance.get_daemon_heartbeats()

            _wait("the daemon's run monitoring did not start", monitoring_alive, 120, [daemon_log])
            yield workspace, daemon_log


def test_main_job_launched_through_the_instance_survives_run_monitoring(request, tmp_path, monkeypatch):
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRunStatus

    pg: PostgresServer = request.getfixturevalue("postgres_server")
    db = pg.create_database()
    home = _instance_home(tmp_path / "home", default_launcher=True)
    env = _env(pg, db, home, monkeypatch, CDC_TEST_JOB_SECONDS="8")
    with _control_plane(tmp_path, env) as (workspace, daemon_log):

        def launch(job: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, str(LAUNCH_JOB), "-w", str(workspace), "-j", job, "--poll", "1", "--timeout", "240"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        proc = launch("slow_job")
        assert proc.returncode == 0, proc.stderr + daemon_log.read_text()[-3000:]
        run_id = re.search(r"launched slow_job as run ([0-9a-f-]{36})", proc.stderr).group(1)
        states = re.findall(rf"slow_job run {run_id}: (\w+)", proc.stderr)
        assert states[-1] == "SUCCESS" and "STARTED" in states, proc.stderr
        with DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(run_id)
            assert run.status == DagsterRunStatus.SUCCESS
            worker_checks = [e.message for e in instance.all_logs(run_id) if e.message and "run worker" in e.message]
            assert not worker_checks, worker_checks
        # the daemon's monitoring looked at this very run while it was in progress, and let it be
        assert f"Checking run {run_id}" in daemon_log.read_text()

        proc = launch("failing_job")
        assert proc.returncode == 1, proc.stderr
        assert re.search(r"failing_job run [0-9a-f-]{36} ended FAILURE: .*fail_on_purpose", proc.stderr), proc.stderr

        proc = launch("no_such_job")
        assert proc.returncode == 2
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("cdc-launch-job: could not launch no_such_job"), proc.stderr


def test_negative_control_job_execute_is_failed_by_run_monitoring_under_the_docker_launcher(request, tmp_path, monkeypatch):
    """Why run-main launches instead: with compose/dagster.yaml's own launcher the daemon fails an in-process run."""
    from dagster import DagsterEventType, DagsterInstance

    pg: PostgresServer = request.getfixturevalue("postgres_server")
    db = pg.create_database()
    home = _instance_home(tmp_path / "home", default_launcher=False)
    env = _env(pg, db, home, monkeypatch, CDC_TEST_JOB_SECONDS="8")
    with _control_plane(tmp_path, env):
        proc = subprocess.run(
            [str(BIN / "dagster"), "job", "execute", "-f", str(JOBS_FILE), "-j", "slow_job"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        with DagsterInstance.from_config(str(home)) as instance:
            (run,) = instance.get_runs()
            failures = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
            messages = [r.event_log_entry.dagster_event.message or "" for r in failures]
    assert any("No container ID tag for run." in m for m in messages), (messages, proc.stdout[-2000:], proc.stderr[-2000:])
