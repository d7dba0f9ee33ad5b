"""Chaos with nothing lost, on the local real profile (PostgreSQL -> Debezium -> Kafka -> Flink SQL -> our Redis
JSON sink -> Redis) with a real `dagster-daemon` running the product's sensors.

Provisions the pipeline, starts a steady stream of inserts into POC_CLICKSTREAM (explicit event time = commit
time; the NAME carries its window, c<run>_<i>_<window start>, so every Redis key holds exactly one window and
its final count is checkable), then kills -9 in turn the Connect worker, the Flink TaskManager, Redis and the
Kafka broker; after each kill it restarts the stack as an operator would (`scripts/stack.py up`) and never
launches a run itself: the daemon's sensors must heal. Per fault: when the daemon first acted (a healing run
or a failed data check), when Redis matched the source again (the product's comparison, rows in flight allowed
for), which runs the daemon launched, rows inserted and, at the end, rows lost and double-counted (the
product's comparison with the stream stopped: every (NAME, window) of PostgreSQL against Redis).

    source /work/coord/ports_<you>.sh   # or the default ports
    .venv/bin/python bench/chaos.py [--rate 40] [--faults connect flink-taskmanager redis kafka]

The daemon's health sensors (connector_health, flink_health, redis_rebuild) tick every 5 s
(CDC_HEALTH_INTERVAL_SECONDS) and data_quality_trigger runs the checks at most every 15 s (CDC_DQ_INTERVAL_SECONDS,
CDC_DQ_MIN_INTERVAL_SECONDS); every other setting is the spec's and the stack's default (among them
CDC_REBUILD_LAG_GRACE_SECONDS=120: Redis only short of the source is rebuilt once it stays so for 2 minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import REPO, stack_env, table
from _daemon import Daemon, write_home
from _reconciler import Reconciler

TABLE = "POC_CLICKSTREAM"
W = 60_000
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
HEALING_JOBS = {
    "restart_connectors",
    "reregister_connectors",
    "repair_flink_jobs",
    "rebuild_redis",
    "connector_incident",
}


def log(msg: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {msg}", flush=True)


class Inserts(threading.Thread):
    """`rate` rows/s, one transaction per 100 ms; NAMEs c<run>_<i % names>_<window start>. Only committed rows
    are counted; a failed transaction is retried with the same rows."""

    def __init__(self, run: str, rate: float, names: int = 10):
        super().__init__(daemon=True)
        self.run_id, self.rate, self.names = run, rate, names
        self.stop_evt = threading.Event()
        self.committed: list[float] = []  # commit time per row
        self.errors = 0

    def run(self) -> None:
        from _datapath import pg_connect

        sql = (
            f'INSERT INTO "{TABLE}" ("EVENTID","ID","NAME","SESSIONID","EVENTTYPE","PAGEURL","EVENTTIMESTAMP") '
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamp[])"
        )
        conn = pg_connect()
        start, sent = time.time(), 0
        while not self.stop_evt.is_set():
            due = int(self.rate * (time.time() - start)) - sent
            if due > 0:
                ms = int(time.time() * 1000)
                ts = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).replace(tzinfo=None)
                ws = ms - ms % W
                ids = [f"c{self.run_id}-{sent + i}" for i in range(due)]
                nm = [f"c{self.run_id}_{(sent + i) % self.names}_{ws}" for i in range(due)]
                try:
                    with conn.cursor() as cur:
                        cur.execute(sql, (ids, ["1"] * due, nm, ["chaos"] * due, ["click"] * due, ["https://c/x"] * due, [ts] * due))
                    conn.commit()
                except Exception:
                    self.errors += 1
                    conn.close()
                    time.sleep(0.5)
                    conn = pg_connect()
                    continue
                now = time.time()
                self.committed += [now] * due
                sent += due
            time.sleep(0.1)
        conn.close()


DATA_LOSS = "redis-data-loss"


def kill9(home: Path, fault: str) -> str:
    """kill -9 the component; `redis-data-loss` also deletes Redis's append-only files before the restart (its
    disk or host lost: everything since the last backup, here everything, is gone; a kill -9 alone loses
    nothing Redis acknowledged, since its AOF writes reach the OS before the reply)."""
    component = "redis" if fault == DATA_LOSS else fault
    pid = int((home / "run" / f"{component}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    if fault == DATA_LOSS:
        time.sleep(0.5)
        shutil.rmtree(home / "run" / "redis-data")
        return f"{pid}; AOF deleted"
    return str(pid)


def stack_up() -> float:
    t = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), "up"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"scripts/stack.py up failed:\n{proc.stdout}\n{proc.stderr}")
    return time.monotonic() - t


def daemon_runs(instance, since: float) -> list:
    import dagster as dg

    after = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    return [
        r for r in instance.get_run_records(filters=dg.RunsFilter(created_after=after)) if r.dagster_run.tags.get("dagster/sensor_name")
    ]


def failed_data_checks(instance, key, since: float) -> list[float]:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as S

    recs = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    # when the evaluation was stored (a run's checks are planned when it starts, judged later)
    times = [r.event.timestamp if r.event else r.create_timestamp for r in recs if r.status == S.FAILED]
    return sorted(t for t in times if t >= since)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=40, help="rows/s inserted while the faults happen")
    ap.add_argument("--faults", nargs="+", default=["connect", "flink-taskmanager", "redis", "kafka", DATA_LOSS])
    ap.add_argument("--heal-timeout", type=float, default=300)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between the floor read and Redis's read when polling for heal")
    args = ap.parse_args()
    os.environ["CDC_PROFILE"] = "local"
    os.environ.pop("CDC_PIPELINE_SPEC", None)
    env = stack_env()
    home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))

    import dagster as dg

    from pipeline_defs.definitions import build_definitions
    from pipeline_defs.spec import load_spec

    spec = load_spec()
    dhome = Path(tempfile.mkdtemp(prefix="chaos_dagster_home_"))
    daemon_env = {
        **env,
        "CDC_PROFILE": "local",
        "CDC_HEALTH_INTERVAL_SECONDS": "5",
        "CDC_DQ_INTERVAL_SECONDS": "15",
        "CDC_DQ_MIN_INTERVAL_SECONDS": "15",
    }
    write_home(dhome)  # the daemon starts after provisioning, so its sensors see a provisioned pipeline
    instance = dg.DagsterInstance.from_config(str(dhome))
    defs = build_definitions(spec)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    t = time.monotonic()
    res = defs.resolve_job_def("provision_pipeline").execute_in_process(instance=instance, raise_on_error=False)
    if not res.success:
        sys.exit(f"provision_pipeline failed: {[e.message for e in res.all_events if e.is_failure][:3]}")
    log(f"provisioned in {time.monotonic() - t:.1f}s; starting dagster-daemon (DAGSTER_HOME={dhome})")
    daemon = Daemon(dhome, daemon_env)
    rec = Reconciler(spec, env)
    check_key = dg.AssetCheckKey(dg.AssetKey(list(next(iter(rec_nodes(spec))))), "matches_postgres")
    cdc_before = cdc_records(env)
    run = os.urandom(3).hex()
    prefix = f"c{run}_"
    inserts = Inserts(run, args.rate)
    results = []
    try:
        deadline = time.monotonic() + 180
        while not any(r.dagster_run.job_name == "data_quality" for r in daemon_runs(instance, 0)):
            if not daemon.alive() or time.monotonic() > deadline:
                sys.exit(f"the daemon did not launch its first data_quality run; log: {daemon.log_path}")
            time.sleep(2)
        log("daemon is ticking; starting the insert stream")
        inserts.start()
        if not wait_matched(rec, 240, args.settle):
            sys.exit("Redis did not match PostgreSQL before the first fault: nothing to measure against")
        log("Redis matches PostgreSQL under the stream; injecting the faults")
        time.sleep(5)
        for fault in args.faults:
            phase_rows0 = len(inserts.committed)
            t_kill = time.time()
            pid = kill9(home, fault)
            log(f"kill -9 {fault} (pid {pid})")
            time.sleep(3)  # the operator notices
            up_s = stack_up()
            log(f"scripts/stack.py up: {up_s:.1f}s")
            healed = wait_matched(rec, args.heal_timeout, args.settle)
            t_heal = time.time() if healed else None
            time.sleep(3)
            results.append({"fault": fault, "t0": t_kill, "t_heal": t_heal, "rows0": phase_rows0})
            log(f"{fault}: healed after {t_heal - t_kill:.0f} s" if t_heal else f"{fault}: NOT healed")
            time.sleep(5)
        inserts.stop_evt.set()
        inserts.join(30)
        log(f"stream stopped: {len(inserts.committed)} rows committed ({inserts.errors} failed transactions retried)")
        # the last rows drain, then the exact comparison (no floor: Redis must equal PostgreSQL)
        deadline = time.monotonic() + 180
        while True:
            rows, lost, double, mism = rec.exact(prefix)
            if (lost == 0 and double == 0) or time.monotonic() > deadline:
                break
            time.sleep(3)
        final_report, _ = rec.compare()
        # the daemon's runs still under way finish before it stops (stopping it would fail them)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and any(r.dagster_run.status.value in ACTIVE for r in daemon_runs(instance, 0)):
            time.sleep(2)
    finally:
        inserts.stop_evt.set()
        daemon.stop()
    cdc_delta = cdc_records(env) - cdc_before
    rows_table = summarize(results, instance, check_key, len(inserts.committed), args.heal_timeout)
    runs = daemon_runs(instance, 0)
    incidents = [r for r in runs if r.dagster_run.job_name == "connector_incident" or r.dagster_run.status.value == "FAILURE"]
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    table(
        f"Chaos on the local profile, a real dagster-daemon healing  [{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load avg {load}]",
        [
            "fault injected",
            "time to detect",
            "time to heal",
            "healing runs the daemon launched",
            "data_quality runs (failed)",
            "rows inserted",
        ],
        rows_table,
    )
    print(
        f"\nrows inserted {len(inserts.committed):,} (PostgreSQL holds {rows:,} of this run), rows lost {lost}, "
        f"rows double-counted {double}; matches_postgres over the whole keyspace afterwards: "
        f"{'PASSED' if final_report.passed else 'FAILED ' + str([(m.name, m.problem) for m in final_report.mismatches[:10]])}"
    )
    print(
        f"CDC records Debezium wrote for them: {cdc_delta:,} ({cdc_delta - len(inserts.committed):+,} re-delivered after a "
        "crash; the engine keeps one version per primary key, so they count once)"
    )
    dq_failed = [r for r in incidents if r.dagster_run.job_name == "data_quality"]
    other = [(r.dagster_run.job_name, r.dagster_run.tags.get("cdc/reason")) for r in incidents if r not in dq_failed]
    print(
        f"incidents and failed healing runs: {other or 'none'}; data_quality runs that failed while a hop was down "
        f"(its blocking data check, or a system unreachable): {len(dq_failed)}"
    )
    print(f"rate {args.rate:.0f} rows/s, {args.rate / 10:.0f} rows per NAME per second window; daemon log {daemon.log_path}")
    if lost or double:
        print("mismatches:", [(m.name, m.problem, m.redis_count, m.source_count) for m in mism[:20]])
    instance.dispose()
    sys.exit(0 if lost == 0 and double == 0 and all(r["t_heal"] for r in results) else 1)


def summarize(results: list[dict], instance, check_key, total_rows: int, timeout: float) -> list[list]:
    """One table row per fault, from what the daemon recorded between this kill and the next."""
    out = []
    for i, r in enumerate(results):
        t_next = results[i + 1]["t0"] if i + 1 < len(results) else float("inf")
        rows_next = results[i + 1]["rows0"] if i + 1 < len(results) else total_rows
        runs = [x for x in daemon_runs(instance, r["t0"]) if x.create_timestamp.timestamp() < t_next]
        heal_runs = [x for x in runs if x.dagster_run.job_name in HEALING_JOBS]
        fails = [t for t in failed_data_checks(instance, check_key, r["t0"]) if t < t_next]
        firsts = [x.create_timestamp.timestamp() for x in heal_runs] + fails
        named = Counter(f"{x.dagster_run.job_name} ({outcome(instance, x.dagster_run)})" for x in heal_runs)
        fault = r["fault"]
        out.append(
            [
                "kill -9 redis + AOF deleted" if fault == DATA_LOSS else f"kill -9 {fault}",
                f"{min(firsts) - r['t0']:.0f} s" if firsts else "-",
                f"{r['t_heal'] - r['t0']:.0f} s" if r["t_heal"] else f"NOT within {timeout:.0f} s",
                ", ".join(f"{k} x{v}" for k, v in sorted(named.items())) or "none (healed by the systems)",
                f"{sum(1 for x in runs if x.dagster_run.job_name == 'data_quality')} ({len(fails)} failed)",
                f"{rows_next - r['rows0']:,}",
            ]
        )
    return out


def outcome(instance, run) -> str:
    """A run's status, and for rebuild_redis what its re-check says it did (unchanged / replayed / ...)."""
    import re

    status = run.status.value.lower()
    if run.job_name != "rebuild_redis":
        return status
    for e in instance.all_logs(run.run_id):
        ev = e.dagster_event
        if ev and ev.event_type_value == "ASSET_CHECK_EVALUATION":
            m = re.search(r"after rebuild_redis \((\w+)\)", ev.event_specific_data.description or "")
            if m:
                return f"{status}: {m.group(1)}"
    return status


def cdc_records(env: dict[str, str]) -> int:
    """Records in the clicks table's CDC topic (pipeline.local.yaml's topic prefix and schema)."""
    from resources.kafka import KafkaResource

    topic = "cdc.public." + TABLE
    res = KafkaResource(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        return res.get_client().topic_counts([topic])[topic].end_offset
    finally:
        res.close_clients()


def rec_nodes(spec):
    from pipeline_defs.lineage import build_lineage

    return [n.key for n in build_lineage(spec).by_kind("redis_keys")]


def wait_matched(rec: Reconciler, timeout: float, settle: float) -> bool:
    """Poll until Redis matches the source with rows committed in the last `settle` seconds allowed in flight."""
    deadline = time.monotonic() + timeout
    _, floor = rec.compare()
    while time.monotonic() < deadline:
        time.sleep(settle)
        report, counts = rec.compare(floor)
        if report.passed and floor is not None:
            return True
        floor = counts
    return False


if __name__ == "__main__":
    main()
