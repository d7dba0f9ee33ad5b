"""Kafka Connect configs for Debezium's PostgreSQL connector (pgoutput, one slot per connector).

What lands on ``<topic_prefix>.<schema>.<TABLE>`` with these settings (checked on the real
connector by tests/integration/test_postgres_debezium.py):

* key: JSON object of the primary-key columns, ``{"EVENTID":"7"}`` (schemas.enable=false);
* value of an insert/update/snapshot read: the flat row after the change, upper-case fields as in
  the table, plus ``__op`` (c, u, r) and ``__source_ts_ms`` (commit time, epoch ms);
  TIMESTAMP columns are epoch ms (``time.precision.mode=connect``), NUMERIC a double;
* **delete: a tombstone** (same key, null value). The topic is an upsert log keyed by the primary
  key: an engine reads it as a changelog (Flink ``upsert-kafka``, a ksqlDB TABLE) and retracts the
  key's previous row, which it holds in state. That also retracts the old values of an *update*,
  which no append-only reading can. ``rewrite`` (a row with ``__deleted``) was not chosen: it
  needs REPLICA IDENTITY FULL to carry anything but the key, and an append-only reader counting
  it would still miscount updates. Tombstones need only the default replica identity.

The password is ``${env:<password_env>}``: the Connect worker resolves it from its own
environment through its EnvVarConfigProvider, so the value never passes through Connect's REST
API, its config topic, or this process.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_defs.systems.postgres.names import cdc_topic, table_include_list
from pipeline_defs.systems.postgres.spec import PgConnector, PostgresSource

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
UNWRAP = "io.debezium.transforms.ExtractNewRecordState"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
PLACEHOLDER = re.compile(r"\$\{[A-Za-z]+:[^}]*\}")


@dataclass(frozen=True)
class ConnectEndpoints:
    """Where the Connect worker reaches things, when it differs from the spec (the local stack
    picks its Postgres port); topic settings for the topics the connector creates."""

    host: str | None = None
    port: int | None = None
    replication_factor: int = 1
    partitions: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConnectEndpoints:
        """POSTGRES_HOST / POSTGRES_PORT as scripts/stack.py exports them."""
        env = os.environ if env is None else env
        port = env.get("POSTGRES_PORT")
        return cls(host=env.get("POSTGRES_HOST") or None, port=int(port) if port else None)


def env_placeholder(name: str) -> str:
    return "${env:" + name + "}"


def slot_name(connector: PgConnector) -> str:
    return connector.slot_name


def _str(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def connector_config(source: PostgresSource, connector: PgConnector, endpoints: ConnectEndpoints | None = None) -> dict[str, str]:
    """The connector's full config (all values strings, as Connect stores them); the spec's
    ``config`` overrides are applied last."""
    ep = endpoints or ConnectEndpoints()
    tune = source.debezium
    cfg: dict[str, str] = {
        "connector.class": CONNECTOR_CLASS,
        "name": connector.name,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "slot.name": connector.slot_name,
        # keep the slot when the task stops: dropping it would lose the changes made meanwhile
        "slot.drop.on.stop": "false",
        "publication.name": source.publication,
        "publication.autocreate.mode": "disabled",
        "database.hostname": ep.host or source.host,
        "database.port": str(ep.port or source.port),
        "database.user": source.role.name,
        "database.password": env_placeholder(source.role.password_env),
        "database.dbname": source.database,
        "topic.prefix": source.topic_prefix,
        "schema.include.list": source.schema_name,
        "table.include.list": table_include_list(source, connector),
        "snapshot.mode": tune.snapshot_mode,
        "time.precision.mode": "connect",
        "decimal.handling.mode": "double",
        "tombstones.on.delete": "true",
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "false",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "false",
        "transforms": "unwrap",
        "transforms.unwrap.type": UNWRAP,
        "transforms.unwrap.add.fields": "op,source.ts_ms",
        "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",  # __deleted=true rows: the engine retracts them
        "poll.interval.ms": str(tune.poll_interval_ms),
        "max.batch.size": str(tune.max_batch_size),
        "max.queue.size": str(tune.max_queue_size),
        "heartbeat.interval.ms": str(tune.heartbeat_interval_ms),
        "errors.max.retries": str(tune.errors_max_retries),
        "retriable.restart.connector.wait.ms": str(tune.retriable_restart_wait_ms),
        "topic.creation.default.replication.factor": str(ep.replication_factor),
        "topic.creation.default.partitions": str(ep.partitions),
        # several connectors may share one prefix: distinct JMX MBean names
        "custom.metric.tags": f"connector={connector.name}",
    }
    for k, v in connector.config.items():
        cfg[k] = _str(v)
    return cfg


def connector_configs(source: PostgresSource, endpoints: ConnectEndpoints | None = None) -> dict[str, dict[str, str]]:
    return {c.name: connector_config(source, c, endpoints) for c in source.connectors}


def secret_keys(config: Mapping[str, str]) -> set[str]:
    """Keys whose values are config-provider placeholders (``${env:X}``, ``${file:...}``): secrets
    resolved by the worker, never to be replaced by their values in this process."""
    return {k for k, v in config.items() if isinstance(v, str) and PLACEHOLDER.search(v)}


def topics(source: PostgresSource, connector: PgConnector) -> list[str]:
    """The CDC topics the connector writes (one per table)."""
    return [cdc_topic(source, t) for t in connector.tables]


def required_plugins(config: Mapping[str, str]) -> set[str]:
    """Classes the worker must offer (connector, converters, transforms)."""
    out = set()
    for k, v in config.items():
        if k in ("connector.class", "key.converter", "value.converter") or re.fullmatch(r"transforms\.[^.]+\.type", k):
            out.add(v)
    return out


def create_request(source: PostgresSource, connector: PgConnector, endpoints: ConnectEndpoints | None = None) -> dict[str, object]:
    """Body of ``POST /connectors``; ``initial_state`` (Kafka 3.5+) only when the spec sets it."""
    body: dict[str, object] = {"name": connector.name, "config": connector_config(source, connector, endpoints)}
    if connector.initial_state is not None:
        body["initial_state"] = connector.initial_state
    return body
