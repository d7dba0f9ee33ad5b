"""The ksqlDB engine's part of the spec (``engine: {kind: ksqldb, ...}``) and its naming rules."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from pipeline_defs.spec.fields import ConfigKey, ConfigValue, Duration, KafkaTopic, Model, PositiveDuration, regex_check

# ksqlDB: the brief's rule (letters, digits, _; letter first), upper case because ksqlDB folds
# unquoted identifiers to upper case. Reserved = keyword tokens of SqlBase.g4 that are not in its
# `nonReserved` rule (confluentinc/ksql ksqldb-parser/.../SqlBase.g4).
_KSQL_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_KSQL_KEYWORDS = frozenset(
    """EMIT CHANGES FINAL SELECT FROM AS ALL DISTINCT WHERE WITHIN WINDOW GROUP BY HAVING LIMIT AT
    OR AND IN NOT EXISTS BETWEEN LIKE ESCAPE IS NULL TRUE FALSE INTEGER DATE TIME TIMESTAMP INTERVAL
    YEAR MONTH DAY HOUR MINUTE SECOND MILLISECOND YEARS MONTHS DAYS HOURS MINUTES SECONDS
    MILLISECONDS ZONE TUMBLING HOPPING SIZE ADVANCE RETENTION GRACE PERIOD CASE WHEN THEN ELSE END
    JOIN FULL OUTER INNER LEFT RIGHT ON PARTITION STRUCT WITH VALUES CREATE TABLE TOPIC STREAM
    STREAMS INSERT DELETE INTO DESCRIBE EXTENDED PRINT EXPLAIN ANALYZE TYPE TYPES CAST SHOW LIST
    TABLES TOPICS QUERY QUERIES TERMINATE LOAD COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION DROP TO
    RENAME ARRAY MAP SET DEFINE UNDEFINE RESET SESSION SAMPLE EXPORT CATALOG PROPERTIES BEGINNING
    UNSET RUN SCRIPT DECIMAL KEY CONNECTOR CONNECTORS SINK SOURCE NAMESPACE MATERIALIZED VIEW
    PRIMARY REPLACE ASSERT ADD ALTER VARIABLES PLUGINS HEADERS HEADER SYSTEM TIMEOUT SCHEMA SUBJECT
    ID IF""".split()
)
_KSQL_NON_RESERVED = frozenset(
    """SHOW TABLES COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION SESSION STRUCT MAP ARRAY PARTITION
    INTEGER DATE TIME TIMESTAMP INTERVAL ZONE STRING YEAR MONTH DAY HOUR MINUTE SECOND EXPLAIN
    ANALYZE TYPE TYPES SET RESET IF SOURCE SINK PRIMARY KEY EMIT CHANGES FINAL ESCAPE REPLACE
    ASSERT ALTER ADD HEADER HEADERS GRACE PERIOD DEFINE UNDEFINE VARIABLES PLUGINS SYSTEM TIMEOUT
    SCHEMA SUBJECT ID""".split()
)
KSQL_RESERVED = _KSQL_KEYWORDS - _KSQL_NON_RESERVED
# pseudo / system columns ksqlDB adds itself; a user column of that name is refused
KSQL_SYSTEM_COLUMNS = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})


def _ksql_ident(value: str) -> str:
    if not isinstance(value, str) or not _KSQL_IDENT.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)")
    if value != value.upper():
        raise ValueError(f"{value!r} must be upper case (ksqlDB folds unquoted identifiers to upper case; write {value.upper()!r})")
    if value in KSQL_RESERVED:
        raise ValueError(f"{value!r} is a ksqlDB reserved word")
    return value


def _ksql_column_name(value: str) -> str:
    _ksql_ident(value)
    if value in KSQL_SYSTEM_COLUMNS:
        raise ValueError(f"{value!r} is a ksqlDB system column name")
    return value


def _source_table_name(value: str) -> str:
    # a table name of the source spec; its own rules were checked there, this only keeps SQL out
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_$#]{0,127}", value):
        raise ValueError(f"{value!r} is not a table name")
    return value


KsqlName = Annotated[str, AfterValidator(_ksql_ident)]
KsqlColumnName = Annotated[str, AfterValidator(_ksql_column_name)]
SourceTableName = Annotated[str, AfterValidator(_source_table_name)]

KSQL_TYPES_HELP = "STRING, VARCHAR, BOOLEAN, INT, INTEGER, BIGINT, DOUBLE, DECIMAL(p,s), TIMESTAMP, DATE, TIME, BYTES"
_KSQL_TYPE = re.compile(r"STRING|VARCHAR|BOOLEAN|INT|INTEGER|BIGINT|DOUBLE|DECIMAL\((\d+),(\d+)\)|TIMESTAMP|DATE|TIME|BYTES")


def _ksql_type(text: str) -> str:
    norm = re.sub(r"\s+", "", text.upper()) if isinstance(text, str) else text
    if not isinstance(norm, str) or not _KSQL_TYPE.fullmatch(norm):
        raise ValueError(f"{text!r} is not an allowed ksqlDB column type (allowed: {KSQL_TYPES_HELP})")
    m = _KSQL_TYPE.fullmatch(norm)
    if m.group(1) is not None:
        p, s = int(m.group(1)), int(m.group(2))
        if not (1 <= p <= 38 and 0 <= s <= p):
            raise ValueError(f"{text!r}: DECIMAL needs 1 <= precision <= 38 and 0 <= scale <= precision")
        return f"DECIMAL({p},{s})"
    return norm


KsqlType = Annotated[str, AfterValidator(_ksql_type)]


class KsqlColumn(Model):
    name: KsqlColumnName
    type: KsqlType
    key: bool = False


class KsqlSourceRef(Model):
    table: SourceTableName  # a table of source.tables; the object reads its CDC topic


class Window(Model):
    size: PositiveDuration
    grace: Duration = "1 MINUTE"


class Aggregate(Model):
    """``SELECT group_by, AS_VALUE(group_by) AS value_key_column, COUNT(*) AS count_as,
    WINDOWSTART AS window_start_as, WINDOWEND AS window_end_as FROM from
    WINDOW TUMBLING (SIZE .., GRACE PERIOD ..) GROUP BY group_by``; over a ``deltas`` stream the
    count is ``SUM(<delta column>)``: the rows that exist, not the change records."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)
    from_: KsqlName = Field(alias="from")
    group_by: KsqlColumnName
    count_as: KsqlColumnName = "EVENT_COUNT"
    window: Window
    value_key_column: KsqlColumnName
    window_start_as: KsqlColumnName = "WINDOW_START"
    window_end_as: KsqlColumnName = "WINDOW_END"


class Changes(Model):
    """How a stream over a CDC topic tells inserts, updates and deletes apart: the source connector's
    operation-type field and its update before-image field (a struct of the old column values), e.g.
    the Confluent Oracle CDC source's ``output.op.type.field`` / ``output.before.state.field``."""

    op_type: KsqlColumnName = "OP_TYPE"
    before: KsqlColumnName = "BEFORE_STATE"
    update_value: Annotated[str, AfterValidator(regex_check(re.compile(r"[A-Za-z]{1,8}"), "operation value"))] = "U"
    delete_value: Annotated[str, AfterValidator(regex_check(re.compile(r"[A-Za-z]{1,8}"), "operation value"))] = "D"


class Deltas(Model):
    """A stream of +1/-1 per change of the rows of ``from`` (a stream with ``changes``): an insert or
    snapshot row adds 1 at its own group value and event time, a delete takes 1 away there, an update
    takes 1 away at the before-image's group value and event time and adds 1 at the new ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)
    from_: KsqlName = Field(alias="from")
    group_by: KsqlColumnName
    delta_as: KsqlColumnName = "DELTA"


KsqlFormat = Literal["AVRO", "JSON", "KAFKA"]


class KsqlObject(Model):
    """A ksqlDB stream/table: over a CDC topic (``source``), a windowed COUNT (``aggregate``, always a
    table) or the +1/-1 changes of a source stream's rows (``deltas``, always a stream)."""

    name: KsqlName
    kind: Literal["stream", "table"]
    source: KsqlSourceRef | None = None
    aggregate: Aggregate | None = None
    deltas: Deltas | None = None
    changes: Changes | None = None  # source streams: the connector's op-type and before-image fields
    columns: list[KsqlColumn] = []
    timestamp: KsqlColumnName | None = None  # event-time column -> WITH (TIMESTAMP='..')
    key_format: KsqlFormat | None = None
    value_format: KsqlFormat | None = None
    topic: KafkaTopic | None = None  # aggregates only: output topic (default: the object name)

    @model_validator(mode="after")
    def _one_origin(self):
        if [self.source, self.aggregate, self.deltas].count(None) != 2:
            raise ValueError("exactly one of 'source' (read a CDC topic), 'aggregate' or 'deltas' must be given")
        return self

    @property
    def is_aggregate(self) -> bool:
        return self.aggregate is not None


class KsqlDbEngine(Model):
    """ksqlDB 0.29 (Confluent Platform 7.9): streams and tables over the CDC topics, and the
    windowed COUNT aggregates the Redis sinks read."""

    kind: Literal["ksqldb"]
    streams_properties: dict[ConfigKey, ConfigValue] = {"auto.offset.reset": "earliest"}
    objects: list[KsqlObject] = Field(min_length=1)

    def object(self, name: str) -> KsqlObject | None:
        return next((o for o in self.objects if o.name == name), None)
