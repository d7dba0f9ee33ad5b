"""Shared by the benchmarks: the local stack's endpoints and a table printer."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def stack_env() -> dict[str, str]:
    """Bring the local stack up (idempotent) and return its endpoints."""
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), "up"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"local stack failed:\n{proc.stdout}\n{proc.stderr}")
    home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
    env = json.loads((home / "run" / "endpoints.json").read_text())
    os.environ.update(env)
    return env


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, {platform.machine()}"


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}  [{machine()}]")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
