"""Reconciliation throughput on real Redis with JSON: read N aggregate documents and reconcile them
against expected counts, next to the practical limit (redis-benchmark issuing the same read,
pipelined, on the same server) and a naive one-JSON.GET-per-key loop. Same run, ratios.

    .venv/bin/python bench/reconcile_throughput.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time

from _common import stack_env, table

from pipeline_defs.systems.redis.compare import AggregateShape, compare_with_source
from resources.redis_json import RedisResource

PREFIX = "BENCH_AGG:"
W = 60_000
T0 = 1_795_000_000_000 - (1_795_000_000_000 % W)


def load(client, n: int) -> dict[tuple[str, int], int]:
    """N documents in Redis and the expected counts per (NAME, window), as the source's GROUP BY gives them."""
    client.delete_prefix(PREFIX)
    docs, expected = {}, {}
    for i in range(n):
        name = f"user{i:012d}"  # redis-benchmark's __rand_int__ is 12 zero-padded digits
        count = 1 + i % 5
        docs[f"{PREFIX}{name}"] = {"USER_NAME": name, "EVENT_COUNT": count, "WINDOW_START": T0, "WINDOW_END": T0 + W}
        expected[(name, T0)] = count
    client.set_many_json(docs)
    return expected


def ours(client, expected, shape) -> float:
    t0 = time.perf_counter()
    docs = client.read_prefix(PREFIX)
    report = compare_with_source(docs, None, shape, source_counts=expected)
    elapsed = time.perf_counter() - t0
    assert report.passed and report.keys_checked == len(docs), report.mismatches[:3]
    return elapsed


def naive(client, n) -> float:
    t0 = time.perf_counter()
    keys = list(client.r.scan_iter(match=PREFIX + "*", count=1000))[:n]
    for k in keys:
        json.loads(client.r.execute_command("JSON.GET", k, "$"))
    return time.perf_counter() - t0


def redis_benchmark(port: int, n: int) -> float:
    """requests/s of redis-benchmark's JSON.GET on random existing keys, pipelined 100 deep."""
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-P", "100", "-r", str(n), "-q", "-c", "1",
                          "JSON.GET", f"{PREFIX}user__rand_int__", "$"], capture_output=True, text=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    env = stack_env()
    port = int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    client = RedisResource(url=env["REDIS_URL"]).get_client()
    shape = AggregateShape(PREFIX, "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", W)
    rows = []
    for n in args.sizes:
        events = load(client, n)
        t_ours = min(ours(client, events, shape) for _ in range(3))
        t_naive = naive(client, n) if n <= 20_000 else naive(client, 20_000) * n / 20_000
        rb = redis_benchmark(port, n)
        ours_rate = n / t_ours
        rows.append([f"{n:,}", f"{ours_rate:,.0f}", f"{rb:,.0f}", f"{n / t_naive:,.0f}",
                     f"{ours_rate / rb:.2f}", f"{t_naive / t_ours:.1f}"])
        client.delete_prefix(PREFIX)
    table("Reconciliation throughput (docs/s; ours = SCAN + JSON.MGET + compare_with_source)",
          ["N", "ours", "redis-benchmark -P100", "naive loop", "ours/redis-benchmark", "ours vs naive (x)"], rows)
    print("naive loop above 20,000 keys is extrapolated from 20,000 (it is linear: one round trip per key)")


if __name__ == "__main__":
    main()
