"""Reconciliation throughput on real Redis with JSON: read N aggregate documents and reconcile them
against expected counts, next to the practical limit (redis-benchmark issuing the same read,
pipelined, on the same server) and a naive one-JSON.GET-per-key loop. Same run, ratios.

Ours is streamed: SCAN pages feed pipelined JSON.MGETs and each document is compared as it arrives
(RedisJsonClient.iter_prefix -> compare_with_source), so memory does not grow with the keyspace; the
whole-keyspace read (read_prefix: every document in one dict, then compared) is measured next to it, and so is
the data check's own comparison (checks.compare_pass -> compare_streamed: the source's newest window per NAME
first, then the same streamed read, judging each document holding it as it arrives and keeping only the others
for a second source query; here every document holds its newest window, the normal case, so none is kept).
Each variant runs in a fresh interpreter, which reports its peak RSS (VmHWM) before and after.

Other processes share the 2 cores, so each round runs redis-benchmark, ours and the naive loop back to back
and the ratios are taken within the round; the table gives their median over the rounds (and the range).

    .venv/bin/python bench/reconcile_throughput.py [--sizes 100000 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import stack_env, table

from pipeline_defs.systems.redis.compare import AggregateShape, compare_streamed, compare_with_source
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


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries the parent's peak into a child across
    fork + exec, so a fresh interpreter would report the bench driver's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _recording(asked: list, counts: dict):
    """The second source query's stand-in: records that it was asked."""

    def later(since):
        asked.append(since)
        return counts

    return later


def measure(variant: str, n: int, runs: int) -> dict:
    """In this (fresh) interpreter: best time of `runs` reads + compares of the N documents, and peak RSS."""
    client = RedisResource(url=os.environ["REDIS_URL"]).get_client()
    shape = AggregateShape(PREFIX, "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", W)
    expected = expected_counts(n)
    base = peak_rss_mib()
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        if variant == "check":  # the data check's own comparison (checks.compare_pass), the source's answers given
            asked: list[int | None] = []
            docs = client.iter_prefix(PREFIX)
            report, _ = compare_streamed(docs, shape, expected, _recording(asked, expected))
            assert not asked, "every document holds its NAME's newest window: no second source query"
        else:
            docs = client.iter_prefix(PREFIX) if variant == "streamed" else client.read_prefix(PREFIX)
            report = compare_with_source(docs, None, shape, source_counts=expected)
        best = min(best, time.perf_counter() - t0)
        assert report.passed and report.keys_checked == n, (report.keys_checked, report.mismatches[:3])
        del docs, report
    return {"seconds": best, "base_mib": base, "peak_mib": peak_rss_mib()}


def fresh(variant: str, n: int, runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", variant, str(n), str(runs)], capture_output=True, text=True, env=os.environ
    )
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


def naive(client, n: int, sample: int) -> float:
    """Seconds a naive reader takes for all N keys: SCAN them all (timed whole), then one JSON.GET per key,
    timed on the first `sample` keys and scaled to N (one round trip per key: linear)."""
    t0 = time.perf_counter()
    keys = list(client.r.scan_iter(match=PREFIX + "*", count=1000))
    t_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in keys[:sample]:
        json.loads(client.r.execute_command("JSON.GET", k, "$"))
    return t_scan + (time.perf_counter() - t0) * n / min(sample, len(keys))


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


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of (redis-benchmark, ours, naive) per size")
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
        # Other processes share the cores: each round runs the three readers back to back, and the ratios are
        # taken within a round (the same load), then their median over the rounds is reported.
        ours, rbs, naives, r_rb, r_naive, peaks = [], [], [], [], [], []
        sample = min(n, 20_000)
        for _ in range(args.rounds):
            rb = redis_benchmark(port, n)
            st = fresh("streamed", n, 1)
            t_naive = naive(client, n, sample)
            rate = n / st["seconds"]
            ours.append(rate)
            rbs.append(rb)
            naives.append(n / t_naive)
            r_rb.append(rate / rb)
            r_naive.append(t_naive / st["seconds"])
            peaks.append((st["base_mib"], st["peak_mib"]))
        whole = fresh("whole", n, 1)
        check = fresh("check", n, 1)
        rows.append(
            [
                f"{n:,}",
                f"{_median(ours):,.0f}",
                f"{_median(rbs):,.0f}",
                f"{_median(naives):,.0f}",
                f"{_median(r_rb):.2f} ({min(r_rb):.2f}–{max(r_rb):.2f})",
                f"{_median(r_naive):.1f} ({min(r_naive):.1f}–{max(r_naive):.1f})",
                f"{n / check['seconds']:,.0f}",
                f"{n / whole['seconds']:,.0f}",
            ]
        )
        base, peak = max(peaks, key=lambda bp: bp[1] - bp[0])
        mem.append(
            [
                f"{n:,}",
                f"{base:.0f}",
                f"{peak:.0f}",
                f"{peak - base:.0f}",
                f"{check['peak_mib'] - check['base_mib']:.0f}",
                f"{whole['peak_mib']:.0f}",
                f"{whole['peak_mib'] - whole['base_mib']:.0f}",
            ]
        )
        client.delete_prefix(PREFIX)
    load_avg = "/".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load_avg}"
    table(
        f"Reconciliation throughput (docs/s, median of {args.rounds} interleaved rounds; ratios within a round, median (min–max))  [{stamp}]",
        [
            "N",
            "ours (streamed)",
            "redis-benchmark -P100",
            "naive loop",
            "ours / redis-benchmark",
            "ours vs naive (x)",
            "the data check (1 run)",
            "whole-keyspace read (1 run)",
        ],
        rows,
    )
    table(
        "Peak RSS (MiB, fresh interpreter; 'before' already holds the N expected source counts; worst round)",
        ["N", "before", "streamed: peak", "streamed: added", "data check: added", "whole read: peak", "whole read: added"],
        mem,
    )
    print(
        "ours = SCAN + JSON.MGET (pipelined, a reader thread) + compare_with_source, in a fresh interpreter, 1 run per round; "
        "redis-benchmark: JSON.GET <key> $ on random existing keys, -P 100 -c 1; naive: one JSON.GET per key, timed on "
        "20,000 keys and scaled to N, plus its SCAN of all N keys timed whole"
    )


if __name__ == "__main__":
    main()
