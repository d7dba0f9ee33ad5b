"""The local stack, no Docker: Kafka 3.9 (KRaft), a Kafka Connect worker (Debezium Oracle + PostgreSQL,
file connectors, our Redis JSON sink), Redis with JSON (AOF on), PostgreSQL 15 (logical decoding) and a
Flink 2.2.1 session cluster (JobManager, TaskManager, SQL Gateway).

    scripts/stack up|down|status|env|logs [component]|start <component>|stop <component>

components: redis postgres kafka connect flink-jobmanager flink-taskmanager flink-gateway (flink = the three)

Everything lives under $CDC_STACK_HOME (default <repo>/.stack): what Maven and pip installed (lib/,
plugins/, flink-jars/, flink-dist/), generated passwords (credentials.json, mode 600) and the data, configs,
logs and pid files of the running stack (run/). `up` is idempotent: what is up and ready is left alone,
what died (kill -9 included) is started again. `down` stops everything, also processes whose pid file is
gone (found by the marker on their command line), so nothing strays. Ports come from STACK_*_PORT and are
printed; the project's environment is in run/endpoints.json and printed by `env`.

The implementation is the package scripts/localstack/; this file keeps the entry point and the names
tests import (HOME, LIB, RUN, CONNECT, endpoints, ensure_jars).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from localstack.commands import COMPONENTS, CONNECT, KAFKA, POSTGRES, REDIS, down, main, status, up
from localstack.config import HOME, LIB, PLUGINS, PORTS, RUN, TEST_PLUGINS, StackError, endpoints
from localstack.install import ensure_jars

__all__ = [
    "COMPONENTS",
    "CONNECT",
    "HOME",
    "KAFKA",
    "LIB",
    "PLUGINS",
    "PORTS",
    "POSTGRES",
    "REDIS",
    "RUN",
    "TEST_PLUGINS",
    "StackError",
    "down",
    "endpoints",
    "ensure_jars",
    "status",
    "up",
]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
