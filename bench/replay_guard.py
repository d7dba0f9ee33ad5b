"""What the Redis sink's replay guard (redis.offsets.key) costs and saves, on the real local stack: our sink in the
real Connect worker reading a real topic into the real Redis, with the guard off (the alternative) and on.

A topic of `keys` NAMEs, each updated `updates` times in one window (a busy window: counts 1..updates), is read
twice by each sink: first from empty (every record new), then replayed from offset 0 after a reset (stop, DELETE
offsets, resume), which is what rebuild_redis does with a key that is already right. Per pass: seconds until the
sink's group committed the topic's end (Connect commits every second, so +-1 s), records/s, JSON.SET calls Redis
executed (INFO commandstats, scripts included) and whether every document ended right. With the guard on, the
replay must execute no JSON.SET at all; with it off it writes every record again, intermediate counts included.

    .venv/bin/python bench/replay_guard.py [--keys 20000] [--updates 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
import uuid
from functools import partial

import orjson
from _common import stack_env, table
from confluent_kafka import Producer

from pipeline_defs.systems.connect.offsets import stop_write_resume
from pipeline_defs.systems.redis.config import offsets_key_of
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource
from resources.redis_json import RedisResource

W = 1_796_131_620_000  # one window start for every record: each NAME's window is busy


def produce(bootstrap: str, topic: str, keys: int, updates: int) -> int:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20})
    n = 0
    for u in range(1, updates + 1):  # interleaved over the NAMEs, as a busy stream arrives
        for k in range(keys):
            name = f"n{k}"
            key = orjson.dumps({"NAME": name, "WINDOW_START": W})
            value = orjson.dumps({"NAME": name, "EVENT_COUNT": u, "WINDOW_START": W, "WINDOW_END": W + 60_000})
            while True:
                try:
                    p.produce(topic, value, key)
                    break
                except BufferError:
                    p.poll(0.1)
            n += 1
    assert p.flush(60) == 0, "records left unsent"
    return n


def replay_from_start(connect, name: str) -> None:
    """What rebuild_redis does to a sink: stop, reset its offsets, resume."""
    stop_write_resume(connect, name, partial(connect.reset_offsets, name))


def json_sets(r) -> int:
    return int(r.info("commandstats").get("cmdstat_json.set", {}).get("calls", 0))


def wait_committed(kafka, group: str, topic: str, end: int, started: float, timeout: float = 600.0) -> float:
    """Seconds from `started` until the group has committed the topic's end."""
    while True:
        lag = kafka.consumer_group_lag(group).per_partition
        if (topic, 0) in lag and lag[(topic, 0)] == 0 and end > 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{group} did not reach the end of {topic} within {timeout:.0f}s (lag {lag})")
        time.sleep(0.2)


def docs_right(r, space: str, keys: int, updates: int) -> bool:
    names = [f"{space}:n{k}" for k in range(keys)]
    for i in range(0, len(names), 1000):
        for raw in r.execute_command("JSON.MGET", *names[i : i + 1000], "$"):
            if raw is None or orjson.loads(raw)[0]["EVENT_COUNT"] != updates:
                return False
    return True


def one_pass(mode, phase, start, connect, kafka, r, name, topic, space, n, keys, updates) -> list:
    before = json_sets(r)
    t0 = time.monotonic()
    start()  # the stop and offset reset of a replay count too: rebuild_redis pays them
    took = wait_committed(kafka, f"connect-{name}", topic, n, t0)
    sets = json_sets(r) - before
    return [mode, phase, n, f"{took:.1f}", f"{n / took:,.0f}", f"{sets:,}", "yes" if docs_right(r, space, keys, updates) else "NO"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--updates", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    env = stack_env()
    run = uuid.uuid4().hex[:6]
    topic = f"bench_replay_{run}"
    kafka = KafkaResource(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"]).get_client()
    connect = KafkaConnectResource(url=env["KAFKA_CONNECT_URL"]).get_client()
    r = RedisResource(url=env["REDIS_URL"]).get_client().r
    kafka.create_topic(topic, 1)
    n = produce(env["KAFKA_BOOTSTRAP_SERVERS"], topic, args.keys, args.updates)
    rows, made = [], []
    try:
        for rnd in range(args.rounds):
            for mode in ("off", "on") if rnd % 2 == 0 else ("on", "off"):  # alternate who goes first
                name, space = f"bench-replay-{run}-{mode}-{rnd}", f"BR{run}{mode}{rnd}"
                cfg = {
                    "connector.class": "com.cdcplane.redis.RedisJsonSinkConnector",
                    "tasks.max": "1",
                    "topics": topic,
                    "redis.uri": env["REDIS_URL"],
                    "redis.key": space,
                    "redis.key.field": "NAME",
                    "redis.window.field": "WINDOW_START",
                    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
                    "key.converter.schemas.enable": "false",
                    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                    "value.converter.schemas.enable": "false",
                }
                if mode == "on":
                    cfg["redis.offsets.key"] = offsets_key_of(space)
                made.append((name, space))
                common = (connect, kafka, r, name, topic, space, n, args.keys, args.updates)
                rows.append(one_pass(mode, "first", partial(connect.create, name, cfg), *common))
                rows.append(one_pass(mode, "replay", partial(replay_from_start, connect, name), *common))
                if mode == "on":
                    rows[-1].append(f"{(r.memory_usage(offsets_key_of(space)) or 0) / 2**20:.1f} MiB")
                else:
                    rows[-1].append("-")
                rows[-2].append("")
    finally:
        for name, space in made:
            connect.delete(name)
            keys = list(r.scan_iter(match=f"{space}:*", count=1000))
            for i in range(0, len(keys), 1000):
                r.delete(*keys[i : i + 1000])
            r.delete(offsets_key_of(space))
        kafka.delete_topic(topic)
    table(
        f"Replay guard: {args.keys:,} NAMEs x {args.updates} updates of one window = {n:,} records, 1 partition",
        ["guard", "pass", "records", "seconds", "records/s", "JSON.SET", "docs right", "guard hash"],
        rows,
    )


if __name__ == "__main__":
    main()
