"""The Redis sink connector derived from the spec: our sink's config and keys, the seed's sink still selectable,
the password placeholder, the JSON value converter.
"""

from __future__ import annotations

import pytest
import yaml

from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.spec import load_spec, parse_spec
from tests.unit.spec_seed import SEED_REDIS_SINK
from tests.unit.spec_support import DEFAULT, _doc, _seed_config, connector_props, redis_keys, sink_connector_configs

pytestmark = pytest.mark.unit


def test_redis_sink_config_and_keys(spec):
    cfgs = sink_connector_configs(spec)
    assert list(cfgs) == ["redis-sink-json"]
    c = cfgs["redis-sink-json"]
    seed = _seed_config(SEED_REDIS_SINK)
    changed = {"key.converter", "key.converter.schema.registry.url", "connector.class"}
    for k, v in seed.items():
        if k not in changed:
            assert c[k] == v, k
    # our sink (a key never moves back to an older window), on the window start ksqlDB puts in the value
    assert c["connector.class"] == "com.cdcplane.redis.RedisJsonSinkConnector"
    assert c["redis.window.field"] == "WINDOW_START"
    # its replay guard, outside the keyspace's own SCAN pattern
    assert c["redis.offsets.key"] == "__cdcplane:offsets:USER_AGGREGATE_EVENTS"
    assert redis_keys(spec, "redis-sink-json").offsets_key == c["redis.offsets.key"]
    # fix of the windowed-key fault: key rebuilt from the value column copied with AS_VALUE
    assert c["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert "key.converter.schema.registry.url" not in c
    assert c["transforms"] == "valueToKey,extractKey"
    assert c["transforms.valueToKey.type"] == "org.apache.kafka.connect.transforms.ValueToKey"
    assert c["transforms.valueToKey.fields"] == "USER_NAME"
    assert c["transforms.extractKey.type"] == "org.apache.kafka.connect.transforms.ExtractField$Key"
    assert c["transforms.extractKey.field"] == "USER_NAME"
    assert c["redis.password"] == "${env:REDIS_PASSWORD}"  # compose's requirepass; never a value in the config
    assert set(c) - set(seed) == {
        "name",
        "redis.password",
        "redis.window.field",
        "redis.offsets.key",
        "transforms",
        "transforms.valueToKey.type",
        "transforms.valueToKey.fields",
        "transforms.extractKey.type",
        "transforms.extractKey.field",
    }
    keys = redis_keys(spec, "redis-sink-json")
    assert keys.shape.key_prefix + "jdoe" == "USER_AGGREGATE_EVENTS:jdoe"
    assert lineage(spec).node(("redis", "USER_AGGREGATE_EVENTS")).metadata["key_pattern"] == "USER_AGGREGATE_EVENTS:*"
    # jwick and jcena (checked by the seed) have no clicks, so no key
    assert list(keys.expected_keys) == [
        "USER_AGGREGATE_EVENTS:jdoe",
        "USER_AGGREGATE_EVENTS:rsmith",
        "USER_AGGREGATE_EVENTS:amary",
    ]
    assert sorted({c for p in connector_props(spec).values() for c in p.plugin_classes}) == sorted(
        {
            "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",
            "com.cdcplane.redis.RedisJsonSinkConnector",
            "io.confluent.connect.avro.AvroConverter",
            "org.apache.kafka.connect.storage.StringConverter",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "org.apache.kafka.connect.transforms.ValueToKey",
            "org.apache.kafka.connect.transforms.ExtractField$Key",
        }
    )


def test_the_seed_sink_stays_selectable_with_the_seed_config():
    """plugin: redis-kafka-connect (0.9.1) keeps the seed's connector and config; it has no latest-window
    guard (a late window overwrites a newer one), so no redis.window.field."""
    doc = _doc()
    doc["sinks"][0]["plugin"] = "redis-kafka-connect"
    c = sink_connector_configs(parse_spec(yaml.safe_dump(doc), "seedsink.yaml"))["redis-sink-json"]
    seed = _seed_config(SEED_REDIS_SINK)
    assert c["connector.class"] == seed["connector.class"] == "com.redis.kafka.connect.RedisSinkConnector"
    assert "redis.window.field" not in c and c["redis.command"] == "JSONSET"


def test_redis_password_only_when_the_sink_names_its_env():
    doc = _doc()
    del doc["sinks"][0]["password_env"]
    c = sink_connector_configs(parse_spec(yaml.safe_dump(doc), "nopw.yaml"))["redis-sink-json"]
    assert "redis.password" not in c and not any("${env:" in v for v in c.values())


def test_redis_sink_json_value_converter():
    s = load_spec(DEFAULT, env={"CDC_FORMAT": "json"})
    c = sink_connector_configs(s)["redis-sink-json"]
    assert c["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert c["value.converter.schemas.enable"] == "false"
    assert not any("schema.registry" in k for k in c)
