"""CDC source connectors behind one small interface.

A :class:`CdcSource` turns the spec's tables and ``connectors.sources`` entries into Kafka Connect
connector configs and names the topic each table lands in. Both Oracle flavors write the same
topics (``<database>.<schema>.<table>`` with characters Kafka does not allow, such as ``#``,
replaced by ``_``), the same record keys and the same flat row values, so the same ksqlDB objects
read either. A later PostgreSQL + Debezium source is one more class here.

Secrets never appear in derived configs: a value is the marker ``<secret:ENV_NAME>`` (or
``<secret:ENV_NAME?>`` when the variable may be unset, meaning empty) and
:func:`pipeline_defs.derive.render_connector_config` substitutes the environment at apply time.
All config values are strings, as Kafka Connect stores and returns them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping

from pipeline_defs.spec import PipelineSpec, SourceConnector, Table, _kafka_topic_name

__all__ = [
    "CdcSource",
    "ConfluentOracleSource",
    "DebeziumOracleSource",
    "SOURCES",
    "source_for",
    "secret_ref",
    "SECRET_MARKER",
    "kafka_topic_name",
    "converter_config",
    "AVRO_CONVERTER",
    "JSON_CONVERTER",
    "STRING_CONVERTER",
]

AVRO_CONVERTER = "io.confluent.connect.avro.AvroConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"

# whole-value marker for a secret taken from the environment at apply time
SECRET_MARKER = re.compile(r"<secret:([A-Z_][A-Z0-9_]*)(\?)?>")


def secret_ref(env_name: str, optional: bool = False) -> str:
    """The marker a derived config holds instead of a secret value."""
    return f"<secret:{env_name}{'?' if optional else ''}>"


def kafka_topic_name(database: str, schema: str, table: str) -> str:
    """``ORCLCDB`` + ``C##MYUSER`` + ``POC_CLICKSTREAM`` -> ``ORCLCDB.C__MYUSER.POC_CLICKSTREAM``:
    the Confluent connector's ``${fullyQualifiedTableName}`` and Debezium's
    ``<topic.prefix>.<schema>.<table>`` both replace characters that are illegal in topic names
    (``#``, ``$``) with ``_``."""
    return _kafka_topic_name(database, schema, table)


def converter_config(spec: PipelineSpec, side: str, fmt: str) -> dict[str, str]:
    """Converter settings for ``side`` ('key' or 'value') writing/reading ksqlDB format ``fmt``
    (AVRO, JSON or KAFKA)."""
    if fmt == "AVRO":
        return {
            f"{side}.converter": AVRO_CONVERTER,
            f"{side}.converter.schema.registry.url": spec.endpoints.schema_registry_url,
        }
    if fmt == "JSON":
        return {f"{side}.converter": JSON_CONVERTER, f"{side}.converter.schemas.enable": "false"}
    return {f"{side}.converter": STRING_CONVERTER}


def _str(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _java_regex_literal(name: str) -> str:
    # identifiers only hold A-Z 0-9 _ $ # (validated); '.' separators and '$' need escaping
    return name.replace("$", r"\$")


class CdcSource(ABC):
    """One CDC connector implementation."""

    flavor: str
    connector_class: str

    def topic_for(self, spec: PipelineSpec, table: str | Table) -> str:
        """The Kafka topic the table's change records land in."""
        name = table.name if isinstance(table, Table) else table
        return kafka_topic_name(spec.source.database, spec.oracle.user.name, name)

    def required_plugins(self, spec: PipelineSpec) -> list[str]:
        """Classes the Connect worker must offer for these connectors (connector, converters,
        transforms); ``GET /connector-plugins?connectorsOnly=false`` lists them."""
        classes: set[str] = set()
        for cfg in self.connector_configs(spec).values():
            classes |= plugin_classes(cfg)
        return sorted(classes)

    def connector_configs(self, spec: PipelineSpec) -> dict[str, dict[str, str]]:
        """``{connector name: config}`` for every ``connectors.sources`` entry, overrides applied."""
        out: dict[str, dict[str, str]] = {}
        for conn in spec.connectors.sources:
            tables = [spec.oracle.table(t) for t in conn.tables]
            cfg = self._config(spec, conn, [t for t in tables if t is not None])
            for k, v in conn.config.items():
                cfg[k] = _str(v)
            for k, v in conn.flavor_config.get(self.flavor, {}).items():
                cfg[k] = _str(v)
            out[conn.name] = cfg
        return out

    @abstractmethod
    def _config(self, spec: PipelineSpec, conn: SourceConnector, tables: list[Table]) -> dict[str, str]: ...

    @abstractmethod
    def sensitive_keys(self) -> set[str]:
        """Config keys whose values are secrets."""


def plugin_classes(config: Mapping[str, str]) -> set[str]:
    out = set()
    for k, v in config.items():
        if k == "connector.class" or k in ("key.converter", "value.converter", "header.converter"):
            out.add(v)
        elif re.fullmatch(r"(transforms|predicates)\.[^.]+\.type", k):
            out.add(v)
    return out


class ConfluentOracleSource(CdcSource):
    """Confluent's premium Oracle CDC source (LogMiner), configured as in the seed recipe.

    Differences from the seed's JSON, all deliberate:
      * ``table.inclusion.regex`` is derived from the connector's tables and names them exactly
        (``ORCLCDB\\.C##MYUSER\\.(POC_USERDATA)``); the seed's ``POC_USER(.*)`` prefix would also
        capture any later table whose name starts with POC_USER.
      * ``oracle.password`` is ``<secret:ORACLE_PASSWORD>`` (from ``oracle.user.password_env``).
      * ``confluent.license`` is ``<secret:CONFLUENT_LICENSE?>``: empty when unset, which the
        connector treats as a 30-day trial (a developer licence is free on a single broker).
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
    # the seed's ReplaceField SMT: LogMiner metadata fields the ksqlDB objects do not read
    DROPPED_METADATA_FIELDS = ("scn", "op_type", "op_ts", "current_ts", "row_id", "username")
    REDO_RETENTION_MS = 1209600000  # 14 days, as in the seed
    LICENSE_ENV = "CONFLUENT_LICENSE"

    def sensitive_keys(self) -> set[str]:
        return {"oracle.password", "confluent.license"}

    def inclusion_regex(self, spec: PipelineSpec, tables: list[Table]) -> str:
        db = _java_regex_literal(spec.source.database)
        schema = _java_regex_literal(spec.oracle.user.name)
        names = "|".join(_java_regex_literal(t.name) for t in tables)
        return rf"{db}\.{schema}\.({names})"

    def _config(self, spec: PipelineSpec, conn: SourceConnector, tables: list[Table]) -> dict[str, str]:
        ep = spec.endpoints
        kfmt, vfmt = ("AVRO", "AVRO") if spec.source.format == "avro" else ("KAFKA", "JSON")
        rf = str(spec.kafka.replication_factor)
        parts = str(spec.kafka.partitions)
        cfg: dict[str, str] = {
            "connector.class": self.connector_class,
            "name": conn.name,
            "tasks.max": str(conn.tasks_max),
            **converter_config(spec, "key", kfmt),
            **converter_config(spec, "value", vfmt),
            "confluent.topic.bootstrap.servers": ep.kafka_bootstrap_servers,
            "oracle.server": ep.oracle_host,
            "oracle.port": str(ep.oracle_port),
            "oracle.sid": spec.source.database,
            "oracle.username": spec.oracle.user.name,
            "oracle.password": secret_ref(spec.oracle.user.password_env),
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
            "transforms": "dropExtraFields",
            "transforms.dropExtraFields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.dropExtraFields.blacklist": ", ".join(self.DROPPED_METADATA_FIELDS),
            "confluent.license": secret_ref(self.LICENSE_ENV, optional=True),
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

    def sensitive_keys(self) -> set[str]:
        return {"database.password"}

    def include_list(self, spec: PipelineSpec, tables: list[Table]) -> str:
        schema = _java_regex_literal(spec.oracle.user.name)
        return ",".join(rf"{schema}\.{_java_regex_literal(t.name)}" for t in tables)

    def _config(self, spec: PipelineSpec, conn: SourceConnector, tables: list[Table]) -> dict[str, str]:
        ep = spec.endpoints
        avro = spec.source.format == "avro"
        kfmt, vfmt = ("AVRO", "AVRO") if avro else ("KAFKA", "JSON")
        cfg: dict[str, str] = {
            "connector.class": self.connector_class,
            "name": conn.name,
            "tasks.max": str(conn.tasks_max),
            **converter_config(spec, "key", kfmt),
            **converter_config(spec, "value", vfmt),
            "database.hostname": ep.oracle_host,
            "database.port": str(ep.oracle_port),
            "database.user": spec.oracle.user.name,
            "database.password": secret_ref(spec.oracle.user.password_env),
            "database.dbname": spec.source.database,
            "topic.prefix": spec.source.database,
            "table.include.list": self.include_list(spec, tables),
            "snapshot.mode": "initial",
            "decimal.handling.mode": "double",
            "time.precision.mode": "connect",
            "tombstones.on.delete": "true",
            "schema.history.internal.kafka.bootstrap.servers": ep.kafka_bootstrap_servers,
            "schema.history.internal.kafka.topic": f"schema-history.{spec.source.database}.{conn.name}",
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
                cfg[f"predicates.{pname}.pattern"] = re.escape(self.topic_for(spec, t))
        cfg["transforms"] = ",".join(transforms)
        if predicates:
            cfg["predicates"] = ",".join(predicates)
        return cfg

    @staticmethod
    def flush_table(connector_name: str) -> str:
        # one LogMiner flush table per connector (they share the user's schema); an Oracle name
        return ("LOG_MINING_FLUSH_" + re.sub(r"[^A-Z0-9_]", "_", connector_name.upper()))[:128]


SOURCES: dict[str, CdcSource] = {s.flavor: s for s in (ConfluentOracleSource(), DebeziumOracleSource())}


def source_for(spec: PipelineSpec) -> CdcSource:
    """The CdcSource for ``spec.source.flavor``."""
    return SOURCES[spec.source.flavor]
