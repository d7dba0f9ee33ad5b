"""The Redis sink's part of the spec (``sinks: [{kind: redis, ...}]``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from pipeline_defs.spec.fields import ConfigKey, ConfigValue, ConnectorName, EnvVarName, Model, regex_check

# the Kafka Connect plugin that writes Redis: the seed's (Confluent Hub, compose profile) or ours
# (connectors/redis-sink, built in this repository, local profile)
PLUGINS = {
    "redis-kafka-connect": "com.redis.kafka.connect.RedisSinkConnector",
    "cdcplane-redis-json": "com.cdcplane.redis.RedisJsonSinkConnector",
}


class RedisSink(Model):
    """A Kafka Connect sink that writes an aggregate's topic into Redis JSON documents: the key is
    ``keyspace`` (``${topic}`` = the topic's name) + ``separator`` + the group value."""

    kind: Literal["redis"]
    name: ConnectorName
    object: Annotated[str, AfterValidator(regex_check(re.compile(r"[A-Za-z][A-Za-z0-9_]*"), "engine object name"))]
    plugin: Literal["redis-kafka-connect", "cdcplane-redis-json"] = "redis-kafka-connect"
    # redis-kafka-connect <= 0.9.1 `redis.command` (the seed mounts 0.9.1)
    command: Literal["JSONSET", "HSET"] = "JSONSET"
    keyspace: Annotated[str, AfterValidator(regex_check(re.compile(r"[A-Za-z0-9_.:${}-]+"), "Redis keyspace"))] = "${topic}"
    separator: Annotated[str, AfterValidator(regex_check(re.compile(r"[:._/|-]{1,3}"), "Redis key separator"))] = ":"
    # Redis AUTH password, resolved by the Connect worker from its environment; None: no AUTH
    password_env: EnvVarName | None = None
    tasks_max: int = Field(1, ge=1, le=64)
    initial_state: Literal["RUNNING", "STOPPED"] | None = None  # KIP-980, only when creating
    config: dict[ConfigKey, ConfigValue] = {}
