"""The declarative spec (pipeline.yaml, pipeline_defs/spec/) and everything the system packages
derive from it (pipeline_defs/systems/{oracle,ksqldb,redis,connect}, pipeline_defs/lineage.py).

The default file must reproduce the hand-built seed recipe; the literals below are copied from
the seed (shared/seed/000_13f6e7e649a882cc.txt) so any drift shows up here.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from pipeline_defs.core import registry
from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.spec import SpecError, load_spec, parse_spec, spec_hash
from pipeline_defs.systems.connect.props import ConnectorProps
from pipeline_defs.systems.ksqldb.plugin import KsqlDbPlugin
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from pipeline_defs.systems.oracle.connectors import (
    CdcSource,
    ConfluentOracleSource,
    DebeziumOracleSource,
    flavor_of,
    topic_for,
)
from pipeline_defs.systems.oracle.plugin import OracleSourcePlugin
from pipeline_defs.systems.oracle.sql import role_grants
from pipeline_defs.systems.redis.plugin import RedisKeysProps
from resources.redaction import REDACTED, redact_mapping

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
        {
            "EVENTID": 1,
            "ID": "101",
            "NAME": "jdoe",
            "SESSIONID": "sess456",
            "EVENTTYPE": "page_view",
            "PAGEURL": "https://example.com/home",
            "EVENTTIMESTAMP": CT,
        },
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
        {
            "EVENTID": 2,
            "ID": "101",
            "NAME": "jdoe",
            "SESSIONID": "sess456",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/product/123",
            "EVENTTIMESTAMP": CT,
        },
        {
            "EVENTID": 3,
            "ID": "101",
            "NAME": "jdoe",
            "SESSIONID": "sess456",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/product/125",
            "EVENTTIMESTAMP": CT,
        },
        {
            "EVENTID": 4,
            "ID": "102",
            "NAME": "rsmith",
            "SESSIONID": "sess789",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/about",
            "EVENTTIMESTAMP": CT,
        },
        {
            "EVENTID": 5,
            "ID": "102",
            "NAME": "rsmith",
            "SESSIONID": "sess101",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/checkout",
            "EVENTTIMESTAMP": CT,
        },
        {
            "EVENTID": 6,
            "ID": "103",
            "NAME": "amary",
            "SESSIONID": "sess101",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/checkout",
            "EVENTTIMESTAMP": CT,
        },
        {
            "EVENTID": 7,
            "ID": "103",
            "NAME": "amary",
            "SESSIONID": "sess101",
            "EVENTTYPE": "click",
            "PAGEURL": "https://example.com/checkout",
            "EVENTTIMESTAMP": CT,
        },
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


# ---------------------------------------------------------------------------------------------
# what the system packages derive, read the way provisioning reads it (from the lineage nodes)
# ---------------------------------------------------------------------------------------------


def source_connector_configs(spec) -> dict[str, dict[str, str]]:
    return flavor_of(spec.source).connector_configs(spec)


def connector_props(spec) -> dict[str, ConnectorProps]:
    return {n.name: n.desired for n in lineage(spec).by_system("connect")}


def sink_connector_configs(spec) -> dict[str, dict[str, str]]:
    return {name: dict(p.config) for name, p in connector_props(spec).items() if p.role == "sink"}


def ksql_statements(spec):
    return KsqlCompiler(spec).statements()


def cdc_topic(spec, table: str) -> str:
    return topic_for(spec.source, table)


def aggregate(spec, name: str) -> registry.AggregateOutput:
    [agg] = [a for a in registry.engine_of(spec).aggregates(spec) if a.name == name]
    return agg


def redis_keys(spec, sink: str) -> RedisKeysProps:
    [props] = [n.desired for n in lineage(spec).by_kind("redis_keys") if n.desired.sink == sink]
    return props


def table_select_grants(spec) -> list[tuple[str, str, str]]:
    """The derived per-table grants of the CDC role: (privilege, OWNER.TABLE, grantee)."""
    user = spec.source.user.name
    return [
        (g.privilege, f"{g.owner}.{g.object_name}", g.grantee) for g in role_grants(spec.source) if g.kind == "object" and g.owner == user
    ]


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
    monkeypatch.delenv("CDC_PROFILE", raising=False)
    for var in [v for v in os.environ if v.startswith("CDC_CONNECT_")]:  # a session stack exports its addresses
        monkeypatch.delenv(var)
    assert load_spec() == spec
    other = tmp_path / "other.yaml"
    other.write_text(THREE.read_text())
    monkeypatch.setenv("CDC_PIPELINE_SPEC", str(other))
    assert len(load_spec().source.tables) == 3
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
    role = spec.source.role
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
    u = spec.source.user
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
    assert [t.name for t in spec.source.tables] == ["POC_USERDATA", "POC_CLICKSTREAM"]
    for t in spec.source.tables:
        assert t.capture
        assert [(c.name, c.type, c.primary_key) for c in t.columns] == SEED_COLUMNS[t.name]
        assert [dict(r) for r in t.initial_rows] == SEED_INITIAL_ROWS[t.name]
        assert [dict(r) for r in t.demo_rows] == SEED_DEMO_ROWS[t.name]
    tables = {t.name: t for t in OracleSourcePlugin().tables(spec)}
    assert tables["POC_USERDATA"].qualified == "C##MYUSER.POC_USERDATA"
    assert tables["POC_USERDATA"].primary_key == ["ID"] and tables["POC_CLICKSTREAM"].primary_key == ["EVENTID"]


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


# ---------------------------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------------------------


SECRET_ENV = {"ORACLE_PASSWORD": "s3cret-pw", "CONFLUENT_LICENSE": "LICENSE-KEY", "REDIS_PASSWORD": "redis-s3cret"}


def test_connector_configs_hold_env_placeholders_never_secret_values(spec):
    props = connector_props(spec)
    src = props["userdata_avro"]
    assert src.secret_keys == {"oracle.password", "confluent.license"}
    assert src.secret_env == {"ORACLE_PASSWORD", "CONFLUENT_LICENSE"}
    assert src.config["oracle.password"] == "${env:ORACLE_PASSWORD}"
    assert src.config["confluent.license"] == "${env:CONFLUENT_LICENSE}"
    sink = props["redis-sink-json"]
    assert sink.secret_keys == {"redis.password"} and sink.config["redis.password"] == "${env:REDIS_PASSWORD}"
    # every sensitive key of every connector is a placeholder (nothing else could be a value)
    for p in props.values():
        for k, v in p.config.items():
            if "password" in k or "license" in k:
                assert k in p.secret_keys and re.fullmatch(r"\$\{env:[A-Z_][A-Z0-9_]*\}", v), (p.name, k, v)
    # shown redacted anyway; the plain keys stay readable
    shown = redact_mapping(src.config)
    assert shown["oracle.password"] == shown["confluent.license"] == REDACTED
    assert shown["oracle.username"] == "C##MYUSER"


def test_configs_are_the_same_with_or_without_secrets_in_the_environment(monkeypatch, spec):
    for var in SECRET_ENV:
        monkeypatch.delenv(var, raising=False)
    without = {n.key: (dict(n.desired.config), n.metadata, n.code_version) for n in lineage(spec).by_system("connect")}
    for var, value in SECRET_ENV.items():
        monkeypatch.setenv(var, value)
    with_secrets = load_spec(DEFAULT, env={**NO_ENV, **SECRET_ENV})
    g = lineage(with_secrets)
    assert {n.key: (dict(n.desired.config), n.metadata, n.code_version) for n in g.by_system("connect")} == without
    blob = json.dumps([(n.metadata, repr(n.desired)) for n in g.nodes], default=str)
    for value in SECRET_ENV.values():
        assert value not in blob


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
        ("POC_CLICKSTREAM_DELTAS", "stream"),
        ("USER_AGGREGATE_EVENTS", "table"),
    ]
    by = {s.name: s.statement for s in stmts}
    # same columns, types and keys as the seed's CREATE statements, plus the change columns of the clicks
    change_cols = {"POC_CLICKSTREAM_STREAM": [("OP_TYPE", "STRING"), ("BEFORE_STATE", "STRUCT<NAME")]}
    for name, body in re.findall(r"CREATE (?:TABLE|STREAM) (\w+) \((.*?)\) WITH", SEED_KSQL, re.S):
        seed_cols = [tuple(c.split()[:2]) for c in body.split(",")]
        assert _columns(by[name])[: len(seed_cols) + len(change_cols.get(name, []))] == seed_cols + change_cols.get(name, [])
    assert "ID STRING PRIMARY KEY" in by["POC_USERDATA_STREAM"]
    assert "KEY_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"] and "VALUE_FORMAT='AVRO'" in by["POC_USERDATA_STREAM"]
    click = by["POC_CLICKSTREAM_STREAM"]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in click and "EVENTTIMESTAMP BIGINT" in click
    agg = by["USER_AGGREGATE_EVENTS"]
    for frag in (
        "KAFKA_TOPIC='USER_AGGREGATE_EVENTS'",
        "AS_VALUE(NAME) AS USER_NAME",
        "SUM(DELTA) AS EVENT_COUNT",
        "WINDOWSTART AS WINDOW_START",
        "WINDOWEND AS WINDOW_END",
        "FROM POC_CLICKSTREAM_DELTAS",
        "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE)",
        "GROUP BY NAME",
    ):
        assert frag in agg, frag
    deltas = by["POC_CLICKSTREAM_DELTAS"]
    for frag in (
        "TIMESTAMP='EVENTTIMESTAMP'",
        "CASE WHEN OP_TYPE = 'D' THEN CAST(-1 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS DELTA",
        "INSERT INTO POC_CLICKSTREAM_DELTAS\nSELECT\n  BEFORE_STATE->NAME AS NAME,\n  BEFORE_STATE->EVENTTIMESTAMP AS EVENTTIMESTAMP",
        "WHERE OP_TYPE = 'U'",
    ):
        assert frag in deltas, frag
    for s in stmts:
        assert s.statement.startswith(f"CREATE {s.kind.upper()} IF NOT EXISTS {s.name}")
        assert s.statement.endswith(";") and s.statement.count(";") == (2 if s.name == "POC_CLICKSTREAM_DELTAS" else 1)
        assert "--" not in s.statement and "/*" not in s.statement
    assert KsqlCompiler(spec).properties() == {"auto.offset.reset": "earliest"}
    cols = KsqlCompiler(spec).object_columns("USER_AGGREGATE_EVENTS")
    assert [(c.name, c.type, c.key) for c in cols] == [
        ("NAME", "STRING", True),
        ("USER_NAME", "STRING", False),
        ("EVENT_COUNT", "BIGINT", False),
        ("WINDOW_START", "BIGINT", False),
        ("WINDOW_END", "BIGINT", False),
    ]
    agg = aggregate(spec, "USER_AGGREGATE_EVENTS")
    assert (agg.window_ms, agg.grace_ms) == (60_000, 60_000)
    assert (agg.source_table, agg.group_by, agg.event_time) == ("POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP")
    assert (agg.name_field, agg.count_field, agg.window_start_field, agg.window_end_field, agg.value_format) == (
        "USER_NAME",
        "EVENT_COUNT",
        "WINDOW_START",
        "WINDOW_END",
        "AVRO",
    )
    assert isinstance(registry.engine_of(spec), KsqlDbPlugin)


def test_json_format_statements():
    s = load_spec(DEFAULT, env={"CDC_FORMAT": "json", "CDC_SOURCE_FLAVOR": "debezium"})
    for st in ksql_statements(s):
        # the key-less deltas stream names no key format
        assert ("KEY_FORMAT='KAFKA'" in st.statement or st.name == "POC_CLICKSTREAM_DELTAS") and "VALUE_FORMAT='JSON'" in st.statement
        assert "AVRO" not in st.statement


# ---------------------------------------------------------------------------------------------
# Redis sink
# ---------------------------------------------------------------------------------------------


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
        ("ksqldb", "POC_CLICKSTREAM_DELTAS"),
        ("ksqldb", "USER_AGGREGATE_EVENTS"),
        ("kafka", "USER_AGGREGATE_EVENTS"),
        ("connect", "redis-sink-json"),
        ("redis", "USER_AGGREGATE_EVENTS"),
    ]
    for up, down in itertools.pairwise(chain):
        assert (up, down) in g.edges, (up, down)
    topic = g.node(("kafka", "ORCLCDB_C__MYUSER_POC_CLICKSTREAM"))
    assert topic.metadata["topic"] == topic.name == "ORCLCDB.C__MYUSER.POC_CLICKSTREAM"
    assert g.deps(("ksqldb", "POC_USERDATA_STREAM")) == [("kafka", "ORCLCDB_C__MYUSER_POC_USERDATA")]
    assert "TIMESTAMP='EVENTTIMESTAMP'" in g.node(("ksqldb", "POC_CLICKSTREAM_STREAM")).metadata["statement"]
    assert g.node(("redis", "USER_AGGREGATE_EVENTS")).metadata["key_pattern"] == "USER_AGGREGATE_EVENTS:*"
    assert {n.kind for n in g.nodes} == {
        "oracle_role",
        "oracle_user",
        "oracle_table",
        "source_connector",
        "kafka_topic",
        "ksql_table",
        "ksql_stream",
        "sink_connector",
        "redis_keys",
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
    assert [t.name for t in three.source.tables] == ["POC_USERDATA", "POC_CLICKSTREAM", "POC_PURCHASES"]
    assert three.source.tables[2].demo_rows[1]["PURCHASEDAT"] == dt.datetime(2024, 5, 1, 10, 0)
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
    purchases = redis_keys(three, "redis-sink-purchases")
    assert purchases.shape.key_prefix + "jdoe" == "purchases-per-user:jdoe"
    assert list(purchases.expected_keys) == ["purchases-per-user:jdoe", "purchases-per-user:rsmith"]
    agg = aggregate(three, "PURCHASES_PER_USER")
    assert (agg.window_ms, agg.grace_ms) == (300_000, 30_000) and purchases.shape.window_ms == 300_000
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
    d["source"]["tables"].append(copy.deepcopy(d["source"]["tables"][0]))


BAD_CASES = [
    # (id, mutation, expected field path, expected reason fragment)
    (
        "semicolon-ksql-name",
        _set("engine.objects[2].name", "USER;DROP"),
        "engine.objects[2].name",
        "'USER;DROP' is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)",
    ),
    ("semicolon-oracle-table", _set("source.tables[0].name", "POC;DROP"), "source.tables[0].name", "is not a valid Oracle identifier"),
    (
        "quote-in-column",
        _set("source.tables[1].columns[2].name", "NAME'"),
        "source.tables[1].columns[2].name",
        '"NAME\'" is not a valid Oracle identifier',
    ),
    (
        "comment-in-privilege",
        _set("source.role.system_privileges[0]", "ALTER SESSION --"),
        "source.role.system_privileges[0]",
        "is not a valid Oracle system privilege",
    ),
    (
        "comment-in-ksql-type",
        _set("engine.objects[1].columns[0].type", "STRING -- x"),
        "engine.objects[1].columns[0].type",
        "is not an allowed ksqlDB column type",
    ),
    ("unknown-key", _set("engine.objects[0].colums", []), "engine.objects[0].colums", "unknown key 'colums' (allowed: name, kind"),
    ("missing-field", _del("source.user.name"), "source.user.name", "required field is missing"),
    (
        "bad-oracle-type",
        _set("source.tables[0].columns[1].type", "VARCHAR2(50); DROP TABLE X"),
        "source.tables[0].columns[1].type",
        "is not an allowed Oracle column type",
    ),
    (
        "bad-ksql-type-for-column",
        _set("engine.objects[1].columns[6].type", "BOOLEAN"),
        "engine.objects[1].columns[6].type",
        "BOOLEAN does not fit source column POC_CLICKSTREAM.EVENTTIMESTAMP TIMESTAMP",
    ),
    ("duplicate-table", _append_table_copy, "source.tables[2].name", "duplicate table 'POC_USERDATA' (also at source.tables[0].name)"),
    (
        "unknown-table-in-connector",
        _set("source.connectors[0].tables", ["POC_USERS"]),
        "source.connectors[0].tables[0]",
        "unknown table 'POC_USERS'",
    ),
    (
        "unknown-table-in-ksql",
        _set("engine.objects[0].source.table", "POC_NOPE"),
        "engine.objects[0].source.table",
        "unknown table 'POC_NOPE'",
    ),
    (
        "aggregate-from-unknown-stream",
        _set("engine.objects[3].aggregate.from", "CLICKS"),
        "engine.objects[3].aggregate.from",
        "unknown ksqlDB object 'CLICKS'",
    ),
    (
        "aggregate-from-table",
        _set("engine.objects[3].aggregate.from", "POC_USERDATA_STREAM"),
        "engine.objects[3].aggregate.from",
        "a windowed aggregate reads a stream",
    ),
    (
        "wrong-flavor",
        _set("source.flavor", "striim"),
        "source.flavor",
        "'striim' is not allowed: input should be 'confluent' or 'debezium'",
    ),
    (
        "negative-window",
        _set("engine.objects[3].aggregate.window.size", "-1 MINUTE"),
        "engine.objects[3].aggregate.window.size",
        "is not a valid duration",
    ),
    (
        "zero-window",
        _set("engine.objects[3].aggregate.window.size", "0 MINUTES"),
        "engine.objects[3].aggregate.window.size",
        "must be a positive duration",
    ),
    (
        "sink-reads-nothing",
        _set("sinks[0].object", "USER_TOTALS"),
        "sinks[0].object",
        "'USER_TOTALS' is not an aggregate of the engine (aggregates: USER_AGGREGATE_EVENTS): nothing produces the topic it would read",
    ),
    ("sink-reads-non-aggregate", _set("sinks[0].object", "POC_CLICKSTREAM_STREAM"), "sinks[0].object", "is not an aggregate"),
    (
        "table-not-captured",
        _set("source.connectors", [{"name": "userdata_avro", "tables": ["POC_USERDATA"]}]),
        "source.tables[1].capture",
        "no source.connectors entry includes it",
    ),
    (
        "ksql-reads-uncaptured",
        lambda d: (_set("source.tables[1].capture", False)(d), _set("source.connectors", [{"name": "u", "tables": ["POC_USERDATA"]}])(d)),
        "engine.objects[1].source.table",
        "its CDC topic is never produced",
    ),
    ("reserved-oracle-word", _set("source.tables[0].columns[1].name", "USER"), "source.tables[0].columns[1].name", "Oracle reserved word"),
    ("reserved-ksql-word", _set("engine.objects[0].name", "SELECT"), "engine.objects[0].name", "ksqlDB reserved word"),
    ("lower-case-identifier", _set("source.tables[0].name", "poc_userdata"), "source.tables[0].name", "must be upper case"),
    (
        "timestamp-not-a-column",
        _set("engine.objects[1].timestamp", "CREATED"),
        "engine.objects[1].timestamp",
        "not one of the object's columns",
    ),
    (
        "value-key-equals-group-by",
        _set("engine.objects[3].aggregate.value_key_column", "NAME"),
        "engine.objects[3].aggregate.value_key_column",
        "already used by group_by",
    ),
    (
        "duplicate-primary-key-row",
        _set("source.tables[0].demo_rows[0].ID", "101"),
        "source.tables[0].demo_rows[0]",
        "duplicate primary key '101'",
    ),
    (
        "row-unknown-column",
        _set("source.tables[0].initial_rows[0].EMAIL", "x@y"),
        "source.tables[0].initial_rows[0].EMAIL",
        "table POC_USERDATA has no column 'EMAIL'",
    ),
    (
        "row-value-too-long",
        _set("source.tables[0].initial_rows[0].NAME", "x" * 51),
        "source.tables[0].initial_rows[0].NAME",
        "longer than VARCHAR2(50) allows",
    ),
    ("bad-port-type", _set("source.port", "fifteen"), "source.port", "'fifteen'"),
    ("duplicate-connector", _set("sinks[0].name", "userdata_avro"), "sinks[0].name", "duplicate connector name 'userdata_avro'"),
    (
        "avro-without-registry",
        lambda d: (_set("source.format", "json")(d), _set("engine.objects[2].value_format", "AVRO")(d)),
        "engine.objects[2].value_format",
        "AVRO needs Schema Registry",
    ),
    ("table-key-not-pk", _set("engine.objects[0].columns[0].key", False), "engine.objects[0].columns", "needs its primary key column"),
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
    doc["engine"]["objects"][2]["name"] = "USER;DROP"
    f = tmp_path / "pipeline.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    assert str(e.value).splitlines()[0] == (
        f"{f}: engine.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)"
    )
    assert e.value.problems[0] == ("engine.objects[2].name", e.value.problems[0][1])


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
    assert "empty.yaml: source: required field is missing" in str(e.value)
    assert "empty.yaml: engine: required field is missing" in str(e.value)


def test_all_problems_are_reported_at_once(tmp_path):
    doc = _doc()
    doc["source"]["tables"][0]["name"] = "A B"
    doc["engine"]["objects"][0]["kind"] = "view"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "two.yaml")
    paths = [p for p, _ in e.value.problems]
    assert "source.tables[0].name" in paths and "engine.objects[0].kind" in paths


def test_identifiers_cannot_smuggle_sql():
    from pipeline_defs.systems.ksqldb.spec import _ksql_ident
    from pipeline_defs.systems.oracle.names import _oracle_ident

    for bad in ("A;B", "A'B", 'A"B', "A--B", "A B", "A/*B", "1ABC", "", "A\nB", "A`B"):
        with pytest.raises(ValueError):
            _ksql_ident(bad)
        with pytest.raises(ValueError):
            _oracle_ident(bad)
    assert _oracle_ident("C##CDC_PRIVS") == "C##CDC_PRIVS"
    with pytest.raises(ValueError, match="128 bytes"):
        _oracle_ident("A" * 129)


@pytest.mark.parametrize("section,known", [("source", "'oracle', 'postgres'"), ("engine", "'flink', 'ksqldb'"), ("sinks[0]", "'redis'")])
def test_unknown_kind_names_the_known_kinds(section, known):
    doc = _doc()
    target = doc["sinks"][0] if section == "sinks[0]" else doc[section]
    target["kind"] = "nope"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "kind.yaml")
    assert e.value.problems == [(f"{section}.kind", f"'nope' is not a known kind (known: {known})")]
    assert str(e.value) == f"kind.yaml: {section}.kind: 'nope' is not a known kind (known: {known})"


def test_missing_kind_is_reported_at_the_kind_field():
    doc = _doc()
    del doc["source"]["kind"]
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "nokind.yaml")
    assert [p for p, _ in e.value.problems] == ["source.kind"] and "required field is missing" in e.value.problems[0][1]
