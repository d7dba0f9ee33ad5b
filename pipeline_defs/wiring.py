"""The resources the definitions run with: endpoints from the environment (resources/endpoints.py),
secrets through dagster.EnvVar so they are read at run time and never shown in the UI."""

from __future__ import annotations

import os

import dagster as dg

from resources import endpoints as ep
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.oracle import OracleResource
from resources.redis_json import RedisResource
from resources.schema_registry import SchemaRegistryResource


def _optional_secret(name: str):
    # an unset optional secret must not make every run fail config validation
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "oracle": OracleResource(
            host=ep.ORACLE_HOST.get(), port=int(ep.ORACLE_PORT.get()), service_name=ep.ORACLE_SERVICE_NAME.get(),
            user=ep.ORACLE_USER.get(), password=dg.EnvVar(ep.ORACLE_PASSWORD_ENV),
            admin_user=ep.ORACLE_ADMIN_USER.get(), admin_password=dg.EnvVar(ep.ORACLE_ADMIN_PASSWORD_ENV),
            as_sysdba=ep.ORACLE_ADMIN_USER.get().lower() == "sys",
        ),
        "connect": KafkaConnectResource(url=ep.KAFKA_CONNECT_URL.get()),
        "kafka": KafkaResource(bootstrap_servers=ep.KAFKA_BOOTSTRAP_SERVERS.get()),
        "ksqldb": KsqlDbResource(url=ep.KSQLDB_URL.get()),
        "redis": RedisResource(url=ep.REDIS_URL.get(), password=_optional_secret(ep.REDIS_PASSWORD_ENV)),
        "schema_registry": SchemaRegistryResource(url=ep.SCHEMA_REGISTRY_URL.get()),
    }
