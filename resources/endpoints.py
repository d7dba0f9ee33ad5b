"""Where each external system lives: one environment variable and one default per setting.

The defaults are the compose stack's service names and ports (compose/docker-compose.yml); the
local stack and the tests override them through the environment. tests/test_compose.py checks that
every default here names a compose service listening on that port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    env: str
    default: str

    def get(self) -> str:
        return os.environ.get(self.env) or self.default


KAFKA_BOOTSTRAP_SERVERS = Setting("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
KAFKA_CONNECT_URL = Setting("KAFKA_CONNECT_URL", "http://connect:8083")
KSQLDB_URL = Setting("KSQLDB_URL", "http://ksqldb-server:8088")
SCHEMA_REGISTRY_URL = Setting("SCHEMA_REGISTRY_URL", "http://schema-registry:8081")
REDIS_URL = Setting("REDIS_URL", "redis://redis:6379/0")
ORACLE_HOST = Setting("ORACLE_HOST", "oracle")
ORACLE_PORT = Setting("ORACLE_PORT", "1521")
ORACLE_SERVICE_NAME = Setting("ORACLE_SERVICE_NAME", "ORCLCDB")
ORACLE_USER = Setting("ORACLE_USER", "C##MYUSER")
ORACLE_ADMIN_USER = Setting("ORACLE_ADMIN_USER", "sys")

# Secrets have no default: they are read with dagster.EnvVar at run time and never stored here.
ORACLE_PASSWORD_ENV = "ORACLE_PASSWORD"
ORACLE_ADMIN_PASSWORD_ENV = "ORACLE_ADMIN_PASSWORD"
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"
CONFLUENT_LICENSE_ENV = "CONFLUENT_LICENSE"

ALL_SETTINGS = [
    KAFKA_BOOTSTRAP_SERVERS,
    KAFKA_CONNECT_URL,
    KSQLDB_URL,
    SCHEMA_REGISTRY_URL,
    REDIS_URL,
    ORACLE_HOST,
    ORACLE_PORT,
    ORACLE_SERVICE_NAME,
    ORACLE_USER,
    ORACLE_ADMIN_USER,
]
