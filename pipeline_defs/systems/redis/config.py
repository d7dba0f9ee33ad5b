"""The Redis sink connector's config, derived from the sink spec and what the engine writes."""

from __future__ import annotations

from typing import Any

from pipeline_defs.core.registry import AggregateOutput
from pipeline_defs.spec.fields import config_str
from pipeline_defs.systems.connect.props import JSON_CONVERTER, STRING_CONVERTER, converter_config, env_placeholder
from pipeline_defs.systems.redis.spec import PLUGINS, RedisSink

# plugin versions the config is written for: the seed's sink renamed redis.command/redis.key to
# redis.type/redis.keyspace in 1.0 (reference/connect.md), so 0.9.x only
COMPATIBLE = {
    "com.redis.kafka.connect.RedisSinkConnector": ("0.9", "1.0"),
    "com.cdcplane.redis.RedisJsonSinkConnector": ("0.1", "1.0"),
}


def keyspace(sink: RedisSink, agg: AggregateOutput) -> str:
    return sink.keyspace.replace("${topic}", agg.topic)


def key_prefix(sink: RedisSink, agg: AggregateOutput) -> str:
    return keyspace(sink, agg) + sink.separator


def offsets_key_of(space: str) -> str:
    """The replay guard's hash for a keyspace: never under the keyspace's own prefix, so the data check's SCAN of
    <keyspace><separator>* does not meet it."""
    return "__cdcplane:offsets:" + space


def offsets_key(sink: RedisSink, agg: AggregateOutput) -> str | None:
    """The hash in which our sink keeps, per Redis key, the Kafka position of the record that last wrote it (its
    replay guard, ``redis.offsets.key``); None for a plugin without one. A rebuild clears the entries of the keys
    it repairs (rebuild.py)."""
    if sink.plugin != "cdcplane-redis-json":
        return None
    return offsets_key_of(keyspace(sink, agg))


def sink_config(spec: Any, sink: RedisSink, agg: AggregateOutput) -> dict[str, str]:
    """What a key holds: ``<keyspace><separator><group value>`` (``USER_AGGREGATE_EVENTS:jdoe``) is
    the JSON document of one window of that value, e.g. ``{"USER_NAME": "jdoe", "EVENT_COUNT": 3,
    "WINDOW_START": 1700000040000, "WINDOW_END": 1700000100000}``; every window of jdoe writes the
    same key, so it is *not* a running total. Our sink (cdcplane-redis-json) keeps the newest
    window: an update for an older window never overwrites a newer one (``redis.window.field``), and
    a replayed record never writes a key that has already seen it (``redis.offsets.key``)."""
    cfg: dict[str, str] = {
        "connector.class": PLUGINS[sink.plugin],
        "name": sink.name,  # Connect stores it in the config anyway; keeping it avoids drift noise
        "tasks.max": str(sink.tasks_max),
        "topics": agg.topic,
        "redis.uri": spec.endpoints.redis_uri,
        "redis.command": sink.command,
        **converter_config(spec, "value", agg.value_format),
        "schemas.enable": "false",
    }
    if sink.password_env:
        cfg["redis.password"] = env_placeholder(sink.password_env)
    if agg.key_field is not None:
        # the record key is JSON carrying the group value (Flink's upsert-kafka key)
        cfg["key.converter"] = JSON_CONVERTER
        cfg["key.converter.schemas.enable"] = "false"
        cfg["redis.key.field"] = agg.key_field
    else:
        # The Kafka key of a windowed ksqlDB table is <grouping key><8-byte window start>; the sink
        # would make it part of the Redis key. Re-key from the value instead: ValueToKey copies
        # the grouping value (AS_VALUE(<group_by>) AS <name field>) into a one-field key,
        # ExtractField$Key unwraps it to the bare string; the key converter only has to read the
        # original bytes without failing, which StringConverter does without Schema Registry.
        cfg["key.converter"] = STRING_CONVERTER
        cfg["transforms"] = "valueToKey,extractKey"
        cfg["transforms.valueToKey.type"] = "org.apache.kafka.connect.transforms.ValueToKey"
        cfg["transforms.valueToKey.fields"] = agg.name_field
        cfg["transforms.extractKey.type"] = "org.apache.kafka.connect.transforms.ExtractField$Key"
        cfg["transforms.extractKey.field"] = agg.name_field
    if sink.plugin == "cdcplane-redis-json":
        cfg["redis.window.field"] = agg.window_start_field
        cfg["redis.offsets.key"] = offsets_key(sink, agg)
    if sink.keyspace != "${topic}":
        cfg["redis.key"] = sink.keyspace
    if sink.separator != ":":
        cfg["redis.separator"] = sink.separator
    for k, v in sink.config.items():
        cfg[k] = config_str(v)
    return cfg
