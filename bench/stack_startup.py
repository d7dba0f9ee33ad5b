"""Start-up time and memory of the whole local stack (Redis, PostgreSQL, Kafka, Connect, Flink JobManager,
TaskManager and SQL Gateway): cold (empty Maven repository, no pip cache, empty stack home), warm (jars and
Flink runtime cached, fresh data directories), each component's own ready time, the RSS of each component
once up, and how long `up` takes to bring back one component killed with -9. Runs on its own ports and its
own CDC_STACK_HOME, so a running stack is left alone.

    .venv/bin/python bench/stack_startup.py [--warm-runs 3] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from scripts.localstack.config import shifted_port_env  # noqa: E402

STACK = REPO / "scripts" / "stack.py"
COMPONENTS = ["redis", "postgres", "kafka", "connect", "flink-jobmanager", "flink-taskmanager", "flink-gateway"]
PORTS = shifted_port_env(20_000)  # a second stack beside the default one


def run(env: dict, *args: str) -> tuple[float, str]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(STACK), *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"stack {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def ready_times(stdout: str) -> dict[str, float]:
    """Seconds from launch to ready per component, from `up`'s progress lines."""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^stack: (\S+) ready on .*\(([\d.]+)s\)$", stdout, re.MULTILINE)}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss_mib(home: Path) -> dict[str, float]:
    """RSS per component; Postgres counts the postmaster and every backend (they carry its cluster name)."""
    out = {}
    for c in COMPONENTS:
        pid = int((home / "run" / f"{c}.pid").read_text())
        out[c] = _rss_kib(pid) / 1024
    postmaster = Path(f"/proc/{int((home / 'run' / 'postgres.pid').read_text())}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    cluster = re.search(r"cluster_name=(\S+)", postmaster).group(1)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if f"{cluster}:".encode() in (proc / "cmdline").read_bytes():
                    out["postgres"] += _rss_kib(int(proc.name)) / 1024
            except OSError:
                continue
    return out


def restart_after_kill(env: dict, home: Path) -> dict[str, float]:
    """`up` wall time after kill -9 of one component (the others stay up)."""
    out = {}
    for c in COMPONENTS:
        os.kill(int((home / "run" / f"{c}.pid").read_text()), signal.SIGKILL)
        time.sleep(0.5)
        out[c], _ = run(env, "up")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("--skip-cold", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    os.chmod(work, 0o755)  # Postgres runs as the `postgres` OS user under root: it must reach the home
    home = work / "stack"
    env = {**os.environ, "CDC_STACK_HOME": str(home), **PORTS}
    rows, per_component, rss, kills = [], [], {}, {}
    try:
        if not args.skip_cold:
            # empty Maven repository and no pip cache: everything is downloaded
            cold_env = {**env, "STACK_MAVEN_REPO": str(work / "m2"), "STACK_PIP_NO_CACHE": "1"}
            secs, out = run(cold_env, "up")
            rows.append(("cold (empty Maven repo, no pip cache, empty home)", secs))
            per_component.append(("cold", ready_times(out)))
            run(cold_env, "down")
        else:
            run(env, "up")
            run(env, "down")
        for i in range(args.warm_runs):
            shutil.rmtree(home / "run", ignore_errors=True)  # fresh data, cached jars and Flink runtime
            secs, out = run(env, "up")
            rows.append((f"warm #{i + 1} (cached, empty data dirs)", secs))
            per_component.append((f"warm #{i + 1}", ready_times(out)))
            if i == args.warm_runs - 1:
                time.sleep(10)  # let the JVMs settle after start-up
                rss = rss_mib(home)
                secs, _ = run(env, "up")
                rows.append(("up again, everything already up", secs))
                kills = restart_after_kill(env, home)
            run(env, "down")
    finally:
        subprocess.run([sys.executable, str(STACK), "down"], env=env, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nlocal stack start-up on {os.cpu_count()} cores (load average at the end {load[0]:.1f} {load[1]:.1f})")
    print(f"{'start':52} {'seconds':>8}")
    for label, secs in rows:
        print(f"{label:52} {secs:8.1f}")
    print(f"\n{'ready after launch (s)':22}" + "".join(f"{c:>18}" for c in COMPONENTS))
    for label, times in per_component:
        print(f"{label:22}" + "".join(f"{times.get(c, float('nan')):18.1f}" for c in COMPONENTS))
    if rss:
        print(f"\n{'RSS once up (MiB)':22}" + "".join(f"{c:>18}" for c in COMPONENTS) + f"{'total':>10}")
        print(f"{'':22}" + "".join(f"{rss[c]:18.0f}" for c in COMPONENTS) + f"{sum(rss.values()):10.0f}")
    if kills:
        print(f"\n{'up after kill -9 of (s)':22}" + "".join(f"{c:>18}" for c in COMPONENTS))
        print(f"{'':22}" + "".join(f"{kills[c]:18.1f}" for c in COMPONENTS))


if __name__ == "__main__":
    main()
