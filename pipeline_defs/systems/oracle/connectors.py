"""The Oracle CDC connectors, behind one small interface per flavor.

Both flavors write the same topics (``<database>.<schema>.<table>`` with characters Kafka does not
allow, such as ``#``, replaced by ``_``), the same record keys and the same flat row values, so the
same engine objects read either.

Secrets never appear in configs: a value is a Kafka config-provider placeholder
(``${env:ORACLE_PASSWORD}``) that the Connect worker resolves from its own environment (KIP-297 /
KIP-887 EnvVarConfigProvider), so ``GET /connectors/<name>/config`` and the ``connect-configs``
topic hold the placeholder, never the value. All values are strings, as Connect stores them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from pipeline_defs.spec.fields import config_str, kafka_topic_name
from pipeline_defs.systems.connect.props import converter_config, env_placeholder
from pipeline_defs.systems.oracle.spec import OracleSource, SourceConnector, Table


def topic_for(source: OracleSource, table: str) -> str:
    """``ORCLCDB`` + ``C##MYUSER`` + ``POC_CLICKSTREAM`` -> ``ORCLCDB.C__MYUSER.POC_CLICKSTREAM``:
    the Confluent connector's ``${fullyQualifiedTableName}`` and Debezium's
    ``<topic.prefix>.<schema>.<table>`` both replace characters that are illegal in topic names
    (``#``, ``$``) with ``_``."""
    return kafka_topic_name(source.database, source.user.name, table)


def _java_regex_literal(name: str) -> str:
    # identifiers only hold A-Z 0-9 _ $ # (validated); '.' separators and '$' need escaping
    return name.replace("$", r"\$")


class CdcSource(ABC):
    """One CDC connector implementation."""

    flavor: str
    connector_class: str

    def connector_configs(self, spec: Any) -> dict[str, dict[str, str]]:
        """``{connector name: config}`` for every ``source.connectors`` entry, overrides applied."""
        source: OracleSource = spec.source
        out: dict[str, dict[str, str]] = {}
        for conn in source.connectors:
            tables = [source.table(t) for t in conn.tables]
            cfg = self._config(spec, conn, [t for t in tables if t is not None])
            for k, v in conn.config.items():
                cfg[k] = config_str(v)
            for k, v in conn.flavor_config.get(self.flavor, {}).items():
                cfg[k] = config_str(v)
            out[conn.name] = cfg
        return out

    @abstractmethod
    def _config(self, spec: Any, conn: SourceConnector, tables: list[Table]) -> dict[str, str]: ...


class ConfluentOracleSource(CdcSource):
    """Confluent's premium Oracle CDC source (LogMiner), configured as in the seed recipe.

    Differences from the seed's JSON, all deliberate:
      * ``table.inclusion.regex`` is derived from the connector's tables and names them exactly
        (``ORCLCDB\\.C##MYUSER\\.(POC_USERDATA)``); the seed's ``POC_USER(.*)`` prefix would also
        capture any later table whose name starts with POC_USER.
      * ``oracle.password`` is ``${env:ORACLE_PASSWORD}`` (from ``source.user.password_env``).
      * ``confluent.license`` is ``${env:CONFLUENT_LICENSE}``: the worker must have the variable,
        empty for the 30-day trial (a developer licence is free on a single broker).
      * ``op_type`` is kept (as ``OP_TYPE``) and updates carry their before image
        (``output.before.state.field=BEFORE_STATE``): the seed dropped both, so an UPDATE or DELETE
        reached the aggregate as one more click.
      * ``numeric.mapping=best_fit`` is added only when a captured table has NUMBER-family
        columns (the seed's tables have none), so numbers arrive as INT/BIGINT/DOUBLE like with
        Debezium's ``decimal.handling.mode=double``.
    Record keys: the default ``key.template`` ``${primaryKeyStructOrValue}`` is taken to give the
    bare column value for a single-column primary key (inferred from its name; the Confluent
    docs only say "a struct with the primary key fields") - what a ksqlDB single key column reads
    and what the Debezium flavor produces with ``ExtractField$Key``. Not verified against a
    running connector.
    Kept from the seed although questionable: ``transforms.dropExtraFields.blacklist`` (Kafka 3.x
    alias of ``exclude``, removed in Kafka 4) and no ``redo.log.topic.name`` (each connector keeps
    its default ``<connector>-<db>-redo-log`` topic; ``topic.creation.redo.include`` therefore does
    not match it and the redo topic is created by the ``default`` group).
    """

    flavor = "confluent"
    connector_class = "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector"
    # the seed's ReplaceField SMT: LogMiner metadata fields the ksqlDB objects do not read. The seed
    # also dropped op_type; it is kept now (renamed below), so the engine tells inserts, updates and
    # deletes apart ("count of the rows that exist").
    DROPPED_METADATA_FIELDS = ("scn", "op_ts", "current_ts", "row_id", "username")
    # Documented options of the connector (configuration reference, "Output" group): the field names of
    # the operation type (default op_type; values I, U, D, R for snapshot rows, T) and of an update's
    # before image (default blank = none), upper case like the table's columns, so a field name equals
    # ksqlDB's upper-case column name whatever the format's case rules. They are the defaults of the ksqlDB
    # spec's `changes`. A delete record carries the deleted row (all columns, with full supplemental
    # logging), so it needs no before image.
    OP_TYPE_FIELD = "OP_TYPE"
    BEFORE_STATE_FIELD = "BEFORE_STATE"
    REDO_RETENTION_MS = 1209600000  # 14 days, as in the seed
    LICENSE_ENV = "CONFLUENT_LICENSE"

    def inclusion_regex(self, spec: Any, tables: list[Table]) -> str:
        src = spec.source
        db = _java_regex_literal(src.database)
        schema = _java_regex_literal(src.user.name)
        names = "|".join(_java_regex_literal(t.name) for t in tables)
        return rf"{db}\.{schema}\.({names})"

    def _config(self, spec: Any, conn: SourceConnector, tables: list[Table]) -> dict[str, str]:
        ep, src = spec.endpoints, spec.source
        kfmt, vfmt = ("AVRO", "AVRO") if src.format == "avro" else ("KAFKA", "JSON")
        rf = str(spec.kafka.replication_factor)
        parts = str(spec.kafka.partitions)
        cfg: dict[str, str] = {
            "connector.class": self.connector_class,
            "name": conn.name,
            "tasks.max": str(conn.tasks_max),
            **converter_config(spec, "key", kfmt),
            **converter_config(spec, "value", vfmt),
            "confluent.topic.bootstrap.servers": ep.kafka_bootstrap_servers,
            "oracle.server": src.host,
            "oracle.port": str(src.port),
            "oracle.sid": src.database,
            "oracle.username": src.user.name,
            "oracle.password": env_placeholder(src.user.password_env),
            "start.from": "snapshot",
            "table.inclusion.regex": self.inclusion_regex(spec, tables),
            "table.exclusion.regex": "",
            "table.topic.name.template": "${fullyQualifiedTableName}",
            "connection.pool.max.size": "20",
            "confluent.topic.replication.factor": rf,
            "redo.log.consumer.bootstrap.servers": ep.kafka_bootstrap_servers,
            "redo.log.corruption.topic": "redo-corruption-topic",
            "topic.creation.groups": "redo",
            "topic.creation.redo.include": "redo-log-topic",
            "topic.creation.redo.replication.factor": rf,
            "topic.creation.redo.partitions": "1",  # the redo-log topic must have one partition
            "topic.creation.redo.cleanup.policy": "delete",
            "topic.creation.redo.retention.ms": str(self.REDO_RETENTION_MS),
            "topic.creation.default.replication.factor": rf,
            "topic.creation.default.partitions": parts,
            "topic.creation.default.cleanup.policy": "delete",
            "output.op.type.field": self.OP_TYPE_FIELD,
            "output.before.state.field": self.BEFORE_STATE_FIELD,
            "transforms": "dropExtraFields",
            "transforms.dropExtraFields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.dropExtraFields.blacklist": ", ".join(self.DROPPED_METADATA_FIELDS),
            "confluent.license": env_placeholder(self.LICENSE_ENV),
        }
        if any(c.type_info.family == "number" for t in tables for c in t.columns):
            cfg["numeric.mapping"] = "best_fit"
        return cfg


class DebeziumOracleSource(CdcSource):
    """Debezium's open-source Oracle connector (LogMiner), shaped to write what the Confluent
    flavor writes, so the same ksqlDB objects read it:

      * ``topic.prefix`` = ``source.database`` -> topics ``ORCLCDB.C__MYUSER.<TABLE>`` (Debezium
        replaces ``#`` with ``_``). Several connectors share that prefix, so each gets
        ``custom.metric.tags=connector=<name>`` (otherwise their JMX MBeans collide), its own
        schema-history topic and its own LogMiner flush table.
      * values: ``ExtractNewRecordState`` unwraps the envelope to the flat row (deletes become
        tombstones, which delete the row of a ksqlDB table).
      * keys: Debezium keys are a struct of the primary-key columns; ``ExtractField$Key`` turns a
        single-column key into the bare value (what ksqlDB reads for one KAFKA/AVRO key column).
        With several tables per connector, one transform per table, selected by a
        ``TopicNameMatches`` predicate.
      * types: ``time.precision.mode=connect`` (TIMESTAMP -> epoch millis, like the Confluent
        connector's timestamp-millis), ``decimal.handling.mode=double``.
    """

    flavor = "debezium"
    connector_class = "io.debezium.connector.oracle.OracleConnector"

    def include_list(self, spec: Any, tables: list[Table]) -> str:
        src = spec.source
        schema = _java_regex_literal(src.user.name)
        return ",".join(rf"{schema}\.{_java_regex_literal(t.name)}" for t in tables)

    def _config(self, spec: Any, conn: SourceConnector, tables: list[Table]) -> dict[str, str]:
        ep, src = spec.endpoints, spec.source
        avro = src.format == "avro"
        kfmt, vfmt = ("AVRO", "AVRO") if avro else ("KAFKA", "JSON")
        cfg: dict[str, str] = {
            "connector.class": self.connector_class,
            "name": conn.name,
            "tasks.max": str(conn.tasks_max),
            **converter_config(spec, "key", kfmt),
            **converter_config(spec, "value", vfmt),
            "database.hostname": src.host,
            "database.port": str(src.port),
            "database.user": src.user.name,
            "database.password": env_placeholder(src.user.password_env),
            "database.dbname": src.database,
            "topic.prefix": src.database,
            "table.include.list": self.include_list(spec, tables),
            "snapshot.mode": "initial",
            "decimal.handling.mode": "double",
            "time.precision.mode": "connect",
            "tombstones.on.delete": "true",
            "schema.history.internal.kafka.bootstrap.servers": ep.kafka_bootstrap_servers,
            "schema.history.internal.kafka.topic": f"schema-history.{src.database}.{conn.name}",
            "log.mining.flush.table.name": self.flush_table(conn.name),
            "custom.metric.tags": f"connector={conn.name}",
            "topic.creation.default.replication.factor": str(spec.kafka.replication_factor),
            "topic.creation.default.partitions": str(spec.kafka.partitions),
            "topic.creation.default.cleanup.policy": "delete",
        }
        if avro:
            # Avro names cannot hold '#' ($ too): let Debezium adjust schema and field names
            cfg["schema.name.adjustment.mode"] = "avro"
            cfg["field.name.adjustment.mode"] = "avro"
        transforms = ["unwrap"]
        cfg["transforms.unwrap.type"] = "io.debezium.transforms.ExtractNewRecordState"
        cfg["transforms.unwrap.delete.tombstone.handling.mode"] = "tombstone"
        keyed = [t for t in tables if len(t.primary_key) == 1]
        predicates = []
        for t in keyed:
            tname = "key" if len(tables) == 1 else f"key_{t.name}"
            transforms.append(tname)
            cfg[f"transforms.{tname}.type"] = "org.apache.kafka.connect.transforms.ExtractField$Key"
            cfg[f"transforms.{tname}.field"] = t.primary_key[0]
            if len(tables) > 1:
                pname = f"is_{t.name}"
                predicates.append(pname)
                cfg[f"transforms.{tname}.predicate"] = pname
                cfg[f"predicates.{pname}.type"] = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
                cfg[f"predicates.{pname}.pattern"] = re.escape(topic_for(src, t.name))
        cfg["transforms"] = ",".join(transforms)
        if predicates:
            cfg["predicates"] = ",".join(predicates)
        return cfg

    @staticmethod
    def flush_table(connector_name: str) -> str:
        # one LogMiner flush table per connector (they share the user's schema); an Oracle name
        return ("LOG_MINING_FLUSH_" + re.sub(r"[^A-Z0-9_]", "_", connector_name.upper()))[:128]


FLAVORS: dict[str, CdcSource] = {s.flavor: s for s in (ConfluentOracleSource(), DebeziumOracleSource())}


def flavor_of(source: OracleSource) -> CdcSource:
    return FLAVORS[source.flavor]


def redo_log_topic(source: OracleSource, connector: str, config: dict[str, str]) -> str | None:
    """The Confluent source's redo-log topic (one partition, never shared); None for Debezium.
    Default name per the connector's docs: ``${connectorName}-${databaseName}-redo-log``."""
    if source.flavor != "confluent":
        return None
    template = config.get("redo.log.topic.name") or "${connectorName}-${databaseName}-redo-log"
    return template.replace("${connectorName}", connector).replace("${databaseName}", source.database)
