"""The Oracle source's part of the spec (``source: {kind: oracle, ...}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline_defs.spec.fields import ConfigKey, ConfigValue, ConnectorName, EnvVarName, Model, Row, SafeText
from pipeline_defs.systems.oracle.names import (
    ObjectPrivilege,
    OracleName,
    OracleObjectRef,
    OracleRef,
    OracleType,
    OracleTypeInfo,
    Quota,
    SystemPrivilege,
    oracle_type_info,
)


class ObjectGrant(Model):
    privilege: ObjectPrivilege
    object: OracleObjectRef


class Role(Model):
    name: OracleName
    system_privileges: list[SystemPrivilege] = []
    object_privileges: list[ObjectGrant] = []
    granted_roles: list[OracleRef] = []


class RoleGrant(Model):
    name: OracleRef
    container_all: bool = False


class SystemGrant(Model):
    privilege: SystemPrivilege
    container_all: bool = False


class UserObjectGrant(Model):
    privilege: ObjectPrivilege
    object: OracleObjectRef
    container_all: bool = False


class User(Model):
    name: OracleName
    password_env: EnvVarName = "ORACLE_PASSWORD"
    default_tablespace: OracleName = "USERS"
    quota: Quota = "UNLIMITED"
    container_all: bool = False
    roles: list[RoleGrant] = []
    system_privileges: list[SystemGrant] = []
    object_privileges: list[UserObjectGrant] = []


class Column(Model):
    name: OracleName
    type: OracleType
    primary_key: bool = False

    @property
    def type_info(self) -> OracleTypeInfo:
        return oracle_type_info(self.type)


class Table(Model):
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


class SourceConnector(Model):
    name: ConnectorName
    tables: list[OracleName] = Field(min_length=1)
    tasks_max: int = Field(1, ge=1, le=64)
    # overrides applied last to the derived config, for either flavor / only for one flavor
    config: dict[ConfigKey, ConfigValue] = {}
    flavor_config: dict[Literal["confluent", "debezium"], dict[ConfigKey, ConfigValue]] = {}


class LogRetention(Model):
    """Thresholds of the redo-retention guard: WARN while a connector's resume SCN is less than
    ``warn_margin_scn`` ahead of the oldest redo still available (V$ARCHIVED_LOG + V$LOG); ERROR
    (fixed) once it is behind it. SCNs advance at the database's own rate (each commit, and a
    steady background rate), so set the margin from V$ARCHIVED_LOG's FIRST_CHANGE# over a day."""

    warn_margin_scn: int = Field(50_000_000, ge=1)


class OracleSource(Model):
    """Oracle 19c: the CDC role and user, the tables, and the CDC connectors that capture them.

    ``flavor``: Confluent's premium Oracle CDC connector (as in the seed) or Debezium's open-source
    one. ``format``: avro (Schema Registry, as in the seed) or json (no Schema Registry).
    ``host``/``port``: the database as the Kafka Connect worker sees it."""

    kind: Literal["oracle"]
    flavor: Literal["confluent", "debezium"] = "confluent"
    # Oracle SID / database name: first component of every CDC topic name (ORCLCDB.C__MYUSER.T)
    database: OracleName = "ORCLCDB"
    format: Literal["avro", "json"] = "avro"
    host: SafeText = "oracle"
    port: int = Field(1521, ge=1, le=65535)
    role: Role
    user: User
    tables: list[Table] = Field(min_length=1)
    connectors: list[SourceConnector] = Field(min_length=1)
    log_retention: LogRetention = LogRetention()

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)
