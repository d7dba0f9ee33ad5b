"""Where the time goes, from each component's own metrics, sampled once a second while a load runs:
Kafka end offsets (the CDC topic Debezium writes, the aggregate topic Flink writes) and the Redis sink's
committed offsets (its consumer group), Flink's REST metrics per job vertex (records, busy and
back-pressured ms per second), Redis INFO (ops/s, cmdstat calls) and the CPU time of each stack process.
JMX is not reachable, and Connect's REST API has no task metrics, hence offsets for Connect."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

CDC_TOPIC = "cdc.public.POC_CLICKSTREAM"
AGG_TOPIC = "USER_AGGREGATE_EVENTS"
SINK_GROUP = "connect-redis-sink-json"
COMPONENTS = ("postgres", "connect", "kafka", "flink-taskmanager", "redis")


@dataclass
class Sample:
    t: float
    committed_rows: int
    cdc_end: int
    agg_end: int
    sink_committed: int
    flink: dict[str, dict[str, float]]  # vertex name -> metric -> value (max over subtasks; counters summed)
    redis_ops: int
    redis_writes: int  # evalsha + json.set calls
    cpu: dict[str, float]  # component -> CPU seconds of its process tree


def _tree_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class Sampler(threading.Thread):
    def __init__(self, stack_home: Path, flink_url: str, bootstrap: str, redis_client, rows_committed):
        super().__init__(daemon=True)
        from confluent_kafka import Consumer

        self.flink = httpx.Client(base_url=flink_url, timeout=5)
        self.redis = redis_client
        self.rows_committed = rows_committed
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": SINK_GROUP, "enable.auto.commit": False})
        self.procs = {}
        for name in COMPONENTS:
            pid_file = stack_home / "run" / f"{name}.pid"
            if pid_file.exists():
                self.procs[name] = psutil.Process(int(pid_file.read_text()))
        self.procs["bench (this driver + watcher)"] = psutil.Process()
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._job, self._vertices = self._flink_job()

    def _flink_job(self) -> tuple[str, dict[str, str]]:
        jobs = self.flink.get("/jobs/overview").json()["jobs"]
        job = next(j for j in jobs if j["state"] == "RUNNING" and AGG_TOPIC in j["name"])
        detail = self.flink.get(f"/jobs/{job['jid']}").json()
        vertices = {v["id"]: v["name"] for v in detail["vertices"]}
        return job["jid"], vertices

    def _flink_metrics(self) -> dict[str, dict[str, float]]:
        out = {}
        for vid, name in self._vertices.items():
            got = self.flink.get(
                f"/jobs/{self._job}/vertices/{vid}/subtasks/metrics",
                params={"get": "busyTimeMsPerSecond,backPressuredTimeMsPerSecond,numRecordsIn,numRecordsOut"},
            ).json()
            out[name] = {m["id"]: (m["sum"] if m["id"].startswith("numRecords") else m["max"]) for m in got}
        return out

    def _offsets(self) -> tuple[int, int, int]:
        from confluent_kafka import TopicPartition

        cdc = self.consumer.get_watermark_offsets(TopicPartition(CDC_TOPIC, 0), timeout=5)[1]
        agg = self.consumer.get_watermark_offsets(TopicPartition(AGG_TOPIC, 0), timeout=5)[1]
        committed = self.consumer.committed([TopicPartition(AGG_TOPIC, 0)], timeout=5)[0].offset
        return cdc, agg, max(committed, 0)

    def sample(self) -> Sample:
        cdc, agg, committed = self._offsets()
        info = self.redis.info("stats")
        cmd = self.redis.info("commandstats")
        writes = sum(cmd.get(k, {}).get("calls", 0) for k in ("cmdstat_evalsha", "cmdstat_json.set"))
        return Sample(
            time.time(),
            self.rows_committed(),
            cdc,
            agg,
            committed,
            self._flink_metrics(),
            int(info["instantaneous_ops_per_sec"]),
            writes,
            {n: _tree_cpu(p) for n, p in self.procs.items()},
        )

    def run(self) -> None:
        while not self._halt.is_set():
            t0 = time.time()
            try:
                self.samples.append(self.sample())
            except Exception as e:  # a missed sample must not end the benchmark
                print(f"sampler: {type(e).__name__}: {e}")
            self._halt.wait(max(0.0, 1.0 - (time.time() - t0)))

    def stop(self) -> list[Sample]:
        self._halt.set()
        self.join(10)
        self.consumer.close()
        self.flink.close()
        return self.samples


@dataclass
class StepSummary:
    cpu_pct: dict[str, float] = field(default_factory=dict)  # % of one core, per component
    busy: dict[str, float] = field(default_factory=dict)  # Flink vertex -> mean busy ms/s (max subtask)
    backpressure: dict[str, float] = field(default_factory=dict)
    backlog: dict[str, int] = field(default_factory=dict)  # hop -> largest backlog seen (records)
    redis_writes_per_s: float = 0.0
    flink_stale: bool = False


def summarize(samples: list[Sample]) -> StepSummary:
    s = StepSummary()
    if len(samples) < 2:
        return s
    a, b = samples[0], samples[-1]
    wall = b.t - a.t
    s.cpu_pct = {n: (b.cpu[n] - a.cpu[n]) / wall * 100 for n in a.cpu}
    src = next(iter(a.flink))
    # Flink's REST answers from the JobManager's metric store; after a TaskManager restart it kept serving the
    # dead TaskManager's last values (seen in a run): records that did not move while the topic grew are stale
    s.flink_stale = b.flink[src].get("numRecordsOut", 0) == a.flink[src].get("numRecordsOut", 0) and b.cdc_end > a.cdc_end
    for v in a.flink:
        s.busy[v] = sum(x.flink[v].get("busyTimeMsPerSecond", 0) for x in samples) / len(samples)
        s.backpressure[v] = sum(x.flink[v].get("backPressuredTimeMsPerSecond", 0) for x in samples) / len(samples)
    back = {
        "Debezium (committed - CDC topic)": 0,
        "Flink (CDC topic - Flink source out)": 0,
        "Redis sink (aggregate topic - sink committed)": 0,
    }
    for x in samples:
        keys = list(back)
        back[keys[0]] = max(back[keys[0]], (x.committed_rows - a.committed_rows) - (x.cdc_end - a.cdc_end))
        back[keys[1]] = max(
            back[keys[1]], int((x.cdc_end - a.cdc_end) - (x.flink[src].get("numRecordsOut", 0) - a.flink[src].get("numRecordsOut", 0)))
        )
        back[keys[2]] = max(back[keys[2]], x.agg_end - x.sink_committed)
    s.backlog = back
    s.redis_writes_per_s = (b.redis_writes - a.redis_writes) / wall
    return s
