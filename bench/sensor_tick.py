"""Health-sensor tick on a real Connect worker with 1, 10 and 50 connectors: our tick (one
GET /connectors?expand=status&expand=info, then the decisions) next to a naive loop that asks each
connector separately (GET /connectors, then status and config per connector: 1 + 2N requests).

    .venv/bin/python bench/sensor_tick.py [--counts 1 10 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from _common import stack_env, table

from pipeline_defs.systems.connect.healing import HealthPolicy, Memory, decide
from resources.connect import KafkaConnectClient, config_diff, connector_health

SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"


def configs(n: int, tmp: str) -> dict[str, dict[str, str]]:
    return {
        f"bench-src-{i:03d}": {"connector.class": SOURCE, "tasks.max": "1", "file": f"{tmp}/in-{i}.txt", "topic": f"bench-topic-{i:03d}"}
        for i in range(n)
    }


def ensure(client: KafkaConnectClient, desired: dict[str, dict[str, str]]) -> None:
    for name in [c for c in client.list_connectors() if c.startswith("bench-src-") and c not in desired]:
        client.delete(name)
    for name, cfg in desired.items():
        client.apply(name, cfg)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listing = client.connectors_expanded()
        if all(n in listing and connector_health(listing[n]["status"])[0] == "RUNNING" for n in desired):
            return
        time.sleep(0.5)
    raise SystemExit("connectors did not all reach RUNNING")


def our_tick(client, desired, memory) -> tuple[float, int]:
    before = len(client.requests_made)
    t0 = time.perf_counter()
    listing = client.connectors_expanded()
    decisions = decide(desired, listing, {}, memory, time.time(), HealthPolicy())
    elapsed = time.perf_counter() - t0
    assert all(d.reason == "healthy" for d in decisions), decisions
    return elapsed, len(client.requests_made) - before


def naive_tick(client, desired) -> tuple[float, int]:
    before = len(client.requests_made)
    t0 = time.perf_counter()
    names = client.list_connectors()
    for name in desired:
        assert name in names
        state, _ = connector_health(client.status(name))
        assert state == "RUNNING" and not config_diff({**desired[name], "name": name}, client.get_config(name))
    return time.perf_counter() - t0, len(client.requests_made) - before


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    env = stack_env()
    client = KafkaConnectClient(env["KAFKA_CONNECT_URL"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for n in args.counts:
                desired = configs(n, tmp)
                ensure(client, desired)
                memory = Memory()
                ours = [our_tick(client, desired, memory) for _ in range(args.repeat)]
                naive = [naive_tick(client, desired) for _ in range(args.repeat)]
                o, nv = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in naive)
                rows.append([n, f"{o * 1000:.1f}", ours[0][1], f"{nv * 1000:.1f}", naive[0][1], f"{nv / o:.1f}"])
        finally:
            for name in [c for c in client.list_connectors() if c.startswith("bench-src-")]:
                client.delete(name)
    table(
        "Health sensor tick on real Kafka Connect (median ms)",
        ["connectors", "ours ms", "ours requests", "naive ms", "naive requests", "naive/ours (x)"],
        rows,
    )


if __name__ == "__main__":
    main()
