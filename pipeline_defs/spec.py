"""The declarative pipeline spec: pydantic v2 models, validation rules and the loader.

One YAML file (default ``pipeline.yaml`` at the repository root, overridable with the environment
variable ``CDC_PIPELINE_SPEC``) describes the whole pipeline

    Oracle role/user/tables -> CDC source connectors -> Kafka topics -> ksqlDB objects
    -> aggregate topics -> Redis sink connectors -> Redis keys.

Everything that follows from the spec (topic names, connector configs, ksqlDB statements, the
lineage graph) is computed in :mod:`pipeline_defs.derive`; this module only parses and validates.

Validation happens on load, before any system is touched. Every problem is reported as one
:class:`SpecError` whose message names the file, the field path and the reason, e.g.::

    pipeline.yaml: ksqldb.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier
    (letters, digits, _; must start with a letter)

Names end up inside SQL / ksqlDB statements, so every identifier is checked against the target
system's *unquoted* identifier rules (no quotes, semicolons, spaces or comment markers can pass),
reserved words are refused, and column types come from an allowlist. Row values are never
interpolated: they are bind variables for whoever inserts them.

Environment overrides (applied before validation, so a bad value is reported like a bad file):
``CDC_SOURCE_FLAVOR`` -> ``source.flavor``, ``CDC_FORMAT`` -> ``source.format`` and the
``CDC_CONNECT_*`` variables in :data:`ENV_OVERRIDES` -> ``endpoints.*`` (addresses as the Kafka
Connect worker sees them).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

__all__ = [
    "SpecError",
    "PipelineSpec",
    "load_spec",
    "parse_spec",
    "spec_hash",
    "default_spec_path",
    "SPEC_PATH_ENV",
    "ENV_OVERRIDES",
    "SQL_EXPRESSIONS",
    "OracleTypeInfo",
    "oracle_type_info",
    "duration_ms",
    "parse_duration",
    "asset_key_component",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH_ENV = "CDC_PIPELINE_SPEC"
DEFAULT_SPEC_FILE = "pipeline.yaml"

# env var -> dotted field path it overrides (applied to the raw document before validation)
ENV_OVERRIDES: dict[str, str] = {
    "CDC_SOURCE_FLAVOR": "source.flavor",
    "CDC_FORMAT": "source.format",
    "CDC_CONNECT_BOOTSTRAP_SERVERS": "endpoints.kafka_bootstrap_servers",
    "CDC_CONNECT_SCHEMA_REGISTRY_URL": "endpoints.schema_registry_url",
    "CDC_CONNECT_ORACLE_HOST": "endpoints.oracle_host",
    "CDC_CONNECT_ORACLE_PORT": "endpoints.oracle_port",
    "CDC_CONNECT_REDIS_URI": "endpoints.redis_uri",
}


class SpecError(ValueError):
    """The spec file is unreadable or invalid. ``str(err)`` is ``"<file>: <path>: <reason>"``
    (one line per problem); ``err.problems`` holds ``(path, reason)`` pairs."""

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        lines = [f"{file}: {path}: {reason}" if path else f"{file}: {reason}" for path, reason in problems]
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------------------------
# identifier rules
# --------------------------------------------------------------------------------------------

# Oracle "Database Object Names and Qualifiers": unquoted identifiers begin with a letter and
# contain only letters, digits, _, $ and #; at most 128 bytes (12.2+). Upper case is required here
# because unquoted names are folded to upper case and Connect/ksqlDB see the folded name.
_ORACLE_IDENT = re.compile(r"[A-Z][A-Z0-9_$#]*")
# Oracle SQL reserved words (Oracle SQL Language Reference, "Oracle SQL Reserved Words"); these
# cannot be unquoted names of objects we create.
ORACLE_RESERVED = frozenset(
    """ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN COMMENT
    COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP ELSE EXCLUSIVE
    EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN INCREMENT INDEX INITIAL
    INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS MINUS MLSLABEL MODE MODIFY
    NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE OPTION OR ORDER PCTFREE PRIOR
    PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS SELECT SESSION SET SHARE SIZE SMALLINT
    START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO TRIGGER UID UNION UNIQUE UPDATE USER VALIDATE
    VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE WITH""".split()
)

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

_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_CONNECTOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CONFIG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._$-]*")
_PRIVILEGE = re.compile(r"[A-Z][A-Z_]*( [A-Z][A-Z_]*)*")
_QUOTA = re.compile(r"UNLIMITED|[1-9][0-9]*[KMGT]?")
_SAFE_TEXT = re.compile(r"[^\x00-\x1f\x7f'\"`;\\\s]+")  # endpoints / redis keyspace: no quotes, no spaces

OBJECT_PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE", "READ", "WRITE", "ALTER", "INDEX", "REFERENCES", "FLASHBACK", "DEBUG"}
)


def _oracle_ident(value: str, *, what: str = "Oracle identifier", reserved: bool = True) -> str:
    if not isinstance(value, str) or not _ORACLE_IDENT.fullmatch(value):
        if isinstance(value, str) and _ORACLE_IDENT.fullmatch(value.upper()):
            raise ValueError(
                f"{value!r} must be upper case (Oracle folds unquoted names to upper case; write {value.upper()!r})"
            )
        raise ValueError(
            f"{value!r} is not a valid {what} (unquoted: a letter first, then A-Z, 0-9, _, $, #)"
        )
    if len(value.encode()) > 128:
        raise ValueError(f"{value!r} is longer than 128 bytes, the Oracle identifier limit")
    if reserved and value in ORACLE_RESERVED:
        raise ValueError(f"{value!r} is an Oracle reserved word and cannot be an unquoted name")
    return value


def _oracle_name(value: str) -> str:
    return _oracle_ident(value)


def _oracle_ref(value: str) -> str:
    """A reference to an existing Oracle object/role: identifier rules, reserved words allowed
    (CONNECT and RESOURCE are role names)."""
    return _oracle_ident(value, reserved=False)


def _oracle_object_ref(value: str) -> str:
    """`[SCHEMA.]OBJECT`, e.g. SYS.DBMS_LOGMNR, V_$DATABASE, SYSTEM.LOGMNR_COL$."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an Oracle object name")
    parts = value.split(".")
    if len(parts) > 2 or not all(_ORACLE_IDENT.fullmatch(p) for p in parts):
        raise ValueError(
            f"{value!r} is not a valid Oracle object name ([SCHEMA.]NAME, each part a letter first, then A-Z, 0-9, _, $, #)"
        )
    return value


def _ksql_ident(value: str) -> str:
    if not isinstance(value, str) or not _KSQL_IDENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)"
        )
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


def _system_privilege(value: str) -> str:
    if not isinstance(value, str) or not _PRIVILEGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Oracle system privilege (upper-case words separated by single spaces)")
    return value


def _object_privilege(value: str) -> str:
    if value not in OBJECT_PRIVILEGES:
        raise ValueError(f"{value!r} is not an allowed object privilege (one of {', '.join(sorted(OBJECT_PRIVILEGES))})")
    return value


def _regex_check(rx: re.Pattern, what: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or not rx.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


OracleName = Annotated[str, AfterValidator(_oracle_name)]
OracleRef = Annotated[str, AfterValidator(_oracle_ref)]
OracleObjectRef = Annotated[str, AfterValidator(_oracle_object_ref)]
KsqlName = Annotated[str, AfterValidator(_ksql_ident)]
KsqlColumnName = Annotated[str, AfterValidator(_ksql_column_name)]
SystemPrivilege = Annotated[str, AfterValidator(_system_privilege)]
ObjectPrivilege = Annotated[str, AfterValidator(_object_privilege)]
KafkaTopic = Annotated[str, AfterValidator(_regex_check(_KAFKA_TOPIC, "Kafka topic name (A-Z a-z 0-9 . _ -, at most 249)"))]
ConnectorName = Annotated[
    str, AfterValidator(_regex_check(_CONNECTOR_NAME, "connector name (letters, digits, _ and -; letter or digit first)"))
]
EnvVarName = Annotated[str, AfterValidator(_regex_check(_ENV_NAME, "environment variable name (A-Z, 0-9, _)"))]
Quota = Annotated[str, AfterValidator(_regex_check(_QUOTA, "quota (UNLIMITED or a size like 100M)"))]
SafeText = Annotated[str, AfterValidator(_regex_check(_SAFE_TEXT, "value (no spaces, quotes, semicolons or control characters)"))]


# --------------------------------------------------------------------------------------------
# column types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleTypeInfo:
    """A parsed allowlisted Oracle column type."""

    base: str  # VARCHAR2, NVARCHAR2, CHAR, NCHAR, NUMBER, FLOAT, BINARY_FLOAT, BINARY_DOUBLE, DATE, TIMESTAMP, RAW
    length: int | None = None  # character types / RAW
    precision: int | None = None  # NUMBER / FLOAT
    scale: int | None = None  # NUMBER
    fsp: int | None = None  # TIMESTAMP fractional seconds precision
    time_zone: Literal["", "TZ", "LTZ"] = ""

    @property
    def family(self) -> str:
        if self.base in ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR"):
            return "text"
        if self.base in ("NUMBER", "FLOAT", "BINARY_FLOAT", "BINARY_DOUBLE"):
            return "number"
        if self.base in ("DATE", "TIMESTAMP"):
            return "temporal"
        return "binary"

    def render(self) -> str:
        if self.base in ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR", "RAW"):
            return f"{self.base}({self.length})"
        if self.base == "NUMBER":
            if self.precision is None:
                return "NUMBER"
            return f"NUMBER({self.precision})" if self.scale is None else f"NUMBER({self.precision},{self.scale})"
        if self.base == "FLOAT":
            return "FLOAT" if self.precision is None else f"FLOAT({self.precision})"
        if self.base == "TIMESTAMP":
            out = "TIMESTAMP" if self.fsp is None else f"TIMESTAMP({self.fsp})"
            return out + {"": "", "TZ": " WITH TIME ZONE", "LTZ": " WITH LOCAL TIME ZONE"}[self.time_zone]
        return self.base


_TYPE_RX = [
    (re.compile(r"(VARCHAR2|NVARCHAR2)\((\d+)(?: (?:BYTE|CHAR))?\)"), "varchar"),
    (re.compile(r"(CHAR|NCHAR)(?:\((\d+)(?: (?:BYTE|CHAR))?\))?"), "char"),
    (re.compile(r"NUMBER(?:\((\d+)(?:,(-?\d+))?\))?"), "number"),
    (re.compile(r"INTEGER|INT|SMALLINT"), "integer"),
    (re.compile(r"FLOAT(?:\((\d+)\))?"), "float"),
    (re.compile(r"BINARY_FLOAT|BINARY_DOUBLE|DATE"), "plain"),
    (re.compile(r"TIMESTAMP(?:\((\d)\))?( WITH TIME ZONE| WITH LOCAL TIME ZONE)?"), "timestamp"),
    (re.compile(r"RAW\((\d+)\)"), "raw"),
]
ORACLE_TYPE_HELP = (
    "VARCHAR2(n), NVARCHAR2(n), CHAR[(n)], NCHAR[(n)], NUMBER[(p[,s])], INTEGER, FLOAT[(p)], "
    "BINARY_FLOAT, BINARY_DOUBLE, DATE, TIMESTAMP[(f)] [WITH [LOCAL] TIME ZONE], RAW(n)"
)


def oracle_type_info(text: str) -> OracleTypeInfo:
    """Parse an allowlisted Oracle column type; ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an allowed Oracle column type (allowed: {ORACLE_TYPE_HELP})")
    norm = _normalize_type_text(text)
    for rx, kind in _TYPE_RX:
        m = rx.fullmatch(norm)
        if not m:
            continue
        if kind == "varchar":
            n = int(m.group(2))
            if not 1 <= n <= 32767:
                raise ValueError(f"{text!r}: length must be 1..32767")
            return OracleTypeInfo(m.group(1), length=n)
        if kind == "char":
            n = int(m.group(2) or 1)
            if not 1 <= n <= 2000:
                raise ValueError(f"{text!r}: length must be 1..2000")
            return OracleTypeInfo(m.group(1), length=n)
        if kind == "number":
            if m.group(1) is None:
                return OracleTypeInfo("NUMBER")
            p = int(m.group(1))
            s = int(m.group(2)) if m.group(2) is not None else None
            if not 1 <= p <= 38:
                raise ValueError(f"{text!r}: precision must be 1..38")
            if s is not None and not -84 <= s <= 127:
                raise ValueError(f"{text!r}: scale must be -84..127")
            return OracleTypeInfo("NUMBER", precision=p, scale=s)
        if kind == "integer":
            return OracleTypeInfo("NUMBER", precision=38, scale=0)
        if kind == "float":
            p = int(m.group(1)) if m.group(1) else None
            if p is not None and not 1 <= p <= 126:
                raise ValueError(f"{text!r}: FLOAT precision must be 1..126")
            return OracleTypeInfo("FLOAT", precision=p)
        if kind == "plain":
            return OracleTypeInfo(norm)
        if kind == "timestamp":
            fsp = int(m.group(1)) if m.group(1) is not None else None
            tz = {None: "", " WITH TIME ZONE": "TZ", " WITH LOCAL TIME ZONE": "LTZ"}[m.group(2)]
            return OracleTypeInfo("TIMESTAMP", fsp=fsp, time_zone=tz)
        if kind == "raw":
            n = int(m.group(1))
            if not 1 <= n <= 32767:
                raise ValueError(f"{text!r}: length must be 1..32767")
            return OracleTypeInfo("RAW", length=n)
    raise ValueError(f"{text!r} is not an allowed Oracle column type (allowed: {ORACLE_TYPE_HELP})")


def _normalize_type_text(text: str) -> str:
    return re.sub(r"\s*([(),])\s*", r"\1", re.sub(r"\s+", " ", text.strip().upper()))


def _oracle_type(text: str) -> str:
    oracle_type_info(text)  # raises for anything outside the allowlist
    return _normalize_type_text(text)  # the author's spelling, upper-cased and without stray blanks


OracleType = Annotated[str, AfterValidator(_oracle_type)]

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

# --------------------------------------------------------------------------------------------
# durations (ksqlDB window SIZE / GRACE PERIOD)
# --------------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+) (MILLISECONDS?|SECONDS?|MINUTES?|HOURS?|DAYS?)")
_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def parse_duration(text: str) -> tuple[int, str]:
    """'1 MINUTE' -> (1, 'MINUTE'); units singular or plural, normalised to the grammatical form."""
    norm = re.sub(r"\s+", " ", text.strip().upper()) if isinstance(text, str) else None
    m = _DURATION.fullmatch(norm) if norm else None
    if not m:
        raise ValueError(
            f"{text!r} is not a valid duration: a whole number >= 0 and a unit "
            "(MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS), e.g. '1 MINUTE'"
        )
    n, unit = int(m.group(1)), m.group(2).rstrip("S")
    return n, unit


def duration_ms(text: str) -> int:
    n, unit = parse_duration(text)
    return n * _UNIT_MS[unit]


def _render_duration(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}S"


def _duration(text: str) -> str:
    return _render_duration(*parse_duration(text))


def _positive_duration(text: str) -> str:
    n, unit = parse_duration(text)
    if n <= 0:
        raise ValueError(f"{text!r} must be a positive duration, e.g. '1 MINUTE'")
    return _render_duration(n, unit)


Duration = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else _bad_duration(v)), AfterValidator(_duration)]
PositiveDuration = Annotated[
    str, BeforeValidator(lambda v: v if isinstance(v, str) else _bad_duration(v)), AfterValidator(_positive_duration)
]


def _bad_duration(v: Any) -> str:
    raise ValueError(
        f"{v!r} is not a valid duration: a whole number and a unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS), e.g. '1 MINUTE'"
    )


# --------------------------------------------------------------------------------------------
# row values
# --------------------------------------------------------------------------------------------

# SQL expressions a DATE/TIMESTAMP column's row value may be instead of a bound literal (written
# as the bare word, e.g. `EVENTTIMESTAMP: CURRENT_TIMESTAMP`; the same allowlist as oracle_sql.py).
# Every other value is a bind variable.
SQL_EXPRESSIONS = ("CURRENT_TIMESTAMP", "SYSTIMESTAMP")


def _row_value(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, _dt.date, _dt.datetime)) and not isinstance(v, bool):
        return v
    raise ValueError(
        f"{v!r} is not a row value (a string, a number, a date/time, null, or {' / '.join(SQL_EXPRESSIONS)} for DATE/TIMESTAMP columns)"
    )


RowValue = Annotated[Any, BeforeValidator(_row_value)]
Row = dict[str, RowValue]

def _config_value(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)):
        return v
    raise ValueError(f"{v!r} is not a config value (a string, a number or a boolean)")


ConfigValue = Annotated[str | int | float | bool, BeforeValidator(_config_value)]
ConfigKey = Annotated[str, AfterValidator(_regex_check(_CONFIG_KEY, "config key"))]


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(_Model):
    """Which CDC connector implementation, which database, which wire format."""

    flavor: Literal["confluent", "debezium"] = "confluent"
    # Oracle SID / database name: first component of every CDC topic name (ORCLCDB.C__MYUSER.T)
    database: OracleName = "ORCLCDB"
    # avro: Schema Registry + AvroConverter + ksqlDB AVRO; json: JsonConverter (schemas.enable=false)
    # for values, StringConverter for keys, ksqlDB VALUE_FORMAT JSON / KEY_FORMAT KAFKA
    format: Literal["avro", "json"] = "avro"


class Endpoints(_Model):
    """Addresses as the Kafka Connect worker sees them (they go into connector configs).
    Defaults are the seed's compose service names."""

    kafka_bootstrap_servers: SafeText = "broker:29092"
    schema_registry_url: SafeText = "http://schema-registry:8081"
    oracle_host: SafeText = "oracle"
    oracle_port: int = Field(1521, ge=1, le=65535)
    redis_uri: SafeText = "redis://redis:6379"


class KafkaSettings(_Model):
    """Replication factor / partitions for topics the connectors create (single broker: 1)."""

    replication_factor: int = Field(1, ge=1, le=32)
    partitions: int = Field(1, ge=1, le=10_000)


class ObjectGrant(_Model):
    privilege: ObjectPrivilege
    object: OracleObjectRef


class Role(_Model):
    name: OracleName
    system_privileges: list[SystemPrivilege] = []
    object_privileges: list[ObjectGrant] = []
    granted_roles: list[OracleRef] = []


class RoleGrant(_Model):
    name: OracleRef
    container_all: bool = False


class SystemGrant(_Model):
    privilege: SystemPrivilege
    container_all: bool = False


class UserObjectGrant(_Model):
    privilege: ObjectPrivilege
    object: OracleObjectRef
    container_all: bool = False


class User(_Model):
    name: OracleName
    password_env: EnvVarName = "ORACLE_PASSWORD"
    default_tablespace: OracleName = "USERS"
    quota: Quota = "UNLIMITED"
    container_all: bool = False
    roles: list[RoleGrant] = []
    system_privileges: list[SystemGrant] = []
    object_privileges: list[UserObjectGrant] = []


class Column(_Model):
    name: OracleName
    type: OracleType
    primary_key: bool = False

    @property
    def type_info(self) -> OracleTypeInfo:
        return oracle_type_info(self.type)


class Table(_Model):
    """A table in the CDC user's schema. ``capture: true`` = the CDC role gets SELECT on it and
    exactly one source connector must include it. ``initial_rows`` are inserted when the table is
    created; ``demo_rows`` by the demo job (the seed's later inserts)."""

    name: OracleName
    columns: list[Column] = Field(min_length=1)
    initial_rows: list[Row] = []
    demo_rows: list[Row] = []
    capture: bool = True

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


class OracleSpec(_Model):
    role: Role
    user: User
    tables: list[Table] = Field(min_length=1)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)


class SourceConnector(_Model):
    name: ConnectorName
    tables: list[OracleName] = Field(min_length=1)
    tasks_max: int = Field(1, ge=1, le=64)
    # overrides applied last to the derived config, for either flavor / only for one flavor
    config: dict[ConfigKey, ConfigValue] = {}
    flavor_config: dict[Literal["confluent", "debezium"], dict[ConfigKey, ConfigValue]] = {}


class Connectors(_Model):
    sources: list[SourceConnector] = Field(min_length=1)


class KsqlColumn(_Model):
    name: KsqlColumnName
    type: KsqlType
    key: bool = False


class KsqlSourceRef(_Model):
    table: OracleName  # an Oracle table of oracle.tables; the object reads its CDC topic


class Window(_Model):
    size: PositiveDuration
    grace: Duration = "1 MINUTE"


class Aggregate(_Model):
    """``SELECT group_by, AS_VALUE(group_by) AS value_key_column, COUNT(*) AS count_as,
    WINDOWSTART AS window_start_as, WINDOWEND AS window_end_as FROM from
    WINDOW TUMBLING (SIZE .., GRACE PERIOD ..) GROUP BY group_by``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)
    from_: KsqlName = Field(alias="from")
    group_by: KsqlColumnName
    count_as: KsqlColumnName = "EVENT_COUNT"
    window: Window
    value_key_column: KsqlColumnName
    window_start_as: KsqlColumnName = "WINDOW_START"
    window_end_as: KsqlColumnName = "WINDOW_END"


KsqlFormat = Literal["AVRO", "JSON", "KAFKA"]


class KsqlObject(_Model):
    """A ksqlDB stream/table: either over a CDC topic (``source``) or a windowed COUNT
    (``aggregate``, always a table)."""

    name: KsqlName
    kind: Literal["stream", "table"]
    source: KsqlSourceRef | None = None
    aggregate: Aggregate | None = None
    columns: list[KsqlColumn] = []
    timestamp: KsqlColumnName | None = None  # event-time column -> WITH (TIMESTAMP='..')
    key_format: KsqlFormat | None = None
    value_format: KsqlFormat | None = None
    topic: KafkaTopic | None = None  # aggregates only: output topic (default: the object name)

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.source is None) == (self.aggregate is None):
            raise ValueError("exactly one of 'source' (read a CDC topic) or 'aggregate' must be given")
        return self

    @property
    def is_aggregate(self) -> bool:
        return self.aggregate is not None


class KsqlDbSpec(_Model):
    streams_properties: dict[ConfigKey, ConfigValue] = {"auto.offset.reset": "earliest"}
    objects: list[KsqlObject] = Field(min_length=1)

    def object(self, name: str) -> KsqlObject | None:
        return next((o for o in self.objects if o.name == name), None)


class RedisSinkSettings(_Model):
    # redis-kafka-connect <= 0.9.1 `redis.command` (the seed mounts 0.9.1)
    command: Literal["JSONSET", "HSET"] = "JSONSET"


class Sink(_Model):
    name: ConnectorName
    object: KsqlName  # an aggregate ksqlDB object; the sink reads its output topic
    redis: RedisSinkSettings = RedisSinkSettings()
    tasks_max: int = Field(1, ge=1, le=64)
    config: dict[ConfigKey, ConfigValue] = {}


class RedisSpec(_Model):
    """How Redis keys are formed by the sink: ``keyspace`` with ``${topic}`` replaced by the topic
    name, then ``separator``, then the record key (so the key prefix is the topic name)."""

    keyspace: Annotated[str, AfterValidator(_regex_check(re.compile(r"[A-Za-z0-9_.:${}-]+"), "Redis keyspace"))] = "${topic}"
    separator: Annotated[str, AfterValidator(_regex_check(re.compile(r"[:._/|-]{1,3}"), "Redis key separator"))] = ":"


class Checks(_Model):
    freshness_minutes: int = Field(10, ge=1, le=10_080)
    # grouping values whose Redis keys must exist after the demo rows went in (e.g. [jdoe]);
    # None = every value of the grouping column in the aggregated table's initial + demo rows
    expected_group_values: list[str] | None = None


class PipelineSpec(_Model):
    version: Literal[1] = 1
    source: SourceSettings = SourceSettings()
    endpoints: Endpoints = Endpoints()
    kafka: KafkaSettings = KafkaSettings()
    oracle: OracleSpec
    connectors: Connectors
    ksqldb: KsqlDbSpec
    sinks: list[Sink] = []
    redis: RedisSpec = RedisSpec()
    checks: Checks = Checks()


# --------------------------------------------------------------------------------------------
# cross-reference validation
# --------------------------------------------------------------------------------------------

# Oracle type -> ksqlDB types that read what BOTH connector flavors write for it (Confluent with
# numeric.mapping=best_fit, Debezium with decimal.handling.mode=double / time.precision.mode=connect)
def compatible_ksql_types(info: OracleTypeInfo) -> set[str]:
    if info.family == "text":
        return {"STRING", "VARCHAR"}
    if info.base == "NUMBER" and info.precision is not None:
        if info.scale in (None, 0):
            if info.precision < 10:
                return {"INT", "INTEGER", "BIGINT"}
            if info.precision < 19:
                return {"BIGINT"}
            return set()
        if info.scale > 0:
            return {"DOUBLE"}
        return set()
    if info.base in ("BINARY_FLOAT", "BINARY_DOUBLE"):
        return {"DOUBLE"}
    if info.base in ("DATE", "TIMESTAMP") and not info.time_zone:
        return {"BIGINT", "TIMESTAMP"}
    if info.base == "TIMESTAMP":
        return {"STRING"}
    if info.base == "RAW":
        return {"BYTES"}
    return set()


def _kafka_topic_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", ".".join(parts))


def asset_key_component(name: str) -> str:
    """Dagster AssetKey components must match ^[A-Za-z0-9_-]+$: everything else becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _cross_validate(spec: PipelineSpec) -> list[tuple[str, str]]:  # noqa: C901 - one linear list of rules
    problems: list[tuple[str, str]] = []

    def dupes(items, path_fmt: str, what: str, key=lambda x: x):
        seen: dict[Any, int] = {}
        for i, item in enumerate(items):
            k = key(item)
            if k in seen:
                problems.append((path_fmt.format(i), f"duplicate {what} {k!r} (also at {path_fmt.format(seen[k])})"))
            else:
                seen[k] = i

    ora = spec.oracle
    fmt = spec.source.format

    # ---- oracle
    if ora.user.name == ora.role.name:
        problems.append(("oracle.user.name", f"{ora.user.name!r} is also the role name"))
    dupes(ora.role.system_privileges, "oracle.role.system_privileges[{}]", "system privilege")
    dupes(ora.role.object_privileges, "oracle.role.object_privileges[{}]", "object grant", key=lambda g: (g.privilege, g.object))
    dupes(ora.role.granted_roles, "oracle.role.granted_roles[{}]", "role")
    dupes(ora.user.roles, "oracle.user.roles[{}]", "role grant", key=lambda g: (g.name, g.container_all))
    dupes(ora.user.system_privileges, "oracle.user.system_privileges[{}]", "system privilege grant", key=lambda g: (g.privilege, g.container_all))
    dupes(
        ora.user.object_privileges,
        "oracle.user.object_privileges[{}]",
        "object grant",
        key=lambda g: (g.privilege, g.object, g.container_all),
    )
    if ora.role.name in ora.role.granted_roles:
        problems.append(("oracle.role.granted_roles", f"the role {ora.role.name!r} cannot be granted to itself"))
    for path, grants in (
        ("oracle.user.roles", ora.user.roles),
        ("oracle.user.system_privileges", ora.user.system_privileges),
        ("oracle.user.object_privileges", ora.user.object_privileges),
    ):
        for i, g in enumerate(grants):
            if g.container_all and not ora.user.container_all:
                problems.append((f"{path}[{i}].container_all", "a CONTAINER=ALL grant needs a common user (oracle.user.container_all: true)"))

    dupes(ora.tables, "oracle.tables[{}].name", "table", key=lambda t: t.name)
    for ti, t in enumerate(ora.tables):
        tp = f"oracle.tables[{ti}]"
        dupes(t.columns, tp + ".columns[{}].name", "column", key=lambda c: c.name)
        colmap = {c.name: c for c in t.columns}
        pk = t.primary_key
        for kind in ("initial_rows", "demo_rows"):
            for ri, row in enumerate(getattr(t, kind)):
                rp = f"{tp}.{kind}[{ri}]"
                for col, val in row.items():
                    c = colmap.get(col)
                    if c is None:
                        problems.append((rp + _key_path(col), f"table {t.name} has no column {col!r} (columns: {', '.join(colmap)})"))
                        continue
                    reason = _row_value_problem(c, val)
                    if reason:
                        problems.append((rp + _key_path(col), reason))
                for k in pk:
                    if row.get(k) is None:
                        problems.append((rp, f"primary key column {k} needs a value"))
        seen_pk: dict[tuple, str] = {}
        if pk:
            for kind in ("initial_rows", "demo_rows"):
                for ri, row in enumerate(getattr(t, kind)):
                    if any(row.get(k) is None for k in pk):
                        continue
                    key = tuple(str(row[k]) for k in pk)
                    rp = f"{tp}.{kind}[{ri}]"
                    if key in seen_pk:
                        problems.append((rp, f"duplicate primary key {key if len(key) > 1 else key[0]!r} (also at {seen_pk[key]})"))
                    else:
                        seen_pk[key] = rp

    # ---- connectors
    all_conn = [(f"connectors.sources[{i}].name", c.name) for i, c in enumerate(spec.connectors.sources)]
    all_conn += [(f"sinks[{i}].name", s.name) for i, s in enumerate(spec.sinks)]
    seen_c: dict[str, str] = {}
    for path, name in all_conn:
        if name in seen_c:
            problems.append((path, f"duplicate connector name {name!r} (also at {seen_c[name]})"))
        else:
            seen_c[name] = path
    producer_of_table: dict[str, str] = {}
    for ci, c in enumerate(spec.connectors.sources):
        for ti, tname in enumerate(c.tables):
            p = f"connectors.sources[{ci}].tables[{ti}]"
            t = ora.table(tname)
            if t is None:
                problems.append((p, f"unknown table {tname!r} (oracle.tables: {', '.join(x.name for x in ora.tables)})"))
                continue
            if not t.capture:
                problems.append((p, f"table {tname} has capture: false"))
            if tname in producer_of_table:
                problems.append((p, f"table {tname} is already captured by connector {producer_of_table[tname]!r}"))
            else:
                producer_of_table[tname] = c.name
            if fmt == "json" and len(t.primary_key) > 1:
                problems.append((p, f"table {tname} has a composite primary key; format json writes keys with StringConverter (one column)"))
        for k in list(c.config) + [k for fc in c.flavor_config.values() for k in fc]:
            if k in ("name", "connector.class"):
                problems.append((f"connectors.sources[{ci}].config" + _key_path(k), f"{k!r} is derived and cannot be overridden"))
    for ti, t in enumerate(ora.tables):
        if t.capture and t.name not in producer_of_table:
            problems.append((f"oracle.tables[{ti}].capture", f"table {t.name} is captured but no connectors.sources entry includes it"))

    # ---- ksqlDB
    objs = spec.ksqldb.objects
    dupes(objs, "ksqldb.objects[{}].name", "ksqlDB object", key=lambda o: o.name)
    by_name = {o.name: o for o in objs}
    for oi, o in enumerate(objs):
        op = f"ksqldb.objects[{oi}]"
        dupes(o.columns, op + ".columns[{}].name", "column", key=lambda c: c.name)
        for attr in ("key_format", "value_format"):
            v = getattr(o, attr)
            if v == "AVRO" and fmt != "avro":
                problems.append((f"{op}.{attr}", "AVRO needs Schema Registry, i.e. source.format: avro"))
        if o.source is not None:
            if o.topic is not None:
                problems.append((f"{op}.topic", "only aggregates choose their topic; a source object reads its table's CDC topic"))
            t = ora.table(o.source.table)
            if t is None:
                problems.append((f"{op}.source.table", f"unknown table {o.source.table!r} (oracle.tables: {', '.join(x.name for x in ora.tables)})"))
                continue
            if o.source.table not in producer_of_table:
                problems.append(
                    (f"{op}.source.table", f"table {t.name} is not captured by any source connector, so its CDC topic is never produced")
                )
            if not o.columns:
                problems.append((f"{op}.columns", "a source object needs its columns"))
            for ci_, col in enumerate(o.columns):
                oc = t.column(col.name)
                if oc is None:
                    problems.append((f"{op}.columns[{ci_}].name", f"table {t.name} has no column {col.name!r}"))
                    continue
                allowed = compatible_ksql_types(oc.type_info)
                if col.type not in allowed:
                    problems.append(
                        (
                            f"{op}.columns[{ci_}].type",
                            f"{col.type} does not fit Oracle column {t.name}.{oc.name} {oc.type} "
                            + (f"(allowed: {', '.join(sorted(allowed))})" if allowed else "(this Oracle type cannot be read by ksqlDB the same way from both connector flavors)"),
                        )
                    )
            keys = [c.name for c in o.columns if c.key]
            if o.kind == "table" and not keys:
                problems.append((f"{op}.columns", "a ksqlDB table needs its primary key column(s) (key: true)"))
            if keys and keys != t.primary_key:
                problems.append(
                    (f"{op}.columns", f"key columns {keys} must be the primary key of {t.name} {t.primary_key} (the CDC record key)")
                )
            if fmt == "json" and len(keys) > 1:
                problems.append((f"{op}.columns", "format json (KEY_FORMAT KAFKA) supports one key column"))
            want_v = "AVRO" if fmt == "avro" else "JSON"
            want_k = "AVRO" if fmt == "avro" else "KAFKA"
            if o.value_format not in (None, want_v):
                problems.append((f"{op}.value_format", f"the connectors write {want_v} values (source.format {fmt})"))
            if o.key_format not in (None, want_k):
                problems.append((f"{op}.key_format", f"the connectors write {want_k} keys (source.format {fmt})"))
            if o.timestamp is not None:
                tc = next((c for c in o.columns if c.name == o.timestamp), None)
                if tc is None:
                    problems.append((f"{op}.timestamp", f"{o.timestamp!r} is not one of the object's columns"))
                elif tc.type not in ("BIGINT", "TIMESTAMP"):
                    problems.append((f"{op}.timestamp", f"the event-time column must be BIGINT (epoch millis) or TIMESTAMP, not {tc.type}"))
                elif tc.key:
                    problems.append((f"{op}.timestamp", "the event-time column must be a value column"))
        else:
            a = o.aggregate
            ap = f"{op}.aggregate"
            if o.kind != "table":
                problems.append((f"{op}.kind", "an aggregate is a table (windowed COUNT ... GROUP BY)"))
            if o.columns:
                problems.append((f"{op}.columns", "an aggregate's columns are derived; remove them"))
            if o.timestamp is not None:
                problems.append((f"{op}.timestamp", "event time is declared on the stream the aggregate reads"))
            if o.value_format == "KAFKA":
                problems.append((f"{op}.value_format", "KAFKA cannot hold several value columns; use JSON or AVRO"))
            src = by_name.get(a.from_)
            if src is None:
                problems.append((f"{ap}.from", f"unknown ksqlDB object {a.from_!r} (objects: {', '.join(by_name)})"))
            elif src.kind != "stream":
                problems.append((f"{ap}.from", f"{a.from_} is a {src.kind}; a windowed aggregate reads a stream"))
            elif src.aggregate is not None:
                problems.append((f"{ap}.from", f"{a.from_} is itself an aggregate"))
            else:
                if not any(c.name == a.group_by for c in src.columns):
                    problems.append((f"{ap}.group_by", f"{a.from_} has no column {a.group_by!r}"))
            names = [a.group_by, a.value_key_column, a.count_as, a.window_start_as, a.window_end_as]
            labels = ["group_by", "value_key_column", "count_as", "window_start_as", "window_end_as"]
            for i in range(1, len(names)):
                if names[i] in names[:i]:
                    problems.append(
                        (f"{ap}.{labels[i]}", f"{names[i]!r} is already used by {labels[names.index(names[i])]} (ksqlDB needs distinct column names)")
                    )
    # topics: one producer each
    topic_owner: dict[str, str] = {}
    for t in ora.tables:
        if t.name in producer_of_table:
            topic_owner[_kafka_topic_name(spec.source.database, ora.user.name, t.name)] = f"connector {producer_of_table[t.name]}"
    for oi, o in enumerate(objs):
        if o.aggregate is not None:
            topic = o.topic or o.name
            if topic in topic_owner:
                problems.append((f"ksqldb.objects[{oi}].topic", f"topic {topic!r} is already written by {topic_owner[topic]}"))
            topic_owner[topic] = f"ksqlDB object {o.name}"

    # ---- sinks
    redis_targets: dict[str, str] = {}
    for si, s in enumerate(spec.sinks):
        o = by_name.get(s.object)
        if o is None:
            problems.append((f"sinks[{si}].object", f"unknown ksqlDB object {s.object!r}: nothing produces the topic it would read"))
            continue
        if o.aggregate is None:
            problems.append((f"sinks[{si}].object", f"{s.object} is not an aggregate; a Redis sink reads an aggregate's topic"))
            continue
        topic = o.topic or o.name
        if topic in redis_targets:
            problems.append((f"sinks[{si}].object", f"topic {topic!r} is already written to Redis by sink {redis_targets[topic]!r}"))
        redis_targets[topic] = s.name
        for k in s.config:
            if k in ("name", "connector.class", "topics"):
                problems.append((f"sinks[{si}].config" + _key_path(k), f"{k!r} is derived and cannot be overridden"))
    if spec.checks.expected_group_values is not None and not spec.sinks:
        problems.append(("checks.expected_group_values", "there is no sink to write these keys"))

    # ---- Dagster asset keys must stay unique after sanitising
    keys: dict[tuple[str, ...], str] = {}

    def claim(key: tuple[str, ...], what: str, path: str):
        if key in keys:
            problems.append((path, f"{what} maps to asset key {list(key)}, already used by {keys[key]}"))
        else:
            keys[key] = what

    for ti, t in enumerate(ora.tables):
        claim(("oracle", "table", asset_key_component(t.name)), f"table {t.name}", f"oracle.tables[{ti}].name")
    for topic, owner in topic_owner.items():
        claim(("kafka", asset_key_component(topic)), f"topic {topic}", "ksqldb.objects")
    return problems


def _row_value_problem(col: Column, val: Any) -> str | None:
    if val is None:
        return None
    info = col.type_info
    fam = info.family
    if fam == "text":
        if isinstance(val, (_dt.date, _dt.datetime)):
            return f"a date/time does not fit {col.type}"
        if info.length is not None and len(str(val).encode()) > info.length:
            return f"{str(val)[:40]!r} is longer than {col.type} allows ({info.length} bytes)"
        return None
    if fam == "number":
        if isinstance(val, (int, float)):
            return None
        if isinstance(val, str) and re.fullmatch(r"-?\d+(\.\d+)?", val):
            return None
        return f"{val!r} is not a number for {col.type}"
    if fam == "temporal":
        if isinstance(val, (_dt.date, _dt.datetime)) or val in SQL_EXPRESSIONS:
            return None
        return f"{val!r} does not fit {col.type}: use a YAML timestamp (2024-01-01 10:00:00) or one of {', '.join(SQL_EXPRESSIONS)}"
    if fam == "binary" and not isinstance(val, str):
        return f"{val!r} does not fit {col.type} (hex string expected)"
    return None


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}invalid YAML: {problem}"


def _key_path(part: str) -> str:
    """A path step for a mapping key; keys that are not plain names (config keys such as
    'auto.offset.reset') are written as ['auto.offset.reset']."""
    return f".{part}" if re.fullmatch(r"[A-Za-z0-9_$#]+", part) else f"[{part!r}]"


def _loc_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += _key_path(str(part))
    return out.lstrip(".")


def _pydantic_problems(err: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
        # drop pydantic's union-member tags ('str', 'int', ...) from paths into union-typed values
        loc = tuple(p for p in loc if p not in ("str", "int", "float", "bool"))
        typ = e["type"]
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, ") :]
        if typ == "extra_forbidden":
            parent, key = loc[:-1], loc[-1]
            problems.append((_loc_path(loc), f"unknown key {key!r}" + _allowed_keys_hint(parent)))
            continue
        if typ == "missing":
            problems.append((_loc_path(loc), "required field is missing"))
            continue
        if typ in ("literal_error", "enum"):
            msg = f"{e.get('input')!r} is not allowed: {msg[0].lower() + msg[1:]}"
        elif typ in ("string_type", "int_type", "bool_type", "list_type", "dict_type", "model_type", "int_parsing", "bool_parsing", "float_type"):
            msg = f"{e.get('input')!r}: {msg[0].lower() + msg[1:]}"
        elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long"):
            msg = f"{e.get('input')!r}: {msg[0].lower() + msg[1:]}" if not isinstance(e.get("input"), (list, dict)) else msg
        problems.append((_loc_path(loc), msg))
    return problems


_allowed_keys_cache: dict[str, list[str]] = {}


def _allowed_keys_hint(parent_loc: tuple) -> str:
    """Walk the model tree along `parent_loc` to list the keys allowed there."""
    model: Any = PipelineSpec
    for part in parent_loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return ""
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return ""
        model = _inner_model(field.annotation)
        if model is None:
            return ""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return f" (allowed: {', '.join(f.alias or n for n, f in model.model_fields.items())})"
    return ""


def _inner_model(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def _apply_env_overrides(data: dict, env: Mapping[str, str]) -> list[str]:
    applied = []
    for var, path in ENV_OVERRIDES.items():
        val = env.get(var)
        if val is None or val == "":
            continue
        parts = path.split(".")
        cur = data
        for p in parts[:-1]:
            nxt = cur.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                cur[p] = nxt
            cur = nxt
        cur[parts[-1]] = int(val) if parts[-1] == "oracle_port" and val.isdigit() else val
        applied.append(path)
    return applied


def parse_spec(text: str, filename: str = "<spec>", env: Mapping[str, str] | None = None) -> PipelineSpec:
    """Parse and validate spec text. ``env`` supplies the overrides in ENV_OVERRIDES (default: none,
    so parsing a string is reproducible; :func:`load_spec` passes ``os.environ``)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        raise SpecError(filename, [("", _yaml_problem(e))]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(filename, [("", f"the top level must be a mapping, not {type(data).__name__}")])
    applied = _apply_env_overrides(data, env or {})
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        problems = _pydantic_problems(e)
        env_of = {path: var for var, path in ENV_OVERRIDES.items()}
        problems = [
            (f"{p} (from env {env_of[p]})" if p in applied else p, r) for p, r in problems
        ]
        raise SpecError(filename, problems) from None
    problems = _cross_validate(spec)
    if problems:
        raise SpecError(filename, problems)
    return spec


def default_spec_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    override = env.get(SPEC_PATH_ENV)
    return Path(override) if override else REPO_ROOT / DEFAULT_SPEC_FILE


def load_spec(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> PipelineSpec:
    """Load and validate the spec: ``path`` if given, else ``$CDC_PIPELINE_SPEC``, else
    ``<repo>/pipeline.yaml``. ``env`` (default ``os.environ``) supplies ENV_OVERRIDES."""
    env = os.environ if env is None else env
    p = Path(path) if path is not None else default_spec_path(env)
    shown = str(path) if path is not None else str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(shown, [("", f"cannot read the spec file: {e.strerror or e}")]) from None
    return parse_spec(text, shown, env)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in obj]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True, default=str)) if isinstance(obj, (set, frozenset)) else items
    if hasattr(obj, "_asdict"):
        return _jsonable(obj._asdict())
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return _jsonable(asdict(obj))
    if isinstance(obj, (_dt.date, _dt.datetime)):
        return obj.isoformat()
    return obj


def spec_hash(obj: Any) -> str:
    """A stable 16-hex-digit digest of a spec, a model, a derived config or any JSON-able value
    (dict order does not matter); use it as a Dagster code_version."""
    blob = json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
