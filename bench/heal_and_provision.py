"""Two figures on the real local stack with the whole pipeline (the end-to-end test environment):

1. No-op provisioning: provision_pipeline from empty, then again with nothing changed: write calls
   (Connect PUT/POST/DELETE, Oracle DDL/DML, ksqlDB CREATE/DROP) and time of each run.
2. Time to heal: from the Redis sink's task failing to the connector RUNNING again, with the
   connector_health sensor ticking every 10 s and every 30 s (the first tick after the failure lands
   at a random point of the interval, as it does for the daemon), the restart run executed as soon
   as it is requested. The cause (a Redis key of the wrong type) is removed when the failure is
   seen, as a transient fault would clear.

    .venv/bin/python bench/heal_and_provision.py [--trials 3] [--intervals 10 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
from _common import stack_env, table

from pipeline_defs.lineage import build_lineage
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import build_connector_health_sensor
from tests.doubles.connect_plugins_fixture import prepare_connect_plugin_doubles
from tests.integration.pipeline_env import JDOE_KEY as KEY
from tests.integration.pipeline_env import SINK, CountingConnect, break_sink, ksql_writes, materializations, pipeline_env, run, wait_state


class _TmpFactory:
    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def wait(ctx, want: str, timeout: float = 90.0) -> float:
    wait_state(ctx, SINK, want, timeout)
    return time.monotonic()


def heal_once(ctx, interval: float) -> float:
    sensor = build_connector_health_sensor(build_lineage(ctx.spec), policy=HealthPolicy(interval_seconds=int(interval)))
    break_sink(ctx)
    t_fail = time.monotonic()
    ctx.redis.r.delete(KEY)  # the cause clears
    time.sleep(random.uniform(0, interval))  # where the failure falls in the tick cycle
    while True:
        with dg.build_sensor_context(
            instance=ctx.instance, resources={"connect": ctx.resources["connect"], "kafka": ctx.resources["kafka"]}
        ) as sctx:
            result = sensor(sctx)
        reqs = [r for r in (result.run_requests or [])] if isinstance(result, dg.SensorResult) else []
        if reqs:
            for rr in reqs:
                ctx.defs.resolve_job_def(rr.job_name).execute_in_process(
                    run_config=rr.run_config, instance=ctx.instance, tags=rr.tags, raise_on_error=False
                )
            break
        time.sleep(interval)
    return wait(ctx, "RUNNING") - t_fail


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--intervals", type=int, nargs="+", default=[10, 30])
    args = ap.parse_args()
    doubles = prepare_connect_plugin_doubles()  # before the stack: the worker must load the plugin doubles
    env = stack_env()
    with tempfile.TemporaryDirectory() as tmp:
        gen = pipeline_env(env, doubles, _TmpFactory(Path(tmp)))
        ctx = next(gen)
        try:
            rows = []
            for label in ("first run (from empty)", "second run (nothing changed)"):
                c0, d0, k0 = CountingConnect.writes(), len(ctx.db.ddl_statements()), ksql_writes(ctx)
                t0 = time.perf_counter()
                result = run(ctx, "provision_pipeline")
                elapsed = time.perf_counter() - t0
                assert result.success
                mats = materializations(result)
                rows.append(
                    [
                        label,
                        f"{elapsed:.1f}",
                        CountingConnect.writes() - c0,
                        len(ctx.db.ddl_statements()) - d0,
                        ksql_writes(ctx) - k0,
                        sum(m["writes"] for m in mats.values()),
                    ]
                )
            table(
                "No-op provisioning (provision_pipeline, 14 assets + structural checks)",
                ["run", "seconds", "Connect writes", "Oracle DDL/DML", "ksqlDB writes", "writes in metadata"],
                rows,
            )

            heal_rows = []
            for interval in args.intervals:
                times = [heal_once(ctx, interval) for _ in range(args.trials)]
                heal_rows.append(
                    [
                        f"{interval} s",
                        f"{statistics.median(times):.1f}",
                        f"{max(times):.1f}",
                        f"{interval + 15}",
                        "yes" if max(times) < interval + 15 else "NO",
                    ]
                )
            table(
                "Time to heal a failed sink task (failure seen -> RUNNING again; seconds)",
                ["sensor interval", "median", "worst", "goal (interval + 15)", "met"],
                heal_rows,
            )
        finally:
            ctx.redis.r.delete(KEY)
            gen.close()


if __name__ == "__main__":
    main()
