"""The Flink SQL engine against the real local stack (Kafka, Flink session cluster, SQL Gateway).

Debezium-shaped JSON (unwrapped, delete rewrite with __op/__deleted, key = the PK JSON) goes to a CDC topic,
the compiled job runs on Flink, and the aggregate topic is read back and compared with a small reference model
of the documented semantics (latest version per key, deletes retract, grace against the stream time).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline_defs.core.types import Neutral
from pipeline_defs.systems.flink.jobs import job_health, provision_job
from pipeline_defs.systems.flink.spec import FlinkEngine
from pipeline_defs.systems.flink.sql import (
    SourceColumn,
    SourceTable,
    compile_job,
    parse_job_name,
)
from resources.flink_gateway import FlinkSqlGatewayClient
from resources.flink_jobs import FlinkJobsClient

pytestmark = pytest.mark.integration

COLUMNS = (
    SourceColumn("EVENTID", Neutral.STRING),
    SourceColumn("ID", Neutral.STRING),
    SourceColumn("NAME", Neutral.STRING),
    SourceColumn("PAGEURL", Neutral.STRING),
    SourceColumn("EVENTTIMESTAMP", Neutral.TIMESTAMP),
)
MIN = 60_000


class Output:
    """Reads the aggregate topic in the background: every record with its arrival time."""

    def __init__(self, bootstrap: str, topic: str):
        self.records: list[tuple[float, tuple, dict | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"it-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )  # measure Flink, not our fetch wait
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            m = self._consumer.poll(0.05)
            if m is None or m.error():
                continue
            key = json.loads(m.key())
            value = json.loads(m.value()) if m.value() is not None else None
            with self._lock:
                self.records.append((time.time(), (key["NAME"], key["WINDOW_START"]), value))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()

    def latest(self) -> dict[tuple, int | None]:
        with self._lock:
            out: dict[tuple, int | None] = {}
            for _, key, value in self.records:
                out[key] = None if value is None else value["EVENT_COUNT"]
            return out

    def wait_for(self, expected: dict[tuple, int | None], timeout: float = 15.0) -> float:
        """Until the latest record of every expected key matches (None = tombstone); returns when."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.latest()
            if all(got.get(k, "absent") == v for k, v in expected.items()):
                return time.time()
            time.sleep(0.05)
        got = self.latest()
        wrong = {k: (got.get(k, "absent"), v) for k, v in expected.items() if got.get(k, "absent") != v}
        raise AssertionError(f"aggregate topic after {timeout}s: (got, wanted) {wrong}")


def model(inputs: list[tuple[str, dict | None]], size: int, grace: int) -> dict[tuple, int]:
    """The documented semantics in Python: grace against the running max event time, latest version per key."""
    stream_time, latest = None, {}
    for key, v in inputs:
        if v is None:
            continue
        ts = v.get("EVENTTIMESTAMP")
        if ts is not None:
            stream_time = ts if stream_time is None else max(stream_time, ts)
            if ts // size * size + size + grace <= stream_time:
                continue
        latest[key] = v
    counts: dict[tuple, int] = {}
    for v in latest.values():
        if v["__deleted"] != "true" and v["__op"] != "d" and v["NAME"] is not None:
            k = (v["NAME"], v["EVENTTIMESTAMP"] // size * size)
            counts[k] = counts.get(k, 0) + 1
    return counts


@pytest.fixture
def env(stack):
    uid = uuid.uuid4().hex[:8].upper()
    bootstrap = stack["KAFKA_BOOTSTRAP_SERVERS"]
    cdc_topic, obj = f"it.{uid}.public.POC_CLICKSTREAM", f"USER_AGGREGATE_EVENTS_{uid}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(cdc_topic, 1, 1), NewTopic(obj, 1, 1)]).values():
        f.result(30)
    gateway = FlinkSqlGatewayClient(stack["FLINK_GATEWAY_URL"])
    jobs = FlinkJobsClient(stack["FLINK_REST_URL"])
    out = Output(bootstrap, obj)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    sent: list[tuple[str, dict | None]] = []

    def send(eid: str, value: dict | None) -> float:
        producer.produce(cdc_topic, key=json.dumps({"EVENTID": eid}).encode(), value=None if value is None else json.dumps(value).encode())
        producer.flush(10)
        sent.append((eid, value))
        return time.time()

    def compile_(settings=None, **agg):
        spec = {
            "kind": "flink",
            "settings": settings or {},
            "objects": [
                {"name": "CLICKS", "source": {"table": "POC_CLICKSTREAM"}, "timestamp": "EVENTTIMESTAMP"},
                {"name": obj, "aggregate": {"from": "CLICKS", "group_by": "NAME", **agg}},
            ],
        }
        return compile_job(FlinkEngine.model_validate(spec), obj, lambda t: SourceTable(cdc_topic, COLUMNS, ("EVENTID",)), bootstrap)

    yield {
        "gateway": gateway,
        "jobs": jobs,
        "out": out,
        "send": send,
        "sent": sent,
        "compile": compile_,
        "obj": obj,
        "cdc_topic": cdc_topic,
    }
    out.close()
    for j in jobs.overview():
        p = parse_job_name(j.name)
        if p and p.object_name == obj and j.state in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING"):
            jobs.cancel(j.jid)
    gateway.close()
    jobs.close()


def row(eid, name, ts, op="c", page="/home"):
    return {
        "EVENTID": eid,
        "ID": "101",
        "NAME": name,
        "PAGEURL": page,
        "EVENTTIMESTAMP": ts,
        "__op": op,
        "__deleted": "true" if op == "d" else "false",
        "__source_ts_ms": int(time.time() * 1000),
    }


def running(jobs, obj) -> list:
    return [j for j in jobs.overview() if (p := parse_job_name(j.name)) and p.object_name == obj and j.state == "RUNNING"]


def test_flink_engine_end_to_end(env):
    send, out, jobs, gateway = env["send"], env["out"], env["jobs"], env["gateway"]
    now = int(time.time() * 1000)
    w0 = now // MIN * MIN - 3 * MIN  # three windows in the past
    w1, w2 = w0 + MIN, w0 + 2 * MIN
    window = {"size": "1 MINUTE", "grace": "10 MINUTES"}
    job = env["compile"](window=window)

    send("1", row("1", "jdoe", w0 + 1000))
    send("2", row("2", "jdoe", w0 + 2000))
    send("3", row("3", "rsmith", w0 + 3000))
    send("4", row("4", "jdoe", w1 + 1000))
    send("5", row("5", "carol", w2 + 1000))

    plan = provision_job(job, gateway, jobs, dry_run=True)
    assert plan.action == "would_create" and "no previous job" in plan.changes[0]
    assert not running(jobs, env["obj"])  # the plan wrote nothing
    created = provision_job(job, gateway, jobs, dry_run=False)
    assert created.action == "created" and created.metadata["state"] == "RUNNING"
    assert created.metadata["job_name"] == job.name and job.name.startswith(f"cdc:{env['obj']}:{job.hash[:12]}")
    out.wait_for({("jdoe", w0): 2, ("rsmith", w0): 1, ("jdoe", w1): 1, ("carol", w2): 1}, timeout=60)

    # an update that keeps NAME and the event time changes no count (not even for a moment)
    n_before = len(out.records)
    send("1", row("1", "jdoe", w0 + 1000, op="u", page="/changed"))
    send("6", row("6", "dave", w2 + 2000))  # a marker: once it is out, the update was processed too
    out.wait_for({("dave", w2): 1})
    assert all(v["EVENT_COUNT"] == 2 for _, k, v in out.records[n_before:] if k == ("jdoe", w0))
    # a delete retracts; the last row of a group leaves a tombstone for (NAME, WINDOW_START)
    send("2", row("2", "jdoe", w0 + 2000, op="d"))
    send("3", row("3", "rsmith", w0 + 3000, op="d"))
    send("3", None)  # Debezium's tombstone after the delete record: skipped
    out.wait_for({("jdoe", w0): 1, ("rsmith", w0): None})
    # an update that changes NAME moves the row's count
    send("4", row("4", "carol", w1 + 1000, op="u"))
    out.wait_for({("jdoe", w1): None, ("carol", w1): 1})
    # a late row (window W0, stream time in W2) within grace counts in its own window; one beyond grace does not
    send("7", row("7", "jdoe", w0 + 5000))
    send("8", row("8", "zed", w0 - 20 * MIN))
    send("9", row("9", "erin", w2 + 3000))  # marker
    out.wait_for({("jdoe", w0): 2, ("erin", w2): 1})
    assert not any(k[0] == "zed" for _, k, _v in out.records)
    assert out.latest() == {**model(env["sent"], MIN, 10 * MIN), ("rsmith", w0): None, ("jdoe", w1): None}

    # provisioning again with the same spec: unchanged, nothing written, the same job keeps running
    job_id = created.metadata["job_id"]
    again = provision_job(job, gateway, jobs, dry_run=False)
    assert (again.action, again.changes, again.metadata["job_id"]) == ("unchanged", [], job_id)

    # a compatible change (grace): stop with savepoint, resume from it; counts carry on
    graced = env["compile"](window={"size": "1 MINUTE", "grace": "9 MINUTES"})
    plan = provision_job(graced, gateway, jobs, dry_run=True)
    assert plan.action == "would_update" and "from the savepoint" in plan.changes[-1]
    assert [j.jid for j in running(jobs, env["obj"])] == [job_id]
    updated = provision_job(graced, gateway, jobs, dry_run=False)
    savepoint = updated.metadata["savepoints"][job_id]
    assert updated.action == "updated" and updated.metadata["restore_from"] == savepoint
    assert updated.metadata["state"] == "RUNNING" and jobs.job(job_id).state == "FINISHED"
    send("10", row("10", "jdoe", w0 + 6000))
    out.wait_for({("jdoe", w0): 3})  # 3, not 1: the state came from the savepoint, not from scratch

    # an incompatible change (window size): reported with the reason, state rebuilt from the earliest offsets
    wide = env["compile"](window={"size": "2 MINUTES", "grace": "9 MINUTES"})
    plan = provision_job(wide, gateway, jobs, dry_run=True)
    assert plan.action == "would_update"
    assert "window size changed (60000 ms -> 120000 ms)" in plan.changes[-1]
    assert "rebuilt from the source topic" in plan.changes[-1]
    rebuilt = provision_job(wide, gateway, jobs, dry_run=False)
    assert rebuilt.action == "updated" and "restore_from" not in rebuilt.metadata
    expected_wide = model(env["sent"], 2 * MIN, 9 * MIN)
    out.wait_for(expected_wide, timeout=60)

    # health: a cancelled job is resubmitted from its latest checkpoint; counts carry on without double counting
    wide_id = rebuilt.metadata["job_id"]
    deadline = time.time() + 30
    while jobs.latest_checkpoint_path(wide_id) is None and time.time() < deadline:
        time.sleep(0.5)
    checkpoint = jobs.latest_checkpoint_path(wide_id)
    assert checkpoint, "no checkpoint completed within 30 s"
    jobs.cancel(wide_id)
    jobs.wait_for_state(wide_id, ["CANCELED"], timeout=30)
    decision, repaired = job_health(wide, gateway, jobs, dry_run=True)
    assert decision.action == "resubmit" and repaired.action == "would_repair" and not running(jobs, env["obj"])
    decision, repaired = job_health(wide, gateway, jobs, dry_run=False)
    assert repaired.action == "repaired" and repaired.metadata["state"] == "RUNNING"
    assert decision.restore_path and decision.restore_path.startswith(checkpoint.rsplit("/chk-", 1)[0])
    n_before = len(out.records)
    send("11", row("11", "jdoe", w0 + 7000))
    wide_w0 = w0 // (2 * MIN) * (2 * MIN)
    expected_wide = model(env["sent"], 2 * MIN, 9 * MIN)
    out.wait_for(expected_wide)
    assert expected_wide[("jdoe", wide_w0)] == out.latest()[("jdoe", wide_w0)]
    # after the restore no key went above its true count (a replay from scratch would not, but a double count would)
    assert all(v is None or v["EVENT_COUNT"] <= expected_wide.get(k, 0) for _, k, v in out.records[n_before:])
    assert job_health(wide, gateway, jobs, dry_run=False)[0].action == "ok"


@pytest.mark.parametrize("mini_batch", [True, False])
def test_flink_latency_input_to_aggregate(env, mini_batch):
    """Time from producing a CDC record to the aggregate record that counts it, over 200 records."""
    send, out, jobs, gateway = env["send"], env["out"], env["jobs"], env["gateway"]
    job = env["compile"](settings={"mini_batch": mini_batch}, window={"size": "1 MINUTE", "grace": "1 MINUTE"})
    assert provision_job(job, gateway, jobs, dry_run=False).metadata["state"] == "RUNNING"
    ts = int(time.time() * 1000)
    send("warm", row("warm", "warm", ts))
    out.wait_for({("warm", ts // MIN * MIN): 1}, timeout=60)
    sent_at = []
    for i in range(200):
        sent_at.append(send(f"l{i}", row(f"l{i}", "lat", ts)))
        time.sleep(0.02)
    key = ("lat", ts // MIN * MIN)
    out.wait_for({key: 200})
    arrivals = [(t, v["EVENT_COUNT"]) for t, k, v in out.records if k == key and v]
    lat = [next(t for t, c in arrivals if c >= i + 1) - s for i, s in enumerate(sent_at)]
    q = statistics.quantiles(lat, n=100)
    p50, p99 = statistics.median(lat), q[98]
    print(
        f"\nflink latency (mini-batch {mini_batch}) over {len(lat)} records: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {max(lat) * 1000:.0f} ms; {len(arrivals)} output records"
    )
    assert p99 <= 1.0, f"p99 {p99:.3f}s > 1 s"


def test_flink_latency_at_1000_rows_per_second(env, stack):
    """3000 CDC records at ~1000/s over 10 groups (default settings): latency of each record to its count."""
    out, jobs, gateway = env["out"], env["jobs"], env["gateway"]
    job = env["compile"](window={"size": "1 MINUTE", "grace": "1 MINUTE"})
    assert provision_job(job, gateway, jobs, dry_run=False).metadata["state"] == "RUNNING"
    ts = int(time.time() * 1000)
    env["send"]("warm", row("warm", "warm", ts))
    out.wait_for({("warm", ts // MIN * MIN): 1}, timeout=60)
    producer = Producer({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"], "linger.ms": 0})
    topic = env["cdc_topic"]
    sent_at, ordinal, seen = [], [], {}
    start = time.time()
    for i in range(3000):
        while time.time() < start + i / 1000:
            producer.poll(0)
        name = f"n{i % 10}"
        seen[name] = seen.get(name, 0) + 1
        producer.produce(topic, key=json.dumps({"EVENTID": f"r{i}"}).encode(), value=json.dumps(row(f"r{i}", name, ts)).encode())
        sent_at.append(time.time())
        ordinal.append((name, seen[name]))
        producer.poll(0)
    producer.flush(10)
    rate = 3000 / (sent_at[-1] - start)
    w = ts // MIN * MIN
    out.wait_for({(f"n{g}", w): 300 for g in range(10)}, timeout=30)
    arrivals: dict[str, list[tuple[float, int]]] = {}
    for t, k, v in out.records:
        if v and k[1] == w:
            arrivals.setdefault(k[0], []).append((t, v["EVENT_COUNT"]))
    lat = [next(t for t, c in arrivals[name] if c >= n) - s for (name, n), s in zip(ordinal, sent_at, strict=True)]
    q = statistics.quantiles(lat, n=100)
    print(
        f"\nflink latency at {rate:.0f} rows/s over {len(lat)} records: p50 {statistics.median(lat) * 1000:.0f} ms, "
        f"p99 {q[98] * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
    )
    assert q[98] <= 1.0
