"""rebuild_redis on the real local pipeline: the redis_rebuild sensor ALONE (evaluated through its
definition, its requested run executed) heals a deleted and a corrupted key, and keys that were right
are not written at all, a busy window's replayed intermediate counts included (Redis MONITOR sees every
write, inside the sink's script too). A rebuild that cannot succeed
(aggregate topic deleted, engine down) ends in one incident naming the cause, not a loop; once the
cause is gone, a person's rebuild_redis run heals it through the engine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from tests.integration.local_pipeline import PREFIX, SINK, data_check, evaluations, local_pipeline, run, wait_data_passes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SENSOR = "redis_rebuild"


@pytest.fixture(scope="module")
def local(stack, tmp_path_factory):
    gen = local_pipeline(stack, tmp_path_factory)
    yield next(gen)
    gen.close()


def tick(ctx, cursor):
    sensor = ctx.defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(instance=ctx.instance, cursor=cursor) as sctx:
        data = sensor.evaluate_tick(sctx)
    return data.run_requests or [], data.cursor, data.skip_message


def read_all(redis) -> dict[str, dict]:
    return {k: json.loads(redis.r.execute_command("JSON.GET", k)) for k in redis.r.scan_iter(match=PREFIX + "*")}


class Monitor:
    """Every command Redis executes while it runs (MONITOR on a raw connection), so a test sees each
    write of a replay with its exact arguments."""

    ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')

    def __init__(self, redis):
        import redis as redis_py

        self.lines: list[bytes] = []
        # redis-py 8 reads with a 5 s socket timeout by default: a rebuild has longer quiet stretches than that
        self._conn = redis_py.Connection(
            socket_timeout=None,
            **{k: v for k, v in redis.r.connection_pool.connection_kwargs.items() if k in ("host", "port", "db", "password", "username")},
        )
        self._conn.connect()
        self._conn.send_command("MONITOR")
        assert self._conn.read_response() in (b"OK", "OK")
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        try:
            while not self._stop:
                self.lines.append(self._conn.read_response())
        except Exception:
            return

    def stop(self, redis):
        self._stop = True
        redis.r.ping()  # one more command wakes the loop
        self._t.join(timeout=10)
        self._conn.disconnect()

    def args(self) -> list[list[str]]:
        out = []
        for raw in self.lines:
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            out.append([_unescape(a) for a in self.ARG.findall(line)])
        return out

    def writes(self) -> list[tuple[str, str]]:
        """(key, document) of every JSON.SET Redis executed, sent directly or called inside the sink's script
        (MONITOR shows both; a script that refuses a record calls no JSON.SET)."""
        return [(a[1], a[3]) for a in self.args() if a and a[0].upper() == "JSON.SET" and len(a) > 3]

    def offered(self) -> list[tuple[str, str]]:
        """(key, document) of every record the sink offered through its latest-window script (EVALSHA numkeys
        key... doc ...), written or not."""
        out = []
        for a in self.args():
            if a and a[0].upper() == "EVALSHA" and len(a) > 3 and a[2].isdigit():
                n = int(a[2])
                if len(a) > 3 + n and a[3 + n].startswith("{"):  # the write script's document, not a tombstone's
                    out.append((a[3], a[3 + n]))
        return out


def _unescape(text: str) -> str:
    # MONITOR quotes arguments the way sdscatrepr does: \\, \", \n, \r, \t, \xHH
    return re.sub(
        r"\\(x[0-9a-fA-F]{2}|.)",
        lambda m: (
            chr(int(m.group(1)[1:], 16))
            if m.group(1).startswith("x")
            else {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}.get(m.group(1), m.group(1))
        ),
        text,
    )


def busy_window(stack, name: str, counts: int) -> int:
    """`counts` rows of `name` in one window, committed 2 s apart so the engine emits each intermediate count
    (1, 2, ...) as its own record; returns the window start (ms)."""
    import datetime as dt

    from tests.integration.local_env import pg_admin

    now = int(time.time() * 1000)
    start = now - now % 60_000
    with pg_admin(stack) as conn:
        for i in range(counts):
            conn.execute(
                'INSERT INTO "public"."POC_CLICKSTREAM" ("EVENTID","ID","NAME","EVENTTIMESTAMP") VALUES (%s, %s, %s, %s)',
                (f"busy-{name}-{now}-{i}", "1", name, dt.datetime.fromtimestamp((start + 1000 * i) / 1000, dt.UTC).replace(tzinfo=None)),
            )
            time.sleep(2)
    return start


def test_sensor_alone_detects_rebuilds_and_the_check_passes(local, redis_client, stack):
    # a busy window: a NAME of its own (the seed's NAMEs may have rows in this very minute), counted 1, 2, 3 in the
    # aggregate topic after the seed's records
    name = f"busy_{uuid.uuid4().hex[:6]}"
    busy = busy_window(stack, name, 3)
    wait_data_passes(local)
    before = read_all(redis_client)
    assert (before[f"{PREFIX}{name}"]["WINDOW_START"], before[f"{PREFIX}{name}"]["EVENT_COUNT"]) == (busy, 3)
    assert {f"{PREFIX}jdoe", f"{PREFIX}rsmith", f"{PREFIX}amary"} <= set(before), before
    requests, cursor, skip = tick(local, None)
    assert requests == [], skip  # data right: nothing to do

    redis_client.r.delete(f"{PREFIX}rsmith")
    redis_client.r.execute_command("JSON.SET", f"{PREFIX}jdoe", "$.EVENT_COUNT", "999")
    ev = data_check(local)
    assert not ev.passed
    problems = {r.data["problem"] for r in ev.metadata["mismatch_table"].records}
    assert problems == {"missing_in_redis", "count"}, problems

    [rr], cursor, _ = tick(local, cursor)
    assert rr.job_name == "rebuild_redis" and rr.run_config == {"ops": {"rebuild": {"config": {"sinks": [SINK]}}}}
    assert rr.tags["cdc/connector"] == SINK
    again, cursor_after, skip = tick(local, cursor)
    assert again == [] and "no_new_evaluation" in skip  # the same evaluation is acted on once

    monitor = Monitor(redis_client)
    try:
        result = run(local, rr.job_name, rr.run_config, rr.tags)
    finally:
        monitor.stop(redis_client)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    [after_ev] = evaluations(result)
    assert after_ev.passed and after_ev.metadata["rebuild_run"].value == result.run_id

    after = read_all(redis_client)
    assert after == before, (before, after)
    writes = monitor.writes()
    # keys that were right are not written at all: only the two repaired keys see a JSON.SET
    assert {k for k, _ in writes} == {f"{PREFIX}rsmith", f"{PREFIX}jdoe"}, writes
    assert json.loads([d for k, d in writes if k == f"{PREFIX}jdoe"][-1]) == before[f"{PREFIX}jdoe"]
    # the replay did re-send the busy window's intermediate counts; the sink wrote none of them
    offered = [json.loads(d)["EVENT_COUNT"] for k, d in monitor.offered() if k == f"{PREFIX}{name}"]
    assert offered == [1, 2, 3], monitor.offered()
    assert f"{PREFIX}{name}" not in {k for k, _ in writes}, writes

    assert data_check(local).passed
    requests, _, skip = tick(local, cursor_after)
    assert requests == [] and "passing" in skip


def _stack(*args: str) -> None:
    from tests.doubles.connect_plugins_fixture import worker_env

    # Flink (BlobServer, SQL Gateway) cannot bind a port while a socket of the stopped process is in TIME_WAIT
    # (up to 60 s on Linux): `start` is retried until the port is free
    deadline = time.monotonic() + 180
    while True:
        proc = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "stack.py"), *args], capture_output=True, text=True, env=worker_env(), timeout=600
        )
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rebuild_that_cannot_succeed_is_one_incident_then_a_manual_run_heals(local, redis_client, kafka_client):
    topic = "USER_AGGREGATE_EVENTS"
    before = read_all(redis_client)
    _, cursor, _ = tick(local, None)
    _stack("stop", "flink")
    try:
        assert kafka_client.delete_topic(topic)
        time.sleep(2)
        redis_client.r.execute_command("JSON.SET", f"{PREFIX}amary", "$.EVENT_COUNT", "77")
        assert not data_check(local).passed

        [rr], cursor, _ = tick(local, cursor)
        result = run(local, rr.job_name, rr.run_config, rr.tags)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        text = failure.event_specific_data.error.message
        # deleted: gone, or already created again empty by a consumer's metadata request (auto.create.topics.enable)
        assert f"the aggregate topic {topic} does not exist" in text or f"the aggregate topic {topic} is empty" in text, text
        assert "the engine could not rebuild it" in text and "Flink" in text, text
        [ev] = evaluations(result)
        assert not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
        assert {r.data["problem"] for r in ev.metadata["mismatch_table"].records} == {"count"}

        # no loop: the failed re-check is the incident; further failing checks request nothing
        for _ in range(2):
            requests, cursor, skip = tick(local, cursor)
            assert requests == [], skip
            assert not data_check(local).passed
        requests, cursor, skip = tick(local, cursor)
        assert requests == [] and "exhausted" in skip, skip
    finally:
        _stack("start", "flink")

    # the cause is gone (the engine is back): a person runs rebuild_redis for the sink
    result = run(local, "rebuild_redis", {"ops": {"rebuild": {"config": {"sinks": [SINK]}}}})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    [ev] = evaluations(result)
    assert ev.passed
    assert read_all(redis_client) == before
    requests, cursor, skip = tick(local, cursor)  # a passing evaluation closes the incident
    assert requests == [] and "passing" in skip
