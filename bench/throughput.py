"""Sustained throughput of the local profile's data path: step the PostgreSQL insert rate up until the
p99 commit -> Redis freshness exceeds 2 s (or the generator cannot keep the rate); the highest passing step is
the sustained rate. Compared with raw Kafka produce + consume (one producer, one consumer, same broker,
same run) as a ratio. Each step also reports where the time goes, from the components' own metrics
(see _metrics.py): CPU per process, Flink busy / back-pressure per vertex, the largest backlog per hop.

    .venv/bin/python bench/throughput.py [--rates 1000 2000 3000 5000 7500 10000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from _common import REPO, stack_env, table
from _datapath import DocWatcher, Load, drive, kafka_roundtrip, latencies, new_run, pct, pg_connect, settle
from _metrics import Sampler, summarize

from resources.redis_json import RedisResource

P99_BOUND = 2.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", type=float, nargs="+", default=[1000, 2000, 3000, 5000, 7500, 10000])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--names", type=int, default=100)
    ap.add_argument("--kafka-records", type=int, default=300_000)
    args = ap.parse_args()
    env = stack_env()
    home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
    client = RedisResource(url=env["REDIS_URL"]).get_client().r
    conn = pg_connect()
    curve, where, best = [], [], None
    for rate in args.rates:
        run = new_run()
        watcher = DocWatcher(client, f"USER_AGGREGATE_EVENTS:b{run}_*")
        load = Load(run)
        sampler = Sampler(home, env["FLINK_REST_URL"], env["KAFKA_BOOTSTRAP_SERVERS"], client, lambda load=load: len(load.rows))
        sampler.start()
        drive(conn, rate, args.seconds, run=run, names=args.names, load=load)
        settle(max(5.0, P99_BOUND * 2))
        samples = sampler.stop()
        lat, unseen = latencies(load, watcher.finish())
        p99 = pct(lat, 99) if not unseen else float("inf")
        kept = load.rate >= 0.95 * rate
        ok = kept and p99 <= P99_BOUND
        if ok:
            best = load.rate
        curve.append(
            [
                f"{rate:,.0f}",
                f"{load.rate:,.0f}",
                f"{pct(lat, 50) * 1000:,.0f}",
                f"{pct(lat, 95) * 1000:,.0f}",
                f"{p99 * 1000:,.0f}",
                unseen,
                "yes" if ok else ("no (generator)" if not kept else "no"),
            ]
        )
        s = summarize(samples)
        busy = ", ".join(f"{v.split('[')[0].split(':')[0]} {s.busy[v]:.0f}/{s.backpressure[v]:.0f}" for v in s.busy)
        if s.flink_stale:
            busy = "stale (the JobManager serves old values)"
            s.backlog.pop(next(h for h in s.backlog if h.startswith("Flink")))
        cpu = ", ".join(f"{n} {p:.0f}" for n, p in s.cpu_pct.items())
        backlog = ", ".join(f"{h.split(' (')[0]} {n:,}" for h, n in s.backlog.items())
        where.append([f"{rate:,.0f}", cpu, busy, backlog, f"{s.redis_writes_per_s:,.0f}"])
        if not ok:
            break
    conn.close()
    _, kafka_rate = kafka_roundtrip(env["KAFKA_BOOTSTRAP_SERVERS"], None, args.kafka_records, topic="bench.raw", linger_ms=5)
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load_avg}"
    table(
        f"Rate against freshness (commit -> Redis, ms), {args.seconds:.0f} s per step, {args.names} NAMEs  [{stamp}]",
        ["target rows/s", "achieved", "p50", "p95", "p99", "never seen", f"p99 <= {P99_BOUND:.0f} s"],
        curve,
    )
    table(
        "Where the time goes per step (CPU % of one core over the step incl. settle; Flink vertex busy/back-pressured "
        "ms per s; largest backlog per hop, records)",
        ["target rows/s", "CPU %", "Flink busy/backpressure", "backlog", "Redis writes/s"],
        where,
    )
    best_txt = f"{best:,.0f}" if best else "none"
    ratio = f"{best / kafka_rate:.3f}" if best else "-"
    table(
        "Sustained throughput vs raw Kafka (same broker, same run)",
        ["pipeline rows/s (p99 <= 2 s)", "Kafka produce+consume records/s", "pipeline / Kafka"],
        [[best_txt, f"{kafka_rate:,.0f}", ratio]],
    )
    print("goal: >= 5,000 rows/s sustained")


if __name__ == "__main__":
    main()
