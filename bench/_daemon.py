"""A real `dagster-daemon run` over the product's code location, for the benchmarks that let the product heal on
its own: its own DAGSTER_HOME (SQLite, the queued run coordinator with the one-run-per-connector tag limit, as
dagster.yaml has it), the code imported from this checkout (PYTHONPATH), stopped by process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def write_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        yaml.safe_dump(
            {
                "telemetry": {"enabled": False},
                "run_coordinator": {
                    "module": "dagster._core.run_coordinator",
                    "class": "QueuedRunCoordinator",
                    "config": {
                        "max_concurrent_runs": 4,
                        "tag_concurrency_limits": [{"key": "cdc/connector", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}],
                    },
                },
            }
        )
    )
    workspace = home / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump({"load_from": [{"python_module": {"module_name": "pipeline_defs", "working_directory": str(REPO)}}]})
    )
    return workspace


class Daemon:
    def __init__(self, home: Path, env: dict[str, str]):
        workspace = write_home(home)
        self.log_path = home / "daemon.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
        full.update(env)
        full.update({"DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=str(REPO),
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers share its process group
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever of the group outlived the grace
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._log.close()
