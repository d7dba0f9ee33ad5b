"""Apache Flink 2.2.1: a session cluster (JobManager + one TaskManager with 4 slots) and the SQL Gateway.

The runtime is the `pyflink` folder of the PyPI wheels (install.ensure_flink_dist). Flink's own scripts
run it in the foreground (`start-foreground` execs java), pointed by FLINK_{LIB,OPT,CONF,LOG,PID}_DIR at
folders under run/flink: symlinks to the wheel's jars plus the SQL Gateway and Kafka SQL connector jars
from Maven, and our config.yaml. site-packages stays untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

from . import install
from .config import FLINK_DIST, FLINK_JARS, HOST, MARKER, MARKER_PROPERTY, PORTS, RUN, StackError, endpoints
from .procs import Service, http_json, spawn

FLINK = RUN / "flink"
TM_RESOURCE_ID = RUN / "flink-taskmanager.resource-id"
DIRS = {name: FLINK / name for name in ("lib", "opt", "conf", "log", "pid", "tmp", "web-tmp")}
CHECKPOINTS = RUN / "flink-checkpoints"
SAVEPOINTS = RUN / "flink-savepoints"
GATEWAY_HEAP = "256m"


def _rest() -> str:
    return endpoints(secrets=False)["FLINK_REST_URL"]


def _link_folder(folder: Path, sources: list[Path]) -> None:
    """folder holds exactly one symlink per source jar/file (idempotent: a running process keeps its files)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {s.name: s for s in sources}
    for entry in folder.iterdir():
        if entry.name not in wanted or not entry.is_symlink() or Path(os.readlink(entry)) != wanted[entry.name]:
            entry.unlink()
    for name, src in wanted.items():
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(src)


def _config(dist: Path) -> dict[str, object]:
    # The wheel's config.yaml carries the --add-opens list Flink needs on JDK 17; keep it and add our marker.
    m = re.search(r"^\s*all:\s*(--add-\S.*)$", (dist / "conf" / "config.yaml").read_text(), re.MULTILINE)
    java_opts = f"{m.group(1).strip() if m else ''} {MARKER}".strip()
    return {
        "jobmanager.rpc.address": HOST,
        "jobmanager.rpc.port": PORTS["flink-rpc"],
        "jobmanager.bind-host": HOST,
        "jobmanager.memory.process.size": "768m",
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.host": HOST,
        "taskmanager.bind-host": HOST,
        "taskmanager.rpc.port": PORTS["flink-tm-rpc"],
        "taskmanager.data.port": PORTS["flink-tm-data"],
        # Job state lives on the JVM heap (hashmap backend below): a freshness job keeps one deduplication
        # entry per source row for the state TTL, ~hundreds of thousands at a few thousand rows/s. With 1 GB and
        # Flink's default managed fraction (0.4, memory only RocksDB and batch operators use) the task heap was
        # ~250 MB and the TaskManager stalled in GC until its heartbeat timed out (bench/throughput.py).
        "taskmanager.memory.process.size": "1536m",
        "taskmanager.memory.managed.fraction": 0.05,
        "taskmanager.numberOfTaskSlots": 4,  # four parallelism-1 jobs at once (a job without a slot restarts for ever)
        "parallelism.default": 1,  # more would make a job wait forever for slots
        "rest.address": HOST,
        "rest.bind-address": HOST,
        "rest.port": PORTS["flink-rest"],
        "blob.server.port": PORTS["flink-blob"],
        "sql-gateway.endpoint.rest.address": HOST,
        "sql-gateway.endpoint.rest.bind-address": HOST,
        "sql-gateway.endpoint.rest.port": PORTS["flink-gateway"],
        "table.local-time-zone": "UTC",
        # Checkpointing is off by default (sources then never commit offsets). State on the heap,
        # checkpointed to files every 5 s: a job whose TaskManager was killed restores from the last one
        # once a TaskManager is back.
        "state.backend.type": "hashmap",
        "execution.checkpointing.interval": "5s",
        "execution.checkpointing.dir": CHECKPOINTS.as_uri(),
        "execution.checkpointing.savepoint-dir": SAVEPOINTS.as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "exponential-delay",
        # a killed TaskManager is noticed in seconds rather than the default 50 s
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 15000,
        "io.tmp.dirs": str(DIRS["tmp"]),
        "web.tmpdir": str(DIRS["web-tmp"]),
        "env.java.opts.all": java_opts,
        "env.java.opts.sql-gateway": f"-Xmx{GATEWAY_HEAP} -Xms64m",  # no heap limit by default
    }


_PREPARE = threading.Lock()  # `up` launches the three Flink processes from threads of their own


def prepare() -> dict[str, str]:
    """Folders and config.yaml; the environment Flink's scripts need."""
    with _PREPARE:
        return _prepare()


def _prepare() -> dict[str, str]:
    dist = install.ensure_flink_dist()
    extra_lib, extra_opt = sorted((FLINK_JARS / "lib").glob("*.jar")), sorted((FLINK_JARS / "opt").glob("*.jar"))
    if not extra_lib or not extra_opt:
        raise StackError(f"{FLINK_JARS} lacks the Kafka SQL connector or the SQL Gateway jar: rerun `up` (stack/pom.xml resolves them)")
    for d in DIRS.values():
        d.mkdir(parents=True, exist_ok=True)
    _link_folder(DIRS["lib"], sorted((dist / "lib").glob("*.jar")) + extra_lib)
    # bin/sql-gateway.sh wants exactly one flink-sql-gateway*.jar in FLINK_OPT_DIR
    _link_folder(DIRS["opt"], sorted((dist / "opt").glob("*.jar")) + extra_opt)
    conf = DIRS["conf"]
    for name in ("log4j-console.properties", "logback-console.xml"):
        shutil.copy2(dist / "conf" / name, conf / name)
    # JSON is YAML: every value comes out quoted or numeric, as Flink's parser wants it
    text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in _config(dist).items())
    if not (conf / "config.yaml").exists() or (conf / "config.yaml").read_text() != text:
        (conf / "config.yaml").write_text(text)
    return {
        **os.environ,
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LIB_DIR": str(DIRS["lib"]),
        "FLINK_OPT_DIR": str(DIRS["opt"]),
        "FLINK_LOG_DIR": str(DIRS["log"]),
        "FLINK_PID_DIR": str(DIRS["pid"]),
    }


def _script(name: str) -> str:
    return str(FLINK_DIST / "pyflink" / "bin" / name)


# ---------------------------------------------------------------- JobManager


def jm_ready() -> bool:
    return "flink-version" in http_json(_rest() + "/overview")


def jm_launch() -> None:
    env = prepare()
    spawn(JOBMANAGER, ["bash", _script("jobmanager.sh"), "start-foreground", "-D", MARKER_PROPERTY], env=env)


# ---------------------------------------------------------------- TaskManager


def tm_ready() -> bool:
    """Our TaskManager (by the resource id it was started with; the JobManager lists a killed one until its
    heartbeat times out) is registered, and the cluster has slots."""
    rid = TM_RESOURCE_ID.read_text().strip() if TM_RESOURCE_ID.exists() else None
    tms = http_json(_rest() + "/taskmanagers").get("taskmanagers", [])
    mine = [tm for tm in tms if tm.get("id") == rid]
    if not mine:
        raise StackError(f"TaskManager {rid} not registered yet (listed: {[tm.get('id') for tm in tms]})")
    return mine[0].get("slotsNumber", 0) >= 1


def tm_slots() -> tuple[int, int]:
    o = http_json(_rest() + "/overview")
    return o.get("slots-available", 0), o.get("slots-total", 0)


def tm_launch() -> None:
    env = prepare()
    rid = f"cdc-tm-{int(time.time() * 1000)}"
    TM_RESOURCE_ID.write_text(rid + "\n")
    spawn(
        TASKMANAGER,
        ["bash", _script("taskmanager.sh"), "start-foreground", "-D", MARKER_PROPERTY, "-D", f"taskmanager.resource-id={rid}"],
        env=env,
    )


# ---------------------------------------------------------------- SQL Gateway


def gw_ready() -> bool:
    return "version" in http_json(endpoints(secrets=False)["FLINK_GATEWAY_URL"] + "/v1/info")


def gw_launch() -> None:
    env = prepare()
    spawn(GATEWAY, ["bash", _script("sql-gateway.sh"), "start-foreground", MARKER], env=env)


JOBMANAGER = Service(
    "flink-jobmanager",
    probe=jm_ready,
    launch=jm_launch,
    timeout=120,
    what=f"GET {HOST}:{PORTS['flink-rest']}/overview",
    ports=("flink-rest", "flink-rpc", "flink-blob"),
)
TASKMANAGER = Service(
    "flink-taskmanager",
    probe=tm_ready,
    launch=tm_launch,
    timeout=120,
    what="its resource id in the JobManager's /taskmanagers",
    ports=("flink-tm-rpc", "flink-tm-data"),
)
GATEWAY = Service(
    "flink-gateway",
    probe=gw_ready,
    launch=gw_launch,
    timeout=120,
    what=f"GET {HOST}:{PORTS['flink-gateway']}/v1/info",
    ports=("flink-gateway",),
)
