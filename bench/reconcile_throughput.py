"""Reconciliation throughput on real Redis with JSON: read N aggregate documents and reconcile them
against expected counts, next to the practical limit (redis-benchmark issuing the same read,
pipelined, on the same server) and a naive one-JSON.GET-per-key loop. Same run, ratios.

Ours is streamed: SCAN pages feed pipelined JSON.MGETs and each document is compared as it arrives
(RedisJsonClient.iter_prefix -> compare_with_source), so memory does not grow with the keyspace; the
whole-keyspace read (read_prefix: every document in one dict, then compared) is measured next to it.
Each variant runs in a fresh interpreter, which reports its peak RSS (ru_maxrss) before and after.

    .venv/bin/python bench/reconcile_throughput.py [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time

from _common import stack_env, table

from pipeline_defs.systems.redis.compare import AggregateShape, compare_with_source
from resources.redis_json import RedisResource

PREFIX = "BENCH_AGG:"
W = 60_000
T0 = 1_795_000_000_000 - (1_795_000_000_000 % W)


def expected_counts(n: int) -> dict[tuple[str, int], int]:
    """The counts per (NAME, window) the source's GROUP BY gives for the N documents load() writes."""
    return {(f"user{i:012d}", T0): 1 + i % 5 for i in range(n)}


def load(client, n: int, chunk: int = 50_000) -> None:
    """N documents in Redis (written in chunks: the writer holds no more than `chunk` at once)."""
    client.delete_prefix(PREFIX)
    for lo in range(0, n, chunk):
        docs = {}
        for i in range(lo, min(n, lo + chunk)):
            name = f"user{i:012d}"  # redis-benchmark's __rand_int__ is 12 zero-padded digits
            docs[f"{PREFIX}{name}"] = {"USER_NAME": name, "EVENT_COUNT": 1 + i % 5, "WINDOW_START": T0, "WINDOW_END": T0 + W}
        client.set_many_json(docs)


def measure(variant: str, n: int, runs: int) -> dict:
    """In this (fresh) interpreter: best time of `runs` reads + compares of the N documents, and peak RSS."""
    client = RedisResource(url=os.environ["REDIS_URL"]).get_client()
    shape = AggregateShape(PREFIX, "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", W)
    expected = expected_counts(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        docs = client.iter_prefix(PREFIX) if variant == "streamed" else client.read_prefix(PREFIX)
        report = compare_with_source(docs, None, shape, source_counts=expected)
        best = min(best, time.perf_counter() - t0)
        assert report.passed and report.keys_checked == n, (report.keys_checked, report.mismatches[:3])
        del docs, report
    return {"seconds": best, "base_mib": base / 1024, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def fresh(variant: str, n: int, runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", variant, str(n), str(runs)], capture_output=True, text=True, env=os.environ
    )
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


def naive(client, n) -> float:
    t0 = time.perf_counter()
    keys = list(client.r.scan_iter(match=PREFIX + "*", count=1000))[:n]
    for k in keys:
        json.loads(client.r.execute_command("JSON.GET", k, "$"))
    return time.perf_counter() - t0


def redis_benchmark(port: int, n: int) -> float:
    """requests/s of redis-benchmark's JSON.GET on random existing keys, pipelined 100 deep."""
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-n",
            str(n),
            "-P",
            "100",
            "-r",
            str(n),
            "-q",
            "-c",
            "1",
            "JSON.GET",
            f"{PREFIX}user__rand_int__",
            "$",
        ],
        capture_output=True,
        text=True,
    ).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        variant, n, runs = args.measure
        print(json.dumps(measure(variant, int(n), int(runs))))
        return
    env = stack_env()
    port = int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    client = RedisResource(url=env["REDIS_URL"]).get_client()
    rows, mem = [], []
    for n in args.sizes:
        load(client, n)
        runs = 3 if n <= 200_000 else 1
        streamed = fresh("streamed", n, runs)
        whole = fresh("whole", n, runs)
        t_naive = naive(client, n) if n <= 20_000 else naive(client, 20_000) * n / 20_000
        rb = redis_benchmark(port, n)
        rate = n / streamed["seconds"]
        rows.append(
            [
                f"{n:,}",
                f"{rate:,.0f}",
                f"{n / whole['seconds']:,.0f}",
                f"{rb:,.0f}",
                f"{n / t_naive:,.0f}",
                f"{rate / rb:.2f}",
                f"{t_naive / streamed['seconds']:.1f}",
            ]
        )
        mem.append(
            [
                f"{n:,}",
                f"{streamed['base_mib']:.0f}",
                f"{streamed['peak_mib']:.0f}",
                f"{streamed['peak_mib'] - streamed['base_mib']:.0f}",
                f"{whole['peak_mib']:.0f}",
                f"{whole['peak_mib'] - whole['base_mib']:.0f}",
            ]
        )
        client.delete_prefix(PREFIX)
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load_avg}"
    table(
        f"Reconciliation throughput (docs/s; ours = streamed SCAN + JSON.MGET + compare_with_source)  [{stamp}]",
        ["N", "ours (streamed)", "whole-keyspace read", "redis-benchmark -P100", "naive loop", "ours/redis-benchmark", "ours vs naive (x)"],
        rows,
    )
    table(
        "Peak RSS (MiB, fresh interpreter; 'before' already holds the N expected source counts)",
        ["N", "before", "streamed: peak", "streamed: added", "whole read: peak", "whole read: added"],
        mem,
    )
    print(
        "naive loop above 20,000 keys is extrapolated from 20,000 (it is linear: one round trip per key); "
        "best of 3 runs up to 200,000 documents, 1 run above"
    )


if __name__ == "__main__":
    main()
