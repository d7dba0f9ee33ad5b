"""pytest plugin: the Java Kafka Connect plugin doubles on the real local stack.

Two connector plugins of the pipeline cannot be had on this machine -- the Redis sink
com.redis:redis-kafka-connect 0.9.1 (not on Maven Central) and Confluent's premium Oracle CDC source
2.14.2 -- so tests/doubles/connect_plugins/ holds contract doubles of both, compiled at test time with
javac against the worker's own jars and installed into <stack home>/test-plugins/, which
scripts/stack.py adds to the worker's plugin.path when it exists.

Wiring (root conftest):

    pytest_plugins = ["tests.doubles.connect_plugins_fixture"]

    @pytest.fixture(scope="session")
    def stack(connect_plugin_doubles) -> dict[str, str]:   # <- depend on it: it must run first
        ...

ORDER REQUIREMENT: `connect_plugin_doubles` must run before the stack's Connect worker starts. A worker
scans plugin.path and copies its environment (CDC_ORACLE_DOUBLE_DIR) once, when it starts; the
fixture builds the plugins (so test-plugins/ exists and holds current jars) and puts
CDC_ORACLE_DOUBLE_DIR into os.environ, which `scripts/stack.py up` -- started by `stack` with
subprocess and the current environment -- passes on to the Connect JVM. When a worker is already
running (a stack left up by an earlier session or by hand) without the doubles, with another
CDC_ORACLE_DOUBLE_DIR, or started before the jars were last rebuilt, the fixture restarts Connect
(`scripts/stack.py stop connect` + `start connect`); connectors and offsets live in Kafka and survive.

The Oracle double's database directory: CDC_ORACLE_DOUBLE_DIR if it is already set, otherwise
<stack home>/run/oracle-double -- stable rather than per session on purpose: one shared worker can only
have one directory, so a per-session directory would force a Connect restart in every session and two
concurrent sessions would keep restarting Connect under each other. Consequently the directory is a
shared, persistent "database": append only (see tests/doubles/connect_plugins/redo.py), and tests
keep to their own rows/tables/topics.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from tests.doubles.connect_plugins import build as plugin_build
from tests.doubles.connect_plugins.redo import ENV as ORACLE_DIR_ENV
from tests.doubles.connect_plugins.redo import RedoLog

REPO = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO / "scripts" / "stack.py"

# What the stack's Connect worker resolves the spec's secret placeholders to (its env config provider reads
# its own environment): connector configs say ${env:ORACLE_PASSWORD} / ${env:CONFLUENT_LICENSE} /
# ${env:REDIS_PASSWORD}, never values. Test values: the doubles do not check the Oracle password, a blank
# licence is the trial, and the local Redis has no password. Every stack start this session makes gets
# them, and a worker running without them is restarted (stale_worker_reasons).
WORKER_SECRET_ENV = {"ORACLE_PASSWORD": "Cdc-User-Pw-1", "CONFLUENT_LICENSE": "", "REDIS_PASSWORD": ""}

REDIS_SINK_CLASS = "com.redis.kafka.connect.RedisSinkConnector"
ORACLE_CDC_CLASS = "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector"


@dataclass(frozen=True)
class ConnectPluginDoubles:
    oracle_dir: Path  # the Oracle double's database directory (the worker's CDC_ORACLE_DOUBLE_DIR)
    redo: RedoLog  # appends committed changes to oracle_dir/redo.jsonl
    connector_classes: dict[str, str]  # connector class -> version the worker reports
    jars: dict[str, Path]  # plugin name -> installed jar
    restarted_connect: bool  # whether the fixture had to restart a running worker


def _stack_module() -> ModuleType:
    name = "_cdc_stack_script"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, STACK_SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[name] = mod  # dataclasses look their module up while the module executes
    spec.loader.exec_module(mod)
    return mod


def worker_env() -> dict[str, str]:
    """The environment to run scripts/stack.py with: it hands its own environment to the Connect worker."""
    return {**os.environ, **WORKER_SECRET_ENV}


def _run_stack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STACK_SCRIPT), *args], capture_output=True, text=True, env=worker_env())


def _listed_plugins(connect_url: str) -> dict[str, str]:
    with urllib.request.urlopen(connect_url + "/connector-plugins", timeout=10) as r:
        return {p["class"]: p.get("version", "") for p in json.loads(r.read())}


def stale_worker_reasons(stack: ModuleType, oracle_dir: Path, jars: list[Path]) -> list[str]:
    """Why the running Connect worker cannot serve the doubles; [] when it can (or none is running)."""
    pid = stack.CONNECT.pid()
    if pid is None:
        try:
            _listed_plugins(stack.endpoints()["KAFKA_CONNECT_URL"])
        except OSError:
            return []  # no worker: the stack fixture starts one, with this environment
        raise RuntimeError(
            "a Connect worker answers on " + stack.endpoints()["KAFKA_CONNECT_URL"] + " but "
            f"{stack.CONNECT.pidfile} names no live process (two concurrent `stack.py up` runs?); "
            "put the worker's pid into that file or stop it, then rerun"
        )
    import psutil

    reasons = []
    proc = psutil.Process(pid)
    try:
        env_dir = proc.environ().get(ORACLE_DIR_ENV)
    except psutil.Error as e:
        env_dir = f"<unreadable: {e}>"
    if env_dir is None or Path(env_dir).resolve() != oracle_dir.resolve():
        reasons.append(f"{ORACLE_DIR_ENV}={env_dir!r}, wanted {str(oracle_dir)!r}")
    try:
        worker = proc.environ()
        # names only: the values are secrets in any other setting
        reasons += [f"{k} not set as this session needs it" for k, v in WORKER_SECRET_ENV.items() if worker.get(k) != v]
    except psutil.Error as e:
        reasons.append(f"worker environment unreadable: {e}")
    started = proc.create_time()
    for jar in jars:
        if jar.stat().st_mtime > started:
            reasons.append(f"{jar.name} rebuilt after the worker started")
    listed, error = None, None
    deadline = time.monotonic() + 90  # a worker that is still starting (plugin scan) gets time to answer
    while listed is None and time.monotonic() < deadline and stack.CONNECT.pid() == pid:
        try:
            listed = _listed_plugins(stack.endpoints()["KAFKA_CONNECT_URL"])
        except OSError as e:
            error = e
            time.sleep(1)
    if listed is None:
        reasons.append(f"worker REST not answering ({error})")
    else:
        for cls, version in plugin_build.CONNECTOR_CLASSES.items():
            if listed.get(cls) != version:
                reasons.append(f"{cls} {version} not listed by the worker")
    return reasons


def prepare_connect_plugin_doubles(oracle_dir: Path | None = None) -> ConnectPluginDoubles:
    """Build the doubles, export CDC_ORACLE_DOUBLE_DIR and, if a worker is already running unsuitably,
    restart Connect. Usable outside pytest (e.g. a dev shell)."""
    stack = _stack_module()
    if not any((stack.LIB).glob("connect-api-*.jar")):
        stack.ensure_jars()  # a fresh checkout: the worker's jars are the compile classpath
    built = plugin_build.build(stack.HOME)
    jars = {name: info["jar"] for name, info in built.items()}

    if oracle_dir is None:
        preset = os.environ.get(ORACLE_DIR_ENV)
        oracle_dir = Path(preset) if preset else stack.RUN / "oracle-double"
    oracle_dir = oracle_dir.resolve()
    oracle_dir.mkdir(parents=True, exist_ok=True)
    os.environ[ORACLE_DIR_ENV] = str(oracle_dir)

    restarted = False
    reasons = stale_worker_reasons(stack, oracle_dir, list(jars.values()))
    if reasons:
        stopped = _run_stack("stop", "connect")
        started = _run_stack("start", "connect")
        if stopped.returncode != 0 or started.returncode != 0:
            raise RuntimeError(
                f"restarting Connect for the plugin doubles failed:\n{stopped.stdout}{stopped.stderr}{started.stdout}{started.stderr}"
            )
        restarted = True
        still = stale_worker_reasons(stack, oracle_dir, list(jars.values()))
        if still:
            raise RuntimeError(f"Connect restarted but still cannot serve the plugin doubles: {still}")
    return ConnectPluginDoubles(
        oracle_dir=oracle_dir,
        redo=RedoLog(oracle_dir),
        connector_classes=dict(plugin_build.CONNECTOR_CLASSES),
        jars=jars,
        restarted_connect=restarted,
    )


@pytest.fixture(scope="session")
def connect_plugin_doubles() -> Iterator[ConnectPluginDoubles]:
    """Session: the Redis sink (0.9.1) and Oracle CDC source (2.14.2) doubles installed for the stack's
    Connect worker, and the Oracle double's database directory. Must be set up before `stack`."""
    saved = os.environ.get(ORACLE_DIR_ENV)
    try:
        doubles = prepare_connect_plugin_doubles()
    except (plugin_build.BuildError, RuntimeError) as e:
        pytest.fail(f"Connect plugin doubles unavailable: {e}", pytrace=False)
    yield doubles
    if saved is None:
        os.environ.pop(ORACLE_DIR_ENV, None)
    else:
        os.environ[ORACLE_DIR_ENV] = saved
