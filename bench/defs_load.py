"""Definitions load and memory: time and peak RSS to load `pipeline_defs` (what `dagster definitions
validate` does) next to a bare `import dagster`, each in a fresh interpreter; and the peak RSS of one
connector_health tick. Median of several runs.

    .venv/bin/python bench/defs_load.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _common import REPO, stack_env, table

BARE = "import time,resource; t=time.perf_counter(); import dagster; print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
OURS = (
    "import time,resource; t=time.perf_counter(); import dagster as dg; from pipeline_defs import defs; "
    "dg.Definitions.validate_loadable(defs); print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
TICK = """
import resource, time, dagster as dg
from pipeline_defs import defs
sensor = next(s for s in defs.sensors if s.name == 'connector_health')
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with dg.instance_for_test() as instance:
    with dg.build_sensor_context(instance=instance, definitions=defs, resources={k: defs.resources[k] for k in ("connect", "kafka")}) as ctx:
        t = time.perf_counter(); sensor.evaluate_tick(ctx); elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, before)
"""


def run(code: str, env=None) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return [float(x) for x in out.stdout.split()[-3:]] if code is TICK else [float(x) for x in out.stdout.split()[-2:]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    bare = [run(BARE) for _ in range(args.runs)]
    ours = [run(OURS) for _ in range(args.runs)]
    b_t, o_t = statistics.median(x[0] for x in bare), statistics.median(x[0] for x in ours)
    b_m, o_m = statistics.median(x[1] for x in bare) / 1024, statistics.median(x[1] for x in ours) / 1024
    table(
        "Definitions load (fresh interpreter, median)",
        ["what", "seconds", "peak RSS MiB"],
        [
            ["import dagster", f"{b_t:.2f}", f"{b_m:.0f}"],
            ["load + validate pipeline_defs", f"{o_t:.2f}", f"{o_m:.0f}"],
            ["our code adds", f"{(o_t - b_t) / b_t * 100:.0f} %", f"{o_m - b_m:.0f}"],
        ],
    )
    import os

    env = {**os.environ, **stack_env()}
    ticks = [run(TICK, env) for _ in range(3)]
    t_tick = statistics.median(x[0] for x in ticks)
    rss = statistics.median(x[1] for x in ticks) / 1024
    before = statistics.median(x[2] for x in ticks) / 1024
    table(
        "connector_health tick (real Connect, default spec; fresh interpreter, median)",
        ["seconds", "peak RSS MiB (code location + tick)", "RSS added by the tick MiB"],
        [[f"{t_tick:.3f}", f"{rss:.0f}", f"{rss - before:.0f}"]],
    )


if __name__ == "__main__":
    main()
