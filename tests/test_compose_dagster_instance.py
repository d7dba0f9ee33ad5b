"""compose/dagster.yaml as a real DagsterInstance on a real PostgreSQL (tests/fixtures_postgres.py), running a job."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from dagster import job, op

from tests.compose_support import DAGSTER_YAML, _load_yaml

try:  # the PostgreSQL fixture; this module is also loaded by path in dagster's run subprocesses
    from fixtures_postgres import PostgresServer, postgres_server
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fixtures_postgres import PostgresServer, postgres_server  # noqa: F401

pytestmark = pytest.mark.unit


@op
def produce() -> int:
    return 21


@op
def double(x: int) -> int:
    return 2 * x


@job(tags={"cdc/connector": "compose-smoke"})
def compose_smoke_job():
    """The small job of the instance test (module level: its step processes load it from this file)."""
    double(produce())


def test_compose_dagster_yaml_is_a_working_instance_on_postgres(postgres_server: PostgresServer, tmp_path, monkeypatch):
    """compose/dagster.yaml, unmodified, becomes a DagsterInstance on PostgreSQL with the Docker launcher and the
    queued coordinator; the same file with only the run launcher swapped for the default one executes a job whose
    run, events and steps land in PostgreSQL (the job runs multiprocess, so the step processes reload the instance
    from its ref with the DAGSTER_POSTGRES_* variables, as run containers do)."""
    from dagster import DagsterInstance, execute_job, reconstructable
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.scheduler import DagsterDaemonScheduler
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from resources.run_launcher import SecretScopedDockerRunLauncher

    db = postgres_server.create_database("dagster_compose")
    monkeypatch.setenv("DAGSTER_POSTGRES_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_POSTGRES_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_POSTGRES_USER", postgres_server.user)
    monkeypatch.setenv("DAGSTER_POSTGRES_PASSWORD", postgres_server.password)
    monkeypatch.setenv("DAGSTER_POSTGRES_DB", db)

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.scheduler, DagsterDaemonScheduler)
        launcher = instance.run_launcher
        assert isinstance(launcher, SecretScopedDockerRunLauncher) and isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == ["cdc_net"]
        assert "ORACLE_PASSWORD" not in launcher.env_vars and "ORACLE_PASSWORD" in launcher.secret_env_vars
        assert launcher.container_kwargs["volumes"] == ["cdc_dagster_storage:/opt/dagster/dagster_home/storage"]
        assert launcher.container_kwargs["auto_remove"] is True
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        queue = coordinator.get_run_queue_config()
        assert any(
            lim["key"] == "cdc/connector" and lim["limit"] == 1 and lim["value"] == {"applyLimitPerUniqueValue": True}
            for lim in queue.tag_concurrency_limits
        )
        assert instance.run_monitoring_enabled
        assert instance.get_runs() == []  # storage reachable and empty

    swapped = tmp_path / "dagster_home_default_launcher"
    swapped.mkdir()
    cfg = _load_yaml(DAGSTER_YAML)
    cfg["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    (swapped / "dagster.yaml").write_text(yaml.safe_dump(cfg))
    with DagsterInstance.from_config(str(swapped)) as instance:
        assert isinstance(instance.run_launcher, DefaultRunLauncher)
        with execute_job(reconstructable(compose_smoke_job), instance=instance) as result:
            assert result.success
            assert result.output_for_node("double") == 42
            run_id = result.run_id

    # straight from PostgreSQL: the run row and its events are there
    conn = postgres_server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchone() == ("SUCCESS",)
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'", (run_id,))
            assert cur.fetchone() == (2,)
    finally:
        conn.close()

    # and the unmodified compose instance reads it back
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        assert run.tags.get("cdc/connector") == "compose-smoke"
