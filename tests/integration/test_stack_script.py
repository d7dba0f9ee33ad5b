"""scripts/stack on its own ports and home: `up` is idempotent, `status` tells, `down` leaves no process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _pids_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return [p for p in found if p != os.getpid()]


def test_up_twice_status_down(tmp_path, stack):  # `stack`: the jars are resolved and cached already
    home = tmp_path / "stack"
    home.mkdir()
    main_home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
    for part in ("lib", "plugins"):  # reuse the resolved jars: this test is about processes, not Maven
        shutil.copytree(main_home / part, home / part, symlinks=True)
    for stamp in main_home.glob(".jars-*"):
        shutil.copy2(stamp, home / stamp.name)
    env = {**os.environ, "CDC_STACK_HOME": str(home), "STACK_KAFKA_PORT": "39092", "STACK_CONTROLLER_PORT": "39093",
           "STACK_CONNECT_PORT": "38083", "STACK_REDIS_PORT": "36379"}
    run = lambda *a: subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    try:
        first = run("up")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "ports kafka=39092 controller=39093 connect=38083 redis=36379" in first.stdout
        assert "export KAFKA_CONNECT_URL=http://127.0.0.1:38083" in first.stdout
        second = run("up")
        assert second.returncode == 0
        for part in ("kafka already up", "connect already up", "redis already up"):
            assert part in second.stdout
        status = run("status")
        assert status.returncode == 0 and status.stdout.count("ready") == 3
        assert _pids_with(str(home))
    finally:
        down = run("down")
    assert down.returncode == 0
    assert _pids_with(str(home)) == []  # nothing strays: java processes carry the home in a -D marker
    assert run("status").returncode == 1
