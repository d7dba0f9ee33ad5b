"""Freshness of the local profile's data path: a row committed in PostgreSQL -> its Redis document's
EVENT_COUNT includes it (Debezium -> Kafka -> Flink SQL -> our Redis JSON sink), per row, at steady rates;
next to the floor, a Kafka produce -> consume round trip on the same broker at the same rate, same run.

Needs the pipeline provisioned on the local stack (CDC_PROFILE=local provision_pipeline); adds rows to
POC_CLICKSTREAM with NAMEs b<run>_*, which stay (they are real rows the data check counts).

    .venv/bin/python bench/freshness.py [--rates 100 1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from _common import stack_env, table
from _datapath import DocWatcher, drive, kafka_roundtrip, latencies, new_run, pct, pg_connect, settle

from resources.redis_json import RedisResource


def ms(x: float) -> str:
    return f"{x * 1000:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", type=float, nargs="+", default=[100, 1000])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--names", type=int, default=10, help="distinct NAMEs the rows cycle through")
    args = ap.parse_args()
    env = stack_env()
    client = RedisResource(url=env["REDIS_URL"]).get_client().r
    conn = pg_connect()
    rows = []
    for rate in args.rates:
        n_floor = int(rate * min(args.seconds, 10))
        floor, _ = kafka_roundtrip(env["KAFKA_BOOTSTRAP_SERVERS"], rate, n_floor)
        run = new_run()
        watcher = DocWatcher(client, f"USER_AGGREGATE_EVENTS:b{run}_*")
        load = drive(conn, rate, args.seconds, run=run, names=args.names)
        settle(5)
        lat, unseen = latencies(load, watcher.finish())
        rows.append(
            [
                f"{rate:,.0f}",
                f"{load.rate:,.0f}",
                f"{len(load.rows):,}",
                ms(pct(lat, 50)),
                ms(pct(lat, 95)),
                ms(pct(lat, 99)),
                ms(max(lat) if lat else float("nan")),
                unseen,
                ms(pct(floor, 50)),
                ms(pct(floor, 99)),
                f"{pct(lat, 99) / pct(floor, 99):.0f}",
            ]
        )
    conn.close()
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    table(
        f"Freshness: commit in PostgreSQL -> Redis document includes the row, per row (ms); floor = Kafka produce -> "
        f"consume, same broker, same rate, same run  [{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load_avg}]",
        ["target rows/s", "achieved", "rows", "p50", "p95", "p99", "max", "never seen", "floor p50", "floor p99", "p99 / floor p99"],
        rows,
    )
    print(
        f"goal: p99 <= 1,000 ms at 1,000 rows/s; {args.seconds:.0f} s per rate, rows round-robin over "
        f"{args.names} NAMEs, one transaction per 10 ms"
    )


if __name__ == "__main__":
    time.tzset()
    main()
