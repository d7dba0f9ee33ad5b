"""Where the stack lives, which ports it uses and the environment it hands to the project."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack")).resolve()
LIB = HOME / "lib"  # Kafka + Connect classpath (Maven)
PLUGINS = HOME / "plugins"  # Connect plugin.path: Debezium Oracle/PostgreSQL, file connectors, our Redis sink
TEST_PLUGINS = HOME / "test-plugins"  # connector test doubles built by tests/doubles/connect_plugins/build.py
FLINK_JARS = HOME / "flink-jars"  # the SQL Gateway (opt/) and the Kafka SQL connector (lib/) from Maven
FLINK_DIST = HOME / "flink-dist"  # apache-flink + apache-flink-libraries wheels, installed with pip --target
CREDENTIALS = HOME / "credentials.json"  # generated passwords, mode 600, kept across restarts
RUN = HOME / "run"  # data, configs, pid files and logs of the running stack
LOGS = RUN / "logs"
# On the command line of every JVM and Flink launch script, so `down` finds strays: as a JVM flag (MARKER) or
# a Flink dynamic property (`-D` MARKER_PROPERTY, which Flink's scripts pass on through their exec chain).
MARKER_PROPERTY = f"cdc.stack.home={HOME}"
MARKER = f"-D{MARKER_PROPERTY}"
# Postgres backends rewrite their process titles; cluster_name puts this token into every one of them.
PG_CLUSTER_NAME = "cdcstack-" + hashlib.sha1(str(HOME).encode()).hexdigest()[:8]

HOST = "127.0.0.1"
PORT_ENV = {
    "kafka": ("STACK_KAFKA_PORT", 9092),
    "controller": ("STACK_CONTROLLER_PORT", 9093),
    "connect": ("STACK_CONNECT_PORT", 8083),
    "redis": ("STACK_REDIS_PORT", 6379),
    "postgres": ("STACK_POSTGRES_PORT", 5433),
    "flink-rest": ("STACK_FLINK_REST_PORT", 8081),
    "flink-gateway": ("STACK_FLINK_GATEWAY_PORT", 8091),
    "flink-rpc": ("STACK_FLINK_RPC_PORT", 6123),
    "flink-blob": ("STACK_FLINK_BLOB_PORT", 6124),
    "flink-tm-rpc": ("STACK_FLINK_TM_RPC_PORT", 6125),
    "flink-tm-data": ("STACK_FLINK_TM_DATA_PORT", 6126),
}


def shifted_port_env(offset: int) -> dict[str, str]:
    """STACK_*_PORT for a second stack beside the default one: every default port + offset. With 20000 each stays
    below Linux's ephemeral range (32768-60999), so a client socket can never hold one when the stack binds."""
    return {var: str(default + offset) for var, default in PORT_ENV.values()}


class StackError(RuntimeError):
    pass


def _port(var: str, default: int) -> int:
    raw = os.environ.get(var, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{var}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise StackError(f"{var}={port} is outside 1..65535")
    return port


PORTS = {name: _port(var, default) for name, (var, default) in PORT_ENV.items()}

PG_DB = "cdc"
PG_ADMIN_USER = "cdc_admin"
SECRET_KEYS = ("POSTGRES_ADMIN_PASSWORD", "POSTGRES_CDC_PASSWORD")


def log(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


def read_credentials() -> dict[str, str]:
    """The generated passwords, or {} before the first `up` created them."""
    try:
        data = json.loads(CREDENTIALS.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise StackError(f"{CREDENTIALS} is not valid JSON ({e}); delete it and run/postgres to start afresh") from None
    return {k: str(v) for k, v in data.items() if k in SECRET_KEYS}


def endpoints(*, secrets: bool = True) -> dict[str, str]:
    """The environment that points the project's resources at this stack."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{PORTS['kafka']}",
        "KAFKA_CONNECT_URL": f"http://{HOST}:{PORTS['connect']}",
        "REDIS_URL": f"redis://{HOST}:{PORTS['redis']}/0",
        "POSTGRES_HOST": HOST,
        "POSTGRES_PORT": str(PORTS["postgres"]),
        "POSTGRES_DB": PG_DB,
        "POSTGRES_ADMIN_USER": PG_ADMIN_USER,
        "FLINK_REST_URL": f"http://{HOST}:{PORTS['flink-rest']}",
        "FLINK_GATEWAY_URL": f"http://{HOST}:{PORTS['flink-gateway']}",
        # the same addresses as the Connect worker and the Flink cluster see them (spec overrides)
        "CDC_CONNECT_BOOTSTRAP_SERVERS": f"{HOST}:{PORTS['kafka']}",
        "CDC_CONNECT_REDIS_URI": f"redis://{HOST}:{PORTS['redis']}",
        "CDC_CONNECT_POSTGRES_HOST": HOST,
        "CDC_CONNECT_POSTGRES_PORT": str(PORTS["postgres"]),
    }
    if secrets:
        env.update(read_credentials())
    return env
