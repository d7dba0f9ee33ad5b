"""A second, small stack for tests that kill the Kafka broker: only Kafka and Connect, under a stack home of
their own (CDC_STACK_HOME) and ports of their own, so the session stack's broker, Connect worker and Flink
jobs of other tests never see the fault.

The home links the session home's installed jars, plugins and Flink runtime (nothing is resolved again) and
copies its credentials.json, so the worker resolves ${env:POSTGRES_CDC_PASSWORD} to the password of the
session's PostgreSQL, which its Debezium connectors read. Ports: free ones drawn below the ephemeral range
(a client socket cannot take them meanwhile), never the fixed ones test_stack_script.py uses.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from scripts.localstack.config import shifted_port_env

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack.py"
SHARED = ("lib", "plugins", "flink-dist", "flink-jars", "redis-modules")
PORT_VARS = (
    "STACK_KAFKA_PORT",
    "STACK_CONTROLLER_PORT",
    "STACK_CONNECT_PORT",
    "STACK_REDIS_PORT",
    "STACK_POSTGRES_PORT",
    "STACK_FLINK_REST_PORT",
    "STACK_FLINK_GATEWAY_PORT",
    "STACK_FLINK_RPC_PORT",
    "STACK_FLINK_BLOB_PORT",
    "STACK_FLINK_TM_RPC_PORT",
    "STACK_FLINK_TM_DATA_PORT",
)


def _free_ports(n: int) -> list[int]:
    """n free ports in 20000-29999 (below Linux's ephemeral range 32768+), none of test_stack_script's."""
    taken = {int(v) for v in shifted_port_env(20_000).values()}  # test_stack_script.PORTS
    out: list[int] = []
    while len(out) < n:
        p = random.randint(20000, 29999)
        if p in taken or p in out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        out.append(p)
    return out


class BrokerStack:
    def __init__(self, home: Path, session_home: Path):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        for name in SHARED:
            if (session_home / name).exists() and not (home / name).exists():
                (home / name).symlink_to(session_home / name)
        for stamp in session_home.glob(".jars-*"):
            shutil.copy2(stamp, home / stamp.name)
        shutil.copy2(session_home / "credentials.json", home / "credentials.json")
        os.chmod(home / "credentials.json", 0o600)
        ports = _free_ports(len(PORT_VARS))
        self.env = {**os.environ, "CDC_STACK_HOME": str(home), **{v: str(p) for v, p in zip(PORT_VARS, ports, strict=True)}}
        self.kafka_port, self.connect_port = ports[0], ports[2]
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.connect_url = f"http://127.0.0.1:{self.connect_port}"

    def stack(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, str(STACK), *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        assert proc.returncode == 0, f"stack {' '.join(args)} (home {self.home}): {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        return proc

    def start(self) -> None:
        self.stack("start", "kafka")
        self.stack("start", "connect")

    def kafka_pid(self) -> int:
        return int((self.home / "run" / "kafka.pid").read_text().split()[0])

    def kill_broker(self) -> int:
        pid = self.kafka_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return pid
            time.sleep(0.1)
        raise AssertionError(f"broker pid {pid} still alive after SIGKILL")

    def down(self) -> None:
        subprocess.run([sys.executable, str(STACK), "down"], capture_output=True, text=True, env=self.env, timeout=120)

    def endpoints(self) -> dict:
        return json.loads((self.home / "run" / "endpoints.json").read_text()) if (self.home / "run" / "endpoints.json").exists() else {}
