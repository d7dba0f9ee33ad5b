"""The CDC source connectors derived from the spec, both flavors: the seed's Confluent Oracle CDC configs (and the
deliberate deviations), Debezium's, the topics they write and the ksqlDB objects that read them.
"""

from __future__ import annotations

import re

import pytest

from pipeline_defs.spec import load_spec
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from pipeline_defs.systems.oracle.connectors import CdcSource, ConfluentOracleSource, DebeziumOracleSource, flavor_of
from pipeline_defs.systems.oracle.plugin import OracleSourcePlugin
from tests.unit.spec_seed import SEED_CLICKSTREAM_CONNECTOR, SEED_KSQL, SEED_USERDATA_CONNECTOR
from tests.unit.spec_support import THREE, _seed_config, aggregate, cdc_topic, connector_props, ksql_statements, source_connector_configs

pytestmark = pytest.mark.unit


def test_topic_names(spec, debezium_spec):
    for s in (spec, debezium_spec):
        assert cdc_topic(s, "POC_CLICKSTREAM") == "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
        assert cdc_topic(s, "POC_USERDATA") == "ORCLCDB.C__MYUSER.POC_USERDATA"
        assert aggregate(s, "USER_AGGREGATE_EVENTS").topic == "USER_AGGREGATE_EVENTS"
        assert KsqlCompiler(s).output_topic("USER_AGGREGATE_EVENTS") == "USER_AGGREGATE_EVENTS"
    # the ksqlDB objects read exactly the seed's topics
    seed_topics = re.findall(r"CREATE (?:TABLE|STREAM) (\w+) .*?KAFKA_TOPIC = '([^']+)'", SEED_KSQL, re.S)
    assert len(seed_topics) == 2
    for name, topic in seed_topics:
        assert KsqlCompiler(spec).output_topic(name) == topic


@pytest.mark.parametrize(
    "name,seed_text,seed_regex_matches",
    [("userdata_avro", SEED_USERDATA_CONNECTOR, "POC_USERDATA"), ("clickstream_avro", SEED_CLICKSTREAM_CONNECTOR, "POC_CLICKSTREAM")],
)
def test_confluent_source_configs_reproduce_the_seed(spec, name, seed_text, seed_regex_matches):
    cfgs = source_connector_configs(spec)
    assert list(cfgs) == ["userdata_avro", "clickstream_avro"]
    derived = cfgs[name]
    # no secret in the derived config: placeholders the Connect worker resolves from its environment
    assert derived["oracle.password"] == "${env:ORACLE_PASSWORD}"
    assert derived["confluent.license"] == "${env:CONFLUENT_LICENSE}"
    seed = _seed_config(seed_text)
    # deliberate deviations, each checked here
    deviations = {"table.inclusion.regex", "oracle.password", "transforms.dropExtraFields.blacklist"}
    for k, v in seed.items():
        if k not in deviations:
            assert derived[k] == v, k
    assert seed["oracle.password"] == "password"  # the seed's literal secret, which we never write
    # the operation type is kept and updates carry their before image (issue 14: updates and deletes)
    seed_dropped = [f.strip() for f in seed["transforms.dropExtraFields.blacklist"].split(",")]
    assert [f.strip() for f in derived["transforms.dropExtraFields.blacklist"].split(",")] == [f for f in seed_dropped if f != "op_type"]
    assert (derived["output.op.type.field"], derived["output.before.state.field"]) == ("OP_TYPE", "BEFORE_STATE")
    assert set(derived) - set(seed) == {"confluent.license", "output.op.type.field", "output.before.state.field"}
    # what provisioning sends is the same config, "name" included
    assert dict(connector_props(spec)[name].config) == derived
    # inclusion regex: same table selected as the seed's prefix regex, but nothing else
    table = f"ORCLCDB.C##MYUSER.{seed_regex_matches}"
    assert re.fullmatch(seed["table.inclusion.regex"], table)
    assert re.fullmatch(derived["table.inclusion.regex"], table)
    assert re.fullmatch(seed["table.inclusion.regex"], table + "_OLD")
    assert not re.fullmatch(derived["table.inclusion.regex"], table + "_OLD")
    assert derived["table.inclusion.regex"] == rf"ORCLCDB\.C##MYUSER\.({seed_regex_matches})"
    assert all(isinstance(v, str) for v in derived.values())


def test_confluent_numbers_get_best_fit_only_when_needed(spec, three):
    assert all("numeric.mapping" not in c for c in source_connector_configs(spec).values())
    s = load_spec(THREE, env={"CDC_SOURCE_FLAVOR": "confluent"})
    cfgs = source_connector_configs(s)
    assert cfgs["oracle-cdc-purchases"]["numeric.mapping"] == "best_fit"
    assert "numeric.mapping" not in cfgs["oracle-cdc-main"]
    assert cfgs["oracle-cdc-main"]["table.inclusion.regex"] == r"ORCLCDB\.C##MYUSER\.(POC_USERDATA|POC_CLICKSTREAM)"
    # json: no Schema Registry anywhere
    assert cfgs["oracle-cdc-main"]["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert cfgs["oracle-cdc-main"]["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert not any("schema.registry" in k for c in cfgs.values() for k in c)


def test_debezium_source_configs(debezium_spec):
    cfgs = source_connector_configs(debezium_spec)
    assert list(cfgs) == ["userdata_avro", "clickstream_avro"]
    c = cfgs["clickstream_avro"]
    expected = {
        "connector.class": "io.debezium.connector.oracle.OracleConnector",
        "name": "clickstream_avro",
        "database.hostname": "oracle",
        "database.port": "1521",
        "database.user": "C##MYUSER",
        "database.password": "${env:ORACLE_PASSWORD}",
        "database.dbname": "ORCLCDB",
        "topic.prefix": "ORCLCDB",
        "table.include.list": r"C##MYUSER\.POC_CLICKSTREAM",
        "snapshot.mode": "initial",
        "decimal.handling.mode": "double",
        "time.precision.mode": "connect",
        "schema.history.internal.kafka.bootstrap.servers": "broker:29092",
        "schema.history.internal.kafka.topic": "schema-history.ORCLCDB.clickstream_avro",
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": "http://schema-registry:8081",
        "schema.name.adjustment.mode": "avro",
        "transforms": "unwrap,key",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.key.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.key.field": "EVENTID",
        "custom.metric.tags": "connector=clickstream_avro",
    }
    for k, v in expected.items():
        assert c[k] == v, k
    # each connector its own history topic and LogMiner flush table although they share topic.prefix
    u = cfgs["userdata_avro"]
    assert u["topic.prefix"] == c["topic.prefix"]
    assert u["schema.history.internal.kafka.topic"] != c["schema.history.internal.kafka.topic"]
    assert u["log.mining.flush.table.name"] != c["log.mining.flush.table.name"]
    assert u["transforms.key.field"] == "ID"
    assert re.fullmatch(u["table.include.list"], "C##MYUSER.POC_USERDATA")
    assert not any(k.startswith(("oracle.", "confluent.", "table.inclusion")) for k in c)
    props = connector_props(debezium_spec)["clickstream_avro"]
    assert dict(props.config) == c
    assert props.secret_keys == {"database.password"} and props.secret_env == {"ORACLE_PASSWORD"}


def test_debezium_multi_table_connector_uses_predicates(three):
    c = source_connector_configs(three)["oracle-cdc-main"]
    assert c["transforms"] == "unwrap,key_POC_USERDATA,key_POC_CLICKSTREAM"
    assert c["transforms.key_POC_USERDATA.field"] == "ID"
    assert c["transforms.key_POC_USERDATA.predicate"] == "is_POC_USERDATA"
    assert re.fullmatch(c["predicates.is_POC_USERDATA.pattern"], "ORCLCDB.C__MYUSER.POC_USERDATA")
    assert c["predicates"] == "is_POC_USERDATA,is_POC_CLICKSTREAM"
    assert c["table.include.list"] == r"C##MYUSER\.POC_USERDATA,C##MYUSER\.POC_CLICKSTREAM"
    assert c["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert c["value.converter.schemas.enable"] == "false"
    assert "schema.name.adjustment.mode" not in c  # json needs no Avro-safe names
    p = source_connector_configs(three)["oracle-cdc-purchases"]
    assert p["snapshot.fetch.size"] == "500"  # flavor_config override


def test_both_flavors_feed_the_same_ksql_objects(spec, debezium_spec):
    assert ksql_statements(spec) == ksql_statements(debezium_spec)
    for s in (spec, debezium_spec):
        assert isinstance(flavor_of(s.source), CdcSource)
        tables = {t.name: t for t in OracleSourcePlugin().tables(s)}
        props = connector_props(s)
        for conn in s.source.connectors:
            # the topics a connector writes are the topics the engine objects read
            assert props[conn.name].topics == tuple(cdc_topic(s, t) for t in conn.tables)
            for t in conn.tables:
                assert tables[t].topic == cdc_topic(s, t) and tables[t].captured
    assert isinstance(flavor_of(spec.source), ConfluentOracleSource)
    assert isinstance(flavor_of(debezium_spec.source), DebeziumOracleSource)
