"""A real `dagster-daemon run` over the product's code location, for the benchmarks that let the product heal on
its own, and for the tests that prove it does: its own DAGSTER_HOME (SQLite, the queued run coordinator with the
one-run-per-connector tag limit, as dagster.yaml has it), the code imported from this checkout (PYTHONPATH), stopped
by process group with every stray of its process tree reported."""

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
    """`dagster-daemon run` in a process group of its own (its code server and run workers are its children).
    `env` is added to this process's environment minus its DAGSTER_* variables."""

    def __init__(self, home: Path, env: dict[str, str], *, workspace: Path | None = None, debug: bool = False):
        workspace = workspace or write_home(home)
        self.home = home
        self.log_path = home / "daemon.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
        full.update(env)
        full.update({"DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        levels = ["--log-level", "debug", "--code-server-log-level", "info"] if debug else []
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace), *levels],
            cwd=str(REPO),
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.proc.pid
        self.tree: set[int] = set()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> list[int]:
        """SIGTERM the whole group, then SIGKILL whatever of the daemon's process tree is left (by pid, including
        any child that left the group); returns the pids that needed SIGKILL."""
        tree = set(descendants(self.proc.pid)) | {self.proc.pid}
        try:
            os.killpg(self.pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (group_members(self.pgid) or alive(tree - {self.proc.pid})):
            try:
                self.proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        left = sorted(set(group_members(self.pgid)) | set(alive(tree - {self.proc.pid})))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        self.tree = tree
        return left


def _stat(pid: int) -> list[str] | None:
    try:
        # fields after "(comm)": state ppid pgrp ...
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pids) -> list[int]:
    return [p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"]  # a zombie is gone for our purposes


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(int(d.name))) is not None:
            children.setdefault(int(st[1]), []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def group_members(pgid: int) -> list[int]:
    return [
        int(d.name)
        for d in Path("/proc").iterdir()
        if d.name.isdigit() and (st := _stat(int(d.name))) is not None and int(st[2]) == pgid and st[0] != "Z"
    ]
