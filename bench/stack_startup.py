"""Start-up time of the local stack: cold (empty Maven cache and stack home) and warm (jars cached,
fresh data directories). Runs on its own ports and its own CDC_STACK_HOME, so a running stack is
left alone.

    .venv/bin/python bench/stack_startup.py [--warm-runs 3] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "scripts" / "stack.py"


def run(env: dict, *args: str) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(STACK), *args], env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"stack {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("--skip-cold", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    env = {**os.environ, "CDC_STACK_HOME": str(work / "stack"),
           "STACK_KAFKA_PORT": "29092", "STACK_CONTROLLER_PORT": "29093",
           "STACK_CONNECT_PORT": "28083", "STACK_REDIS_PORT": "26379"}
    rows = []
    try:
        if not args.skip_cold:
            cold_env = {**env, "STACK_MAVEN_REPO": str(work / "m2")}  # empty Maven repository: downloads everything
            rows.append(("cold (empty Maven repository and stack home)", run(cold_env, "up")))
            run(cold_env, "down")
        else:
            run(env, "up")
            run(env, "down")
        for i in range(args.warm_runs):
            shutil.rmtree(work / "stack" / "run", ignore_errors=True)  # fresh data, cached jars
            rows.append((f"warm #{i + 1} (jars cached, empty data dirs)", run(env, "up")))
            run(env, "down")
    finally:
        subprocess.run([sys.executable, str(STACK), "down"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nlocal stack start-up on {os.cpu_count()} cores (Kafka KRaft + Connect with plugins + Redis/JSON)")
    print(f"{'start':45} {'seconds':>8}")
    for label, secs in rows:
        print(f"{label:45} {secs:8.1f}")


if __name__ == "__main__":
    main()
