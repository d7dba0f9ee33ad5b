"""Shared by freshness.py and throughput.py: drive rows into the local profile's Postgres at a steady rate,
watch the Redis documents change (keyspace notifications, in a process of its own), turn both into one
commit -> visible latency per row; and the floor, a Kafka produce -> consume round trip on the same broker.

Each row gets event time = now, so it updates the current 1-minute window. Its NAME carries the window
(``b<run>_<n>_<window start>``): a Redis key then only ever holds one window, and "the row is visible" is
exactly "the key's EVENT_COUNT reached the count of rows of that NAME committed up to and including it".
"""

from __future__ import annotations

import bisect
import datetime as dt
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import dataclass, field

import psycopg

TABLE = "POC_CLICKSTREAM"
KEY_PREFIX = "USER_AGGREGATE_EVENTS:"
W = 60_000
TICK = 0.01  # one transaction per 10 ms tick carries the rows due by then


def pg_connect() -> psycopg.Connection:
    return psycopg.connect(
        host=os.environ["POSTGRES_HOST"],
        port=int(os.environ["POSTGRES_PORT"]),
        dbname=os.environ["POSTGRES_DB"],
        user=os.environ["POSTGRES_ADMIN_USER"],
        password=os.environ["POSTGRES_ADMIN_PASSWORD"],
        autocommit=False,
    )


def redis_port() -> int:
    return int(os.environ["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


# ------------------------------------------------------------------------------------------ Redis watcher


def _watch(port: int, pattern: str, ready, stop, out) -> None:
    import redis

    r = redis.Redis(port=port, decode_responses=True)
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe(f"__keyspace@0__:{pattern}")
    ready.set()
    seen: dict[str, int] = {}
    obs: list[tuple[float, str, int]] = []
    cut = len("__keyspace@0__:")
    while not stop.is_set():
        msg = ps.get_message(timeout=0.2)
        if msg is None:
            continue
        key = msg["channel"][cut:]
        raw = r.execute_command("JSON.GET", key, "$.EVENT_COUNT")
        t = time.time()
        count = int(raw.strip("[]")) if raw and raw != "[]" else 0
        if seen.get(key) != count:
            seen[key] = count
            obs.append((t, key, count))
    out.send(obs)


class DocWatcher:
    """Every change of EVENT_COUNT of the keys matching `pattern`, with the time it was seen. A JSON.SET (also
    from the sink's Lua script) fires a module keyspace event ('d' class), so no polling is needed."""

    def __init__(self, client, pattern: str):
        self.client = client
        self.pattern = pattern
        self._old = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
        flags = set(self._old) | {"K", "d"}
        client.config_set("notify-keyspace-events", "".join(sorted(flags)))
        ctx = mp.get_context("spawn")
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_watch, args=(redis_port(), pattern, self._ready, self._stop, send), daemon=True)
        self._proc.start()
        if not self._ready.wait(30):
            raise RuntimeError("the Redis watcher did not subscribe within 30 s")

    def finish(self) -> list[tuple[float, str, int]]:
        self._stop.set()
        obs = self._recv.recv()
        self._proc.join(10)
        self.client.config_set("notify-keyspace-events", self._old)
        return obs


# ------------------------------------------------------------------------------------------ load


@dataclass
class Load:
    run: str
    rows: list[tuple[float, str, int]] = field(default_factory=list)  # (commit time, key, expected count)
    behind_ticks: int = 0  # ticks that started late (the generator could not keep the rate)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.rows) / self.seconds if self.seconds else 0.0


def new_run() -> str:
    return uuid.uuid4().hex[:6]


def drive(conn: psycopg.Connection, rate: float, seconds: float, *, run: str, names: int = 10, load: Load | None = None) -> Load:
    """Insert `rate` rows/s for `seconds`, one transaction per tick, NAMEs round-robin over `names`. Pass `load`
    to watch its rows grow from another thread."""
    load = load or Load(run)
    counts: dict[str, int] = {}
    sql = (
        f'INSERT INTO "{TABLE}" ("EVENTID","ID","NAME","SESSIONID","EVENTTYPE","PAGEURL","EVENTTIMESTAMP") '
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
        "%s::timestamp[])"
    )
    start = time.time()
    sent = 0
    tick = 0
    with conn.cursor() as cur:
        while True:
            now = time.time()
            elapsed = now - start
            if elapsed >= seconds:
                break
            due = int(rate * min(elapsed + TICK, seconds)) - sent
            if due > 0:
                ms = int(now * 1000)
                ws = ms - ms % W
                ts = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).replace(tzinfo=None)
                ids = [f"{run}-{sent + i}" for i in range(due)]
                nm = [f"b{run}_{(sent + i) % names}_{ws}" for i in range(due)]
                cur.execute(sql, (ids, ["1"] * due, nm, ["bench"] * due, ["click"] * due, ["https://b/x"] * due, [ts] * due))
                conn.commit()
                t = time.time()
                for n in nm:
                    c = counts.get(n, 0) + 1
                    counts[n] = c
                    load.rows.append((t, KEY_PREFIX + n, c))
                sent += due
            tick += 1
            nxt = start + tick * TICK
            slack = nxt - time.time()
            if slack > 0:
                time.sleep(slack)
            else:
                load.behind_ticks += 1
                tick = int((time.time() - start) / TICK)
    load.seconds = time.time() - start
    return load


def latencies(load: Load, obs: list[tuple[float, str, int]]) -> tuple[list[float], int]:
    """Per row: the first time its key's EVENT_COUNT was seen at or above the row's count, minus its commit
    time (seconds). Also how many rows were never seen."""
    by_key: dict[str, tuple[list[int], list[float]]] = {}
    for t, key, count in sorted(obs):
        counts, times = by_key.setdefault(key, ([], []))
        if not counts or count > counts[-1]:  # running max: the first time each level was reached
            counts.append(count)
            times.append(t)
    out, unseen = [], 0
    for t_commit, key, c in load.rows:
        counts, times = by_key.get(key, ([], []))
        i = bisect.bisect_left(counts, c)
        if i == len(counts):
            unseen += 1
        else:
            out.append(max(0.0, times[i] - t_commit))
    return out, unseen


def settle(watch_seconds: float = 3.0) -> None:
    time.sleep(watch_seconds)


# ------------------------------------------------------------------------------------------ Kafka floor


def _consume(bootstrap: str, topic: str, n: int, ready, out) -> None:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}", "enable.auto.commit": False, "fetch.wait.max.ms": 100})
    _, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, hi)])
    c.poll(0.5)
    ready.set()
    lat, got, deadline = [], 0, time.time() + 600
    while got < n and time.time() < deadline:
        # consume() waits for its whole batch or the timeout: a short timeout, so records are not held back
        for m in c.consume(10000, 0.005):
            if m.error():
                continue
            now = time.time()
            got += 1
            lat.append(now - float(m.value().split(b",", 1)[0]))
    c.close()
    out.send((lat, time.time()))


def kafka_roundtrip(
    bootstrap: str, rate: float | None, n: int, *, topic: str = "bench.floor", linger_ms: int = 0
) -> tuple[list[float], float]:
    """Produce `n` ~150-byte records (at `rate`/s, or as fast as possible when None) and consume them in another
    process; returns (per-record produce -> consume seconds, records/s end to end)."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    if topic not in admin.list_topics(timeout=10).topics:
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_consume, args=(bootstrap, topic, n, ready, send), daemon=True)
    proc.start()
    ready.wait(60)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms, "acks": "all"})
    pad = b"x" * 120
    start = time.time()
    for i in range(n):
        if rate:
            slack = start + i / rate - time.time()
            if slack > 0:
                time.sleep(slack)
        while True:
            try:
                p.produce(topic, f"{time.time():.6f},".encode() + pad)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(60)
    lat, end = recv.recv()
    proc.join(10)
    return lat, n / (end - start)
