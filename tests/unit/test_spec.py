"""The declarative spec (pipeline.yaml, pipeline_defs/spec.py) and everything derived from it
(pipeline_defs/derive.py, sources.py, engines.py).

The default file must reproduce the hand-built seed recipe; the literals below are copied from
the seed (shared/seed/000_13f6e7e649a882cc.txt) so any drift shows up here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

from pipeline_defs import derive
from pipeline_defs.derive import (
    MissingSecret,
    aggregate_topic,
    cdc_topic,
    expected_redis_keys,
    ksql_properties,
    ksql_statements,
    lineage,
    redacted_config,
    redis_key,
    redis_key_pattern,
    render_connector_config,
    required_plugins,
    sensitive_keys,
    sink_connector_configs,
    source_connector_configs,
    table_select_grants,
)
from pipeline_defs.engines import KsqlDbEngine, StreamEngine
from pipeline_defs.sources import CdcSource, ConfluentOracleSource, DebeziumOracleSource, source_for
from pipeline_defs.spec import SpecError, load_spec, parse_spec, spec_hash

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "pipeline.yaml"
THREE = REPO / "tests" / "specs" / "three_tables.yaml"
NO_ENV: dict[str, str] = {}

# ---------------------------------------------------------------------------------------------
# literals from the seed
# ---------------------------------------------------------------------------------------------

SEED_ROLE_SQL = """
CREATE ROLE C##CDC_PRIVS;
GRANT EXECUTE_CATALOG_ROLE TO C##CDC_PRIVS;
GRANT ALTER SESSION TO C##CDC_PRIVS;
GRANT SET CONTAINER TO C##CDC_PRIVS;
GRANT SELECT ANY TRANSACTION TO C##CDC_PRIVS;
GRANT SELECT ANY DICTIONARY TO C##CDC_PRIVS;
GRANT SELECT ON SYSTEM.LOGMNR_COL$ TO C##CDC_PRIVS;
GRANT SELECT ON SYSTEM.LOGMNR_OBJ$ TO C##CDC_PRIVS;
GRANT SELECT ON SYSTEM.LOGMNR_USER$ TO C##CDC_PRIVS;
GRANT SELECT ON SYSTEM.LOGMNR_UID$ TO C##CDC_PRIVS;
GRANT CREATE SESSION TO C##CDC_PRIVS;
GRANT EXECUTE ON SYS.DBMS_LOGMNR TO C##CDC_PRIVS;
GRANT LOGMINING TO C##CDC_PRIVS;
GRANT SELECT ON V_$LOGMNR_CONTENTS TO C##CDC_PRIVS;
GRANT SELECT ON V_$DATABASE TO C##CDC_PRIVS;
GRANT SELECT ON V_$THREAD TO C##CDC_PRIVS;
GRANT SELECT ON V_$PARAMETER TO C##CDC_PRIVS;
GRANT SELECT ON V_$NLS_PARAMETERS TO C##CDC_PRIVS;
GRANT SELECT ON V_$TIMEZONE_NAMES TO C##CDC_PRIVS;
GRANT SELECT ON ALL_INDEXES TO C##CDC_PRIVS;
GRANT SELECT ON ALL_OBJECTS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_USERS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_CATALOG TO C##CDC_PRIVS;
GRANT SELECT ON ALL_CONSTRAINTS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_CONS_COLUMNS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_TAB_COLS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_IND_COLUMNS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_ENCRYPTED_COLUMNS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_LOG_GROUPS TO C##CDC_PRIVS;
GRANT SELECT ON ALL_TAB_PARTITIONS TO C##CDC_PRIVS;
GRANT SELECT ON SYS.DBA_REGISTRY TO C##CDC_PRIVS;
GRANT SELECT ON SYS.OBJ$ TO C##CDC_PRIVS;
GRANT SELECT ON DBA_TABLESPACES TO C##CDC_PRIVS;
GRANT SELECT ON DBA_OBJECTS TO C##CDC_PRIVS;
GRANT SELECT ON SYS.ENC$ TO C##CDC_PRIVS;
GRANT SELECT ON V_$ARCHIVED_LOG TO C##CDC_PRIVS;
GRANT SELECT ON V_$LOG TO C##CDC_PRIVS;
GRANT SELECT ON V_$LOGFILE TO C##CDC_PRIVS;
GRANT SELECT ON V_$INSTANCE to C##CDC_PRIVS;
GRANT SELECT ANY TABLE TO C##CDC_PRIVS;
"""

SEED_USER_SQL = """
CREATE USER C##MYUSER IDENTIFIED BY password DEFAULT TABLESPACE USERS CONTAINER=ALL;

ALTER USER C##MYUSER QUOTA UNLIMITED ON USERS;
GRANT C##CDC_PRIVS to C##MYUSER CONTAINER=ALL;
GRANT CONNECT TO C##MYUSER CONTAINER=ALL;
GRANT CREATE TABLE TO C##MYUSER CONTAINER=ALL;
GRANT CREATE SEQUENCE TO C##MYUSER CONTAINER=ALL;
GRANT CREATE TRIGGER TO C##MYUSER CONTAINER=ALL;
GRANT SELECT ON GV_$ARCHIVED_LOG TO C##MYUSER CONTAINER=ALL;
GRANT SELECT ON GV_$DATABASE TO C##MYUSER CONTAINER=ALL;
GRANT FLASHBACK ANY TABLE TO C##MYUSER;
GRANT FLASHBACK ANY TABLE TO C##MYUSER container=all;
"""

SEED_TABLE_GRANTS = """
GRANT SELECT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS;
GRANT SELECT ON C##MYUSER.POC_CLICKSTREAM TO C##CDC_PRIVS;
"""

SEED_COLUMNS = {
    "POC_USERDATA": [("ID", "VARCHAR2(50)", True), ("NAME", "VARCHAR2(50)", False)],
    "POC_CLICKSTREAM": [
        ("EVENTID", "VARCHAR2(50)", True),
        ("ID", "VARCHAR2(50)", False),
        ("NAME", "VARCHAR2(50)", False),
        ("SESSIONID", "VARCHAR2(50)", False),
        ("EVENTTYPE", "VARCHAR2(50)", False),
        ("PAGEURL", "VARCHAR2(255)", False),
        ("EVENTTIMESTAMP", "TIMESTAMP", False),
    ],
}

# INSERT ... VALUES (...) of the seed, in seed order: (table, values); CURRENT_TIMESTAMP is the SQL
# expression, 1 is the seed's numeric literal for EVENTID
CT = "CURRENT_TIMESTAMP"
SEED_INITIAL_ROWS = {
    "POC_USERDATA": [{"ID": "101", "NAME": "jdoe"}],
    "POC_CLICKSTREAM": [
        {"EVENTID": 1, "ID": "101", "NAME": "jdoe", "SESSIONID": "sess456", "EVENTTYPE": "page_view",
         "PAGEURL": "https://example.com/home", "EVENTTIMESTAMP": CT},
    ],
}
SEED_DEMO_ROWS = {
    "POC_USERDATA": [
        {"ID": "102", "NAME": "rsmith"},
        {"ID": "103", "NAME": "amary"},
        {"ID": "104", "NAME": "jwick"},
        {"ID": "105", "NAME": "jcena"},
    ],
    "POC_CLICKSTREAM": [
        {"EVENTID": 2, "ID": "101", "NAME": "jdoe", "SESSIONID": "sess456", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/product/123", "EVENTTIMESTAMP": CT},
        {"EVENTID": 3, "ID": "101", "NAME": "jdoe", "SESSIONID": "sess456", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/product/125", "EVENTTIMESTAMP": CT},
        {"EVENTID": 4, "ID": "102", "NAME": "rsmith", "SESSIONID": "sess789", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/about", "EVENTTIMESTAMP": CT},
        {"EVENTID": 5, "ID": "102", "NAME": "rsmith", "SESSIONID": "sess101", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/checkout", "EVENTTIMESTAMP": CT},
        {"EVENTID": 6, "ID": "103", "NAME": "amary", "SESSIONID": "sess101", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/checkout", "EVENTTIMESTAMP": CT},
        {"EVENTID": 7, "ID": "103", "NAME": "amary", "SESSIONID": "sess101", "EVENTTYPE": "click",
         "PAGEURL": "https://example.com/checkout", "EVENTTIMESTAMP": CT},
    ],
}

SEED_USERDATA_CONNECTOR = r"""
{
    "name": "userdata_avro",
    "config":{
      "connector.class": "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",
      "name": "userdata_avro",
      "tasks.max":1,
      "key.converter": "io.confluent.connect.avro.AvroConverter",
      "key.converter.schema.registry.url": "http://schema-registry:8081",
      "value.converter": "io.confluent.connect.avro.AvroConverter",
      "value.converter.schema.registry.url": "http://schema-registry:8081",
      "confluent.topic.bootstrap.servers":"broker:29092",
      "oracle.server": "oracle",
      "oracle.port": 1521,
      "oracle.sid":"ORCLCDB",
      "oracle.username": "C##MYUSER",
      "oracle.password": "password",
      "start.from":"snapshot",
      "table.inclusion.regex":"ORCLCDB\\.C##MYUSER\\.POC_USER(.*)",
      "table.exclusion.regex":"",
      "table.topic.name.template": "${fullyQualifiedTableName}",
      "connection.pool.max.size": 20,
      "confluent.topic.replication.factor":1,
      "redo.log.consumer.bootstrap.servers":"broker:29092",
      "redo.log.corruption.topic": "redo-corruption-topic",
      "topic.creation.groups": "redo",
      "topic.creation.redo.include": "redo-log-topic",
      "topic.creation.redo.replication.factor": 1,
      "topic.creation.redo.partitions": 1,
      "topic.creation.redo.cleanup.policy": "delete",
      "topic.creation.redo.retention.ms": 1209600000,
      "topic.creation.default.replication.factor": 1,
      "topic.creation.default.partitions": 1,
      "topic.creation.default.cleanup.policy": "delete",
      "transforms": "dropExtraFields",
      "transforms.dropExtraFields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
      "transforms.dropExtraFields.blacklist": "scn, op_type, op_ts, current_ts, row_id, username"
    }
}
"""

SEED_CLICKSTREAM_CONNECTOR = r"""
{
    "name": "clickstream_avro",
    "config":{
      "connector.class": "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",
      "name": "clickstream_avro",
      "tasks.max":1,
      "key.converter": "io.confluent.connect.avro.AvroConverter",
      "key.converter.schema.registry.url": "http://schema-registry:8081",
      "value.converter": "io.confluent.connect.avro.AvroConverter",
      "value.converter.schema.registry.url": "http://schema-registry:8081",
      "confluent.topic.bootstrap.servers":"broker:29092",
      "oracle.server": "oracle",
      "oracle.port": 1521,
      "oracle.sid":"ORCLCDB",
      "oracle.username": "C##MYUSER",
      "oracle.password": "password",
      "start.from":"snapshot",
      "table.inclusion.regex":"ORCLCDB\\.C##MYUSER\\.POC_CLICK(.*)",
      "table.exclusion.regex":"",
      "table.topic.name.template": "${fullyQualifiedTableName}",
      "connection.pool.max.size": 20,
      "confluent.topic.replication.factor":1,
      "redo.log.consumer.bootstrap.servers":"broker:29092",
      "redo.log.corruption.topic": "redo-corruption-topic",
      "topic.creation.groups": "redo",
      "topic.creation.redo.include": "redo-log-topic",
      "topic.creation.redo.replication.factor": 1,
      "topic.creation.redo.partitions": 1,
      "topic.creation.redo.cleanup.policy": "delete",
      "topic.creation.redo.retention.ms": 1209600000,
      "topic.creation.default.replication.factor": 1,
      "topic.creation.default.partitions": 1,
      "topic.creation.default.cleanup.policy": "delete",
      "transforms": "dropExtraFields",
      "transforms.dropExtraFields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
      "transforms.dropExtraFields.blacklist": "scn, op_type, op_ts, current_ts, row_id, username"
    }
}
"""

SEED_REDIS_SINK = r"""
{
    "name": "redis-sink-json",
    "config": {
      "connector.class":"com.redis.kafka.connect.RedisSinkConnector",
      "tasks.max":"1",
      "topics":"USER_AGGREGATE_EVENTS",
      "redis.uri":"redis://redis:6379",
      "redis.command":"JSONSET",
      "key.converter": "io.confluent.connect.avro.AvroConverter",
      "key.converter.schema.registry.url": "http://schema-registry:8081",
      "value.converter": "io.confluent.connect.avro.AvroConverter",
      "value.converter.schema.registry.url": "http://schema-registry:8081",
      "schemas.enable": "false"
   }
}
"""

SEED_KSQL = """
CREATE TABLE POC_USERDATA_STREAM (
ID STRING PRIMARY KEY,
NAME STRING
) WITH (
  KAFKA_TOPIC = 'ORCLCDB.C__MYUSER.POC_USERDATA',
  KEY_FORMAT = 'AVRO',
  VALUE_FORMAT = 'AVRO'
);
CREATE STREAM POC_CLICKSTREAM_STREAM (
EVENTID STRING,
ID STRING,
NAME STRING,
SESSIONID STRING,
EVENTTYPE STRING,
PAGEURL STRING,
EVENTTIMESTAMP BIGINT
) WITH (
  KAFKA_TOPIC = 'ORCLCDB.C__MYUSER.POC_CLICKSTREAM',
  KEY_FORMAT = 'AVRO',
  VALUE_FORMAT = 'AVRO'
);
"""


def _seed_config(text: str) -> dict[str, str]:
    cfg = json.loads(text)["config"]
    return {k: str(v) for k, v in cfg.items()}


@pytest.fixture(scope="module")
def spec():
    return load_spec(DEFAULT, env=NO_ENV)


@pytest.fixture(scope="module")
def debezium_spec():
    return load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium"})


@pytest.fixture(scope="module")
def three():
    return load_spec(THREE, env=NO_ENV)


def _grant_lines(sql: str) -> list[str]:
    return [line.strip().rstrip(";") for line in sql.strip().splitlines() if line.strip().upper().startswith("GRANT")]


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------


def test_default_path_and_env_override(tmp_path, monkeypatch, spec):
    monkeypatch.delenv("CDC_PIPELINE_SPEC", raising=False)
    monkeypatch.delenv("CDC_SOURCE_FLAVOR", raising=False)
    monkeypatch.delenv("CDC_FORMAT", raising=False)
    assert load_spec() == spec
    other = tmp_path / "other.yaml"
    other.write_text(THREE.read_text())
    monkeypatch.setenv("CDC_PIPELINE_SPEC", str(other))
    assert len(load_spec().oracle.tables) == 3
    monkeypatch.setenv("CDC_PIPELINE_SPEC", str(tmp_path / "missing.yaml"))
    with pytest.raises(SpecError, match=r"missing\.yaml: cannot read the spec file"):
        load_spec()


def test_flavor_and_format_env_overrides(spec):
    assert spec.source.flavor == "confluent" and spec.source.format == "avro"
    s = load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium", "CDC_FORMAT": "json"})
    assert (s.source.flavor, s.source.format) == ("debezium", "json")
    with pytest.raises(SpecError) as e:
        load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "kafka"})
    msg = str(e.value)
    assert "pipeline.yaml" in msg and "source.flavor (from env CDC_SOURCE_FLAVOR)" in msg and "'kafka'" in msg
    s = load_spec(DEFAULT, env={"CDC_CONNECT_BOOTSTRAP_SERVERS": "127.0.0.1:19092", "CDC_CONNECT_ORACLE_PORT": "11521"})
    cfg = source_connector_configs(s)["userdata_avro"]
    assert cfg["confluent.topic.bootstrap.servers"] == "127.0.0.1:19092" and cfg["oracle.port"] == "11521"


# ---------------------------------------------------------------------------------------------
# the default file reproduces the seed
# ---------------------------------------------------------------------------------------------


def test_role_reproduces_every_seed_grant(spec):
    role = spec.oracle.role
    assert role.name == "C##CDC_PRIVS"
    assert "CREATE ROLE C##CDC_PRIVS;" in SEED_ROLE_SQL
    seed_roles, seed_sys, seed_obj = [], [], []
    for line in _grant_lines(SEED_ROLE_SQL):
        m = re.fullmatch(r"GRANT (\w+) ON (\S+) to C##CDC_PRIVS", line, re.I)
        if m:
            seed_obj.append((m.group(1), m.group(2)))
            continue
        what = re.fullmatch(r"GRANT (.+) TO C##CDC_PRIVS", line).group(1)
        (seed_roles if what.endswith("_ROLE") else seed_sys).append(what)
    assert list(role.granted_roles) == seed_roles == ["EXECUTE_CATALOG_ROLE"]
    assert list(role.system_privileges) == seed_sys
    assert [(g.privilege, g.object) for g in role.object_privileges] == seed_obj
    assert len(seed_sys) + len(seed_obj) + len(seed_roles) == 39  # every GRANT line of the seed's role block
    # the per-table grants of the seed are derived from the captured tables
    seed_tables = [re.fullmatch(r"GRANT (\w+) ON (\S+) TO (\S+)", g).groups() for g in _grant_lines(SEED_TABLE_GRANTS)]
    assert table_select_grants(spec) == seed_tables


def test_user_reproduces_the_seed(spec):
    u = spec.oracle.user
    m = re.search(r"CREATE USER (\S+) IDENTIFIED BY \S+ DEFAULT TABLESPACE (\w+) (CONTAINER=ALL)", SEED_USER_SQL)
    assert (u.name, u.default_tablespace, u.container_all) == (m.group(1), m.group(2), True)
    assert re.search(rf"ALTER USER {re.escape(u.name)} QUOTA {u.quota} ON {u.default_tablespace}", SEED_USER_SQL)
    assert u.password_env == "ORACLE_PASSWORD"
    derived = []
    for r in u.roles:
        derived.append((r.name, r.container_all))
    for p in u.system_privileges:
        derived.append((p.privilege, p.container_all))
    for o in u.object_privileges:
        derived.append((f"{o.privilege} ON {o.object}", o.container_all))
    seed = []
    for line in _grant_lines(SEED_USER_SQL):
        m = re.fullmatch(r"GRANT (.+?) TO C##MYUSER( CONTAINER=ALL)?", line, re.I)
        seed.append((m.group(1), bool(m.group(2))))
    assert sorted(derived) == sorted(seed)
    assert ("FLASHBACK ANY TABLE", False) in derived and ("FLASHBACK ANY TABLE", True) in derived


def test_tables_columns_keys_and_rows(spec):
    assert [t.name for t in spec.oracle.tables] == ["POC_USERDATA", "POC_CLICKSTREAM"]
    for t in spec.oracle.tables:
        assert t.capture
        assert [(c.name, c.type, c.primary_key) for c in t.columns] == SEED_COLUMNS[t.name]
        assert [dict(r) for r in t.initial_rows] == SEED_INITIAL_ROWS[t.name]
        assert [dict(r) for r in t.demo_rows] == SEED_DEMO_ROWS[t.name]
    assert derive.qualified_table(spec, "POC_USERDATA") == "C##MYUSER.POC_USERDATA"


def test_topic_names(spec, debezium_spec):
    for s in (spec, debezium_spec):
        assert cdc_topic(s, "POC_CLICKSTREAM") == "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
        assert cdc_topic(s, "POC_USERDATA") == "ORCLCDB.C__MYUSER.POC_USERDATA"
        assert aggregate_topic(s, "USER_AGGREGATE_EVENTS") == "USER_AGGREGATE_EVENTS"
    # the ksqlDB objects read exactly the seed's topics
    for name, topic in re.findall(r"CREATE (?:TABLE|STREAM) (\w+) .*?KAFKA_TOPIC = '([^']+)'", SEED_KSQL, re.S):
        assert derive.object_topic(spec, name) == topic


@pytest.mark.parametrize(
    "name,seed_text,seed_regex_matches",
    [("userdata_avro", SEED_USERDATA_CONNECTOR, "POC_USERDATA"), ("clickstream_avro", SEED_CLICKSTREAM_CONNECTOR, "POC_CLICKSTREAM")],
)
def test_confluent_source_configs_reproduce_the_seed(spec, name, seed_text, seed_regex_matches):
    cfgs = source_connector_configs(spec)
    assert list(cfgs) == ["userdata_avro", "clickstream_avro"]
    raw = cfgs[name]
    assert raw["oracle.password"] == "<secret:ORACLE_PASSWORD>"  # no secret in the derived config
    derived = render_connector_config(raw, {"ORACLE_PASSWORD": "password"})
    seed = _seed_config(seed_text)
    # deliberate deviations, each checked below
    deviations = {"table.inclusion.regex"}
    for k, v in seed.items():
        if k not in deviations:
            assert derived[k] == v, k
    assert set(derived) - set(seed) == {"confluent.license"}
    assert derived["confluent.license"] == ""  # CONFLUENT_LICENSE unset -> trial
    assert render_connector_config(raw, {"ORACLE_PASSWORD": "p", "CONFLUENT_LICENSE": "LIC"})["confluent.license"] == "LIC"
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
        "database.password": "<secret:ORACLE_PASSWORD>",
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
    assert sensitive_keys(c) == {"database.password"}
    assert render_connector_config(c, {"ORACLE_PASSWORD": "pw"})["database.password"] == "pw"


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
        src = source_for(s)
        assert isinstance(src, CdcSource)
        for conn in s.connectors.sources:
            for t in conn.tables:
                assert src.topic_for(s, t) == cdc_topic(s, t)
    assert isinstance(source_for(spec), ConfluentOracleSource)
    assert isinstance(source_for(debezium_spec), DebeziumOracleSource)


# ---------------------------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------------------------


def test_secrets_markers_render_and_redaction(spec):
    cfg = source_connector_configs(spec)["userdata_avro"]
    assert sensitive_keys(cfg) == {"oracle.password", "confluent.license"}
    with pytest.raises(MissingSecret) as e:
        render_connector_config(cfg, {})
    assert "userdata_avro: oracle.password needs environment variable ORACLE_PASSWORD" in str(e.value)
    rendered = render_connector_config(cfg, {"ORACLE_PASSWORD": "s3cret-pw", "CONFLUENT_LICENSE": "LICENSE-KEY"})
    shown = redacted_config(rendered)
    assert shown["oracle.password"] == shown["confluent.license"] == "********"
    assert "s3cret-pw" not in json.dumps(shown) and "LICENSE-KEY" not in json.dumps(shown)
    assert redacted_config(cfg)["oracle.password"] == "<secret:ORACLE_PASSWORD>"  # a name, not a secret
    assert shown["oracle.username"] == "C##MYUSER"
    for node in lineage(spec).nodes:
        assert "s3cret" not in json.dumps(node.metadata, default=str)


# ---------------------------------------------------------------------------------------------
# ksqlDB
# ---------------------------------------------------------------------------------------------


def _columns(statement: str) -> list[tuple[str, str]]:
    body = statement[statement.index("(") + 1 : statement.index(") WITH")]
    return [tuple(c.split()[:2]) for c in body.replace("\n", " ").split(",") if c.strip()]


def test_ksql_statements(spec):
    stmts = ksql_statements(spec)
    assert [(s.name, s.kind) for s in stmts] == [
        ("POC_USERDATA_STREAM", "table"),
        ("POC_CLICKSTREAM_STREAM", "stream"),
        ("USER_AGGREGATE_EVENTS", "table"),
    ]
    by = {s.name: s.statement for s in stmts}
    # same columns, types and keys as the seed's CREATE statements
    for name, body in re.findall(r"CREATE (?:TABLE|STREAM) (\w+) \((.*?)\) WITH", SEED_KSQL, re.S):
        seed_cols = [tuple(c.split()[:2]) for c in body.split(",")]
        assert _columns(by[name]) == seed_cols
    assert "ID STRING PRIMARY KEY" in by["POC_USERDATA_STREAM"]
    assert "KEY_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"] and "VALUE_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"]
    click = by["POC_CLICKSTREAM_STREAM"]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in click and "EVENTTIMESTAMP BIGINT" in click
    agg = by["USER_AGGREGATE_EVENTS"]
    for frag in (
        "KAFKA_TOPIC='USER_AGGREGATE_EVENTS'",
        "AS_VALUE(NAME) AS USER_NAME",
        "COUNT(*) AS EVENT_COUNT",
        "WINDOWSTART AS WINDOW_START",
        "WINDOWEND AS WINDOW_END",
        "FROM POC_CLICKSTREAM_STREAM",
        "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE)",
        "GROUP BY NAME",
    ):
        assert frag in agg, frag
    for s in stmts:
        assert s.statement.startswith(f"CREATE {s.kind.upper()} IF NOT EXISTS {s.name}")
        assert s.statement.endswith(";") and s.statement.count(";") == 1
        assert "--" not in s.statement and "/*" not in s.statement
    assert ksql_properties(spec) == {"auto.offset.reset": "earliest"}
    cols = derive.object_columns(spec, "USER_AGGREGATE_EVENTS")
    assert [(c.name, c.type, c.key) for c in cols] == [
        ("NAME", "STRING", True),
        ("USER_NAME", "STRING", False),
        ("EVENT_COUNT", "BIGINT", False),
        ("WINDOW_START", "BIGINT", False),
        ("WINDOW_END", "BIGINT", False),
    ]
    assert derive.window_ms(spec, "USER_AGGREGATE_EVENTS") == (60_000, 60_000)
    assert isinstance(derive.engine_for(spec), (KsqlDbEngine, StreamEngine))


def test_json_format_statements():
    s = load_spec(DEFAULT, env={"CDC_FORMAT": "json", "CDC_SOURCE_FLAVOR": "debezium"})
    for st in ksql_statements(s):
        assert "KEY_FORMAT='KAFKA'" in st.statement and "VALUE_FORMAT='JSON'" in st.statement
        assert "AVRO" not in st.statement


# ---------------------------------------------------------------------------------------------
# Redis sink
# ---------------------------------------------------------------------------------------------


def test_redis_sink_config_and_keys(spec):
    cfgs = sink_connector_configs(spec)
    assert list(cfgs) == ["redis-sink-json"]
    c = cfgs["redis-sink-json"]
    seed = _seed_config(SEED_REDIS_SINK)
    changed = {"key.converter", "key.converter.schema.registry.url"}
    for k, v in seed.items():
        if k not in changed:
            assert c[k] == v, k
    # fix of the windowed-key fault: key rebuilt from the value column copied with AS_VALUE
    assert c["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert "key.converter.schema.registry.url" not in c
    assert c["transforms"] == "valueToKey,extractKey"
    assert c["transforms.valueToKey.type"] == "org.apache.kafka.connect.transforms.ValueToKey"
    assert c["transforms.valueToKey.fields"] == "USER_NAME"
    assert c["transforms.extractKey.type"] == "org.apache.kafka.connect.transforms.ExtractField$Key"
    assert c["transforms.extractKey.field"] == "USER_NAME"
    assert c["redis.password"] == "<secret:REDIS_PASSWORD?>"  # compose's requirepass; never a value in the config
    assert set(c) - set(seed) == {"name", "redis.password", "transforms", "transforms.valueToKey.type", "transforms.valueToKey.fields",
                                  "transforms.extractKey.type", "transforms.extractKey.field"}
    assert redis_key(spec, "redis-sink-json", "jdoe") == "USER_AGGREGATE_EVENTS:jdoe"
    assert redis_key_pattern(spec, "redis-sink-json") == "USER_AGGREGATE_EVENTS:*"
    # jwick and jcena (checked by the seed) have no clicks, so no key
    assert expected_redis_keys(spec) == [
        "USER_AGGREGATE_EVENTS:jdoe",
        "USER_AGGREGATE_EVENTS:rsmith",
        "USER_AGGREGATE_EVENTS:amary",
    ]
    assert required_plugins(spec) == sorted(
        {
            "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",
            "com.redis.kafka.connect.RedisSinkConnector",
            "io.confluent.connect.avro.AvroConverter",
            "org.apache.kafka.connect.storage.StringConverter",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "org.apache.kafka.connect.transforms.ValueToKey",
            "org.apache.kafka.connect.transforms.ExtractField$Key",
        }
    )


def test_redis_sink_json_value_converter():
    s = load_spec(DEFAULT, env={"CDC_FORMAT": "json"})
    c = sink_connector_configs(s)["redis-sink-json"]
    assert c["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert c["value.converter.schemas.enable"] == "false"
    assert not any("schema.registry" in k for k in c)


# ---------------------------------------------------------------------------------------------
# lineage
# ---------------------------------------------------------------------------------------------


def test_lineage_graph(spec):
    g = lineage(spec)
    keys = [n.key for n in g.nodes]
    assert len(keys) == len(set(keys))
    for k in keys:
        assert all(re.fullmatch(r"[A-Za-z0-9_\-]+", part) for part in k), k
    chain = [
        ("oracle", "role", "C__CDC_PRIVS"),
        ("oracle", "user", "C__MYUSER"),
        ("oracle", "table", "POC_CLICKSTREAM"),
        ("connect", "clickstream_avro"),
        ("kafka", "ORCLCDB_C__MYUSER_POC_CLICKSTREAM"),
        ("ksqldb", "POC_CLICKSTREAM_STREAM"),
        ("ksqldb", "USER_AGGREGATE_EVENTS"),
        ("kafka", "USER_AGGREGATE_EVENTS"),
        ("connect", "redis-sink-json"),
        ("redis", "USER_AGGREGATE_EVENTS"),
    ]
    for up, down in zip(chain, chain[1:]):
        assert (up, down) in g.edges, (up, down)
    topic = g.node(("kafka", "ORCLCDB_C__MYUSER_POC_CLICKSTREAM"))
    assert topic.metadata["topic"] == topic.name == "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
    assert g.deps(("ksqldb", "POC_USERDATA_STREAM")) == [("kafka", "ORCLCDB_C__MYUSER_POC_USERDATA")]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in g.node(("ksqldb", "POC_CLICKSTREAM_STREAM")).metadata["statement"]
    assert g.node(("redis", "USER_AGGREGATE_EVENTS")).metadata["key_pattern"] == "USER_AGGREGATE_EVENTS:*"
    assert {n.kind for n in g.nodes} == {
        "oracle_role", "oracle_user", "oracle_table", "source_connector", "kafka_topic",
        "ksql_table", "ksql_stream", "sink_connector", "redis_keys",
    }
    assert all(n.code_version for n in g.nodes)
    # every edge joins known nodes; every non-root node has an upstream
    assert all(a in keys and b in keys for a, b in g.edges)
    assert [n.key for n in g.nodes if not g.deps(n.key)] == [("oracle", "role", "C__CDC_PRIVS")]


def test_spec_hash_is_stable_and_sensitive(spec):
    again = load_spec(DEFAULT, env=NO_ENV)
    assert spec_hash(spec) == spec_hash(again)
    assert re.fullmatch(r"[0-9a-f]{16}", spec_hash(spec))
    assert spec_hash({"a": 1, "b": 2}) == spec_hash({"b": 2, "a": 1})
    changed = load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium"})
    assert spec_hash(spec) != spec_hash(changed)
    g1, g2 = lineage(spec), lineage(changed)
    # the flavor changes connector assets, not the ksqlDB objects
    assert g1.node(("connect", "userdata_avro")).code_version != g2.node(("connect", "userdata_avro")).code_version
    assert g1.node(("ksqldb", "USER_AGGREGATE_EVENTS")).code_version == g2.node(("ksqldb", "USER_AGGREGATE_EVENTS")).code_version


# ---------------------------------------------------------------------------------------------
# a third table and a second aggregate are a spec edit
# ---------------------------------------------------------------------------------------------


def test_three_tables_spec(three):
    assert [t.name for t in three.oracle.tables] == ["POC_USERDATA", "POC_CLICKSTREAM", "POC_PURCHASES"]
    assert three.oracle.tables[2].demo_rows[1]["PURCHASEDAT"] == dt.datetime(2024, 5, 1, 10, 0)
    assert table_select_grants(three)[-1] == ("SELECT", "C##MYUSER.POC_PURCHASES", "C##CDC_PRIVS")
    assert cdc_topic(three, "POC_PURCHASES") == "ORCLCDB.C__MYUSER.POC_PURCHASES"
    names = [s.name for s in ksql_statements(three)]
    assert names.index("POC_PURCHASES_STREAM") < names.index("PURCHASES_PER_USER")
    assert names.index("POC_CLICKSTREAM_STREAM") < names.index("USER_AGGREGATE_EVENTS")
    agg = {s.name: s.statement for s in ksql_statements(three)}["PURCHASES_PER_USER"]
    assert "WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS)" in agg
    assert "AS_VALUE(NAME) AS BUYER" in agg and "KAFKA_TOPIC='purchases-per-user'" in agg
    purchases_stream = {s.name: s.statement for s in ksql_statements(three)}["POC_PURCHASES_STREAM"]
    assert "PURCHASEID STRING KEY" in purchases_stream and "TIMESTAMP='PURCHASEDAT'" in purchases_stream
    sinks = sink_connector_configs(three)
    assert sinks["redis-sink-purchases"]["topics"] == "purchases-per-user"
    assert sinks["redis-sink-purchases"]["transforms.extractKey.field"] == "BUYER"
    assert redis_key(three, "redis-sink-purchases", "jdoe") == "purchases-per-user:jdoe"
    assert expected_redis_keys(three, "redis-sink-purchases") == ["purchases-per-user:jdoe", "purchases-per-user:rsmith"]
    assert derive.window_ms(three, "PURCHASES_PER_USER") == (300_000, 30_000)
    g = lineage(three)
    assert (("kafka", "purchases-per-user"), ("connect", "redis-sink-purchases")) in g.edges
    assert (("oracle", "table", "POC_PURCHASES"), ("connect", "oracle-cdc-purchases")) in g.edges
    assert g.deps(("connect", "oracle-cdc-main")) == [("oracle", "table", "POC_USERDATA"), ("oracle", "table", "POC_CLICKSTREAM")]
    # the same spec with the other flavor and format
    s = load_spec(THREE, env={"CDC_SOURCE_FLAVOR": "confluent", "CDC_FORMAT": "avro"})
    assert ksql_statements(s)[-1].statement.count("'AVRO'") == 2
    assert set(source_connector_configs(s)) == {"oracle-cdc-main", "oracle-cdc-purchases"}


# ---------------------------------------------------------------------------------------------
# invalid specs: file name, field path and reason, before anything runs
# ---------------------------------------------------------------------------------------------


def _doc() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def _set(path: str, value):
    def mutate(d):
        parts = re.findall(r"[^.\[\]]+", path)
        cur = d
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        last = parts[-1]
        if last.isdigit():
            cur[int(last)] = value
        else:
            cur[last] = value

    return mutate


def _del(path: str):
    def mutate(d):
        parts = re.findall(r"[^.\[\]]+", path)
        cur = d
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        del cur[parts[-1]]

    return mutate


def _append_table_copy(d):
    d["oracle"]["tables"].append(copy.deepcopy(d["oracle"]["tables"][0]))


BAD_CASES = [
    # (id, mutation, expected field path, expected reason fragment)
    ("semicolon-ksql-name", _set("ksqldb.objects[2].name", "USER;DROP"), "ksqldb.objects[2].name",
     "'USER;DROP' is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)"),
    ("semicolon-oracle-table", _set("oracle.tables[0].name", "POC;DROP"), "oracle.tables[0].name",
     "is not a valid Oracle identifier"),
    ("quote-in-column", _set("oracle.tables[1].columns[2].name", "NAME'"), "oracle.tables[1].columns[2].name",
     "\"NAME'\" is not a valid Oracle identifier"),
    ("comment-in-privilege", _set("oracle.role.system_privileges[0]", "ALTER SESSION --"), "oracle.role.system_privileges[0]",
     "is not a valid Oracle system privilege"),
    ("comment-in-ksql-type", _set("ksqldb.objects[1].columns[0].type", "STRING -- x"), "ksqldb.objects[1].columns[0].type",
     "is not an allowed ksqlDB column type"),
    ("unknown-key", _set("ksqldb.objects[0].colums", []), "ksqldb.objects[0].colums", "unknown key 'colums' (allowed: name, kind"),
    ("missing-field", _del("oracle.user.name"), "oracle.user.name", "required field is missing"),
    ("bad-oracle-type", _set("oracle.tables[0].columns[1].type", "VARCHAR2(50); DROP TABLE X"), "oracle.tables[0].columns[1].type",
     "is not an allowed Oracle column type"),
    ("bad-ksql-type-for-column", _set("ksqldb.objects[1].columns[6].type", "BOOLEAN"), "ksqldb.objects[1].columns[6].type",
     "BOOLEAN does not fit Oracle column POC_CLICKSTREAM.EVENTTIMESTAMP TIMESTAMP"),
    ("duplicate-table", _append_table_copy, "oracle.tables[2].name", "duplicate table 'POC_USERDATA' (also at oracle.tables[0].name)"),
    ("unknown-table-in-connector", _set("connectors.sources[0].tables", ["POC_USERS"]), "connectors.sources[0].tables[0]",
     "unknown table 'POC_USERS'"),
    ("unknown-table-in-ksql", _set("ksqldb.objects[0].source.table", "POC_NOPE"), "ksqldb.objects[0].source.table",
     "unknown table 'POC_NOPE'"),
    ("aggregate-from-unknown-stream", _set("ksqldb.objects[2].aggregate.from", "CLICKS"), "ksqldb.objects[2].aggregate.from",
     "unknown ksqlDB object 'CLICKS'"),
    ("aggregate-from-table", _set("ksqldb.objects[2].aggregate.from", "POC_USERDATA_STREAM"), "ksqldb.objects[2].aggregate.from",
     "a windowed aggregate reads a stream"),
    ("wrong-flavor", _set("source.flavor", "striim"), "source.flavor", "'striim' is not allowed: input should be 'confluent' or 'debezium'"),
    ("negative-window", _set("ksqldb.objects[2].aggregate.window.size", "-1 MINUTE"), "ksqldb.objects[2].aggregate.window.size",
     "is not a valid duration"),
    ("zero-window", _set("ksqldb.objects[2].aggregate.window.size", "0 MINUTES"), "ksqldb.objects[2].aggregate.window.size",
     "must be a positive duration"),
    ("sink-reads-nothing", _set("sinks[0].object", "USER_TOTALS"), "sinks[0].object",
     "unknown ksqlDB object 'USER_TOTALS': nothing produces the topic it would read"),
    ("sink-reads-non-aggregate", _set("sinks[0].object", "POC_CLICKSTREAM_STREAM"), "sinks[0].object", "is not an aggregate"),
    ("table-not-captured", _set("connectors.sources", [{"name": "userdata_avro", "tables": ["POC_USERDATA"]}]),
     "oracle.tables[1].capture", "no connectors.sources entry includes it"),
    ("ksql-reads-uncaptured", lambda d: (_set("oracle.tables[1].capture", False)(d), _set("connectors.sources", [{"name": "u", "tables": ["POC_USERDATA"]}])(d)),
     "ksqldb.objects[1].source.table", "its CDC topic is never produced"),
    ("reserved-oracle-word", _set("oracle.tables[0].columns[1].name", "USER"), "oracle.tables[0].columns[1].name", "Oracle reserved word"),
    ("reserved-ksql-word", _set("ksqldb.objects[0].name", "SELECT"), "ksqldb.objects[0].name", "ksqlDB reserved word"),
    ("lower-case-identifier", _set("oracle.tables[0].name", "poc_userdata"), "oracle.tables[0].name", "must be upper case"),
    ("timestamp-not-a-column", _set("ksqldb.objects[1].timestamp", "CREATED"), "ksqldb.objects[1].timestamp", "not one of the object's columns"),
    ("value-key-equals-group-by", _set("ksqldb.objects[2].aggregate.value_key_column", "NAME"),
     "ksqldb.objects[2].aggregate.value_key_column", "already used by group_by"),
    ("duplicate-primary-key-row", _set("oracle.tables[0].demo_rows[0].ID", "101"), "oracle.tables[0].demo_rows[0]",
     "duplicate primary key '101'"),
    ("row-unknown-column", _set("oracle.tables[0].initial_rows[0].EMAIL", "x@y"), "oracle.tables[0].initial_rows[0].EMAIL",
     "table POC_USERDATA has no column 'EMAIL'"),
    ("row-value-too-long", _set("oracle.tables[0].initial_rows[0].NAME", "x" * 51), "oracle.tables[0].initial_rows[0].NAME",
     "longer than VARCHAR2(50) allows"),
    ("bad-port-type", _set("endpoints.oracle_port", "fifteen"), "endpoints.oracle_port", "'fifteen'"),
    ("duplicate-connector", _set("sinks[0].name", "userdata_avro"), "sinks[0].name", "duplicate connector name 'userdata_avro'"),
    ("avro-without-registry", lambda d: (_set("source.format", "json")(d), _set("ksqldb.objects[2].value_format", "AVRO")(d)),
     "ksqldb.objects[2].value_format", "AVRO needs Schema Registry"),
    ("table-key-not-pk", _set("ksqldb.objects[0].columns[0].key", False), "ksqldb.objects[0].columns", "needs its primary key column"),
]


@pytest.mark.parametrize("case_id,mutate,path,reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_invalid_spec_is_rejected_with_file_path_and_reason(tmp_path, case_id, mutate, path, reason):
    doc = _doc()
    mutate(doc)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    msg = str(e.value)
    line = next((ln for ln in msg.splitlines() if f"{f}: {path}: " in ln), None)
    assert line is not None, f"no line for {path!r} in:\n{msg}"
    assert reason in line, f"{reason!r} not in {line!r}"
    assert "bad.yaml" in line


def test_the_message_format_of_the_issue(tmp_path):
    doc = _doc()
    doc["ksqldb"]["objects"][2]["name"] = "USER;DROP"
    f = tmp_path / "pipeline.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    assert str(e.value).splitlines()[0] == (
        f"{f}: ksqldb.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier "
        "(letters, digits, _; must start with a letter)"
    )
    assert e.value.problems[0] == ("ksqldb.objects[2].name", e.value.problems[0][1])


def test_yaml_syntax_error_reports_the_line(tmp_path):
    text = DEFAULT.read_text().replace("  database: ORCLCDB ", "  database: [ORCLCDB ", 1)
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    msg = str(e.value)
    assert msg.startswith(f"{f}: line ") and "invalid YAML" in msg
    lineno = int(re.search(r"line (\d+)", msg).group(1))
    assert abs(lineno - next(i for i, ln in enumerate(text.splitlines(), 1) if "[ORCLCDB" in ln)) <= 1


def test_duplicate_yaml_key_is_an_error(tmp_path):
    text = DEFAULT.read_text().replace("  flavor: confluent", "  flavor: confluent\n  flavor: debezium", 1)
    with pytest.raises(SpecError, match=r"dup\.yaml: line \d+, column \d+: invalid YAML: found duplicate key 'flavor'"):
        parse_spec(text, "dup.yaml")


def test_non_mapping_and_empty_files():
    with pytest.raises(SpecError, match=r"x\.yaml: the top level must be a mapping"):
        parse_spec("- a\n- b\n", "x.yaml")
    with pytest.raises(SpecError) as e:
        parse_spec("", "empty.yaml")
    assert "empty.yaml: oracle: required field is missing" in str(e.value)


def test_all_problems_are_reported_at_once(tmp_path):
    doc = _doc()
    doc["oracle"]["tables"][0]["name"] = "A B"
    doc["ksqldb"]["objects"][0]["kind"] = "view"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "two.yaml")
    paths = [p for p, _ in e.value.problems]
    assert "oracle.tables[0].name" in paths and "ksqldb.objects[0].kind" in paths


def test_identifiers_cannot_smuggle_sql():
    from pipeline_defs.spec import _ksql_ident, _oracle_ident

    for bad in ("A;B", "A'B", 'A"B', "A--B", "A B", "A/*B", "1ABC", "", "A\nB", "A`B"):
        with pytest.raises(ValueError):
            _ksql_ident(bad)
        with pytest.raises(ValueError):
            _oracle_ident(bad)
    assert _oracle_ident("C##CDC_PRIVS") == "C##CDC_PRIVS"
    with pytest.raises(ValueError, match="128 bytes"):
        _oracle_ident("A" * 129)
