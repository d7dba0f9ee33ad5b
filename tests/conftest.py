"""Test harness: the real local stack comes up once per session and the resources point at it.

Unit tests (marker `unit`) need no servers. Integration tests (marker `integration`) use the `stack`
fixture, which runs `scripts/stack.py up` (idempotent) and exports the endpoints the resources read.
A stack that was already running is left running; one this session started is stopped at the end
unless CDC_STACK_KEEP=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "scripts" / "stack.py"

pytest_plugins = [
    "tests.doubles.fixtures",
    "tests.doubles.oracle_fixtures",
    "tests.doubles.connect_plugins_fixture",
    "tests.compose_support",  # the compose files, parsed once per run for the tests/test_compose_*.py checks
]


def _stack(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    from tests.doubles.connect_plugins_fixture import worker_env

    # stack.py passes its environment to the Connect worker, which resolves the connectors' ${env:...} secrets
    return subprocess.run([sys.executable, str(STACK), *args], capture_output=True, text=True, check=False, env=worker_env())


@pytest.fixture(scope="session")
def stack(connect_plugin_doubles) -> dict[str, str]:
    # connect_plugin_doubles first: the Connect worker must find the contract doubles of the Redis
    # sink and the Oracle CDC source on its plugin.path, and CDC_ORACLE_DOUBLE_DIR in its environment
    was_running = _stack("status").returncode == 0
    proc = _stack("up")
    if proc.returncode != 0:
        pytest.fail(f"local stack failed to start:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
    env = json.loads((home / "run" / "endpoints.json").read_text())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if not was_running and os.environ.get("CDC_STACK_KEEP") != "1":
        # let unreferenced Kafka clients go while the broker is still up; their background threads
        # would otherwise log refused connections after pytest's summary line
        import gc

        gc.collect()
        _stack("down")


@pytest.fixture
def connect_client(stack):
    from resources.connect import KafkaConnectResource

    client = KafkaConnectResource(url=stack["KAFKA_CONNECT_URL"], backoff_seconds=0.2).get_client()
    yield client
    client.close()


@pytest.fixture
def kafka_client(stack):
    from resources.kafka import KafkaResource

    return KafkaResource(bootstrap_servers=stack["KAFKA_BOOTSTRAP_SERVERS"]).get_client()


@pytest.fixture
def redis_client(stack):
    from resources.redis_json import RedisResource

    return RedisResource(url=stack["REDIS_URL"]).get_client()


@pytest.fixture
def unique(request) -> str:
    """A name no other test uses, so tests never see each other's connectors, topics or keys."""
    import uuid

    return f"t-{request.node.name[:30].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:6]}".lower()
