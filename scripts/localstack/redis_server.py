"""Redis 7 (Debian's redis-server) with the ReJSON module, AOF on so a restart keeps the data."""

from __future__ import annotations

import shutil
import subprocess

from . import install
from .config import HOST, PORTS, RUN, StackError
from .procs import Service, spawn


def cli(*args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-h", HOST, "-p", str(PORTS["redis"]), *args], check=False, capture_output=True, text=True, timeout=5
    ).stdout.strip()


def ready() -> bool:
    if cli("PING") != "PONG":
        return False
    return "ReJSON" in cli("MODULE", "LIST")


def launch() -> None:
    server = shutil.which("redis-server")
    if not server:
        raise StackError("redis-server not found: run scripts/bootstrap (installs Debian's redis-server)")
    module = install.rejson_path()
    data = RUN / "redis-data"
    data.mkdir(parents=True, exist_ok=True)
    # Append-only file, fsynced every second: a kill -9 loses at most a second of writes. No RDB snapshots.
    spawn(
        SERVICE,
        [
            server,
            "--bind",
            HOST,
            "--port",
            str(PORTS["redis"]),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "no",
            "--loadmodule",
            str(module),
        ],
    )


SERVICE = Service("redis", probe=ready, launch=launch, timeout=30, what="PING and the ReJSON module", ports=("redis",))
