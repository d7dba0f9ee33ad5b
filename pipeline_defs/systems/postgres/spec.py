"""The PostgreSQL source as the spec declares it (``source: {kind: postgres, ...}``).

Field rules live on the models (a bad name fails on its own field path); rules that span fields
(duplicates, references between tables, connectors, rows and the publication) are in
:func:`cross_validate`, which returns every problem as ``(path, reason)`` so the loader can report
them all at once.

Row values are data, never SQL: they are bound as parameters. The one exception is the bare word
``CURRENT_TIMESTAMP`` in a TIMESTAMP/TIMESTAMPTZ/DATE column, which the planner turns into the
statement's time (in UTC for TIMESTAMP, which Debezium reads as UTC).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pipeline_defs.systems.postgres.idents import lower_ident, slot_ident, upper_ident
from pipeline_defs.systems.postgres.types import PgType, canonical_type, parse_pg_type

GiB = 1024**3
ROW_EXPRESSIONS = ("CURRENT_TIMESTAMP",)

_CONNECTOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_CONFIG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._$-]{0,199}")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_SENSITIVE_KEY = re.compile(r"password|secret|token|credential|jaas\.config|api[._-]?key", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z]+:[^}]+\}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\]")


def _pattern(rx: re.Pattern, rule: str):
    def check(value: object) -> str:
        if not isinstance(value, str) or not rx.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {rule}")
        return value

    return check


UpperName = Annotated[str, AfterValidator(upper_ident)]
DatabaseName = Annotated[str, AfterValidator(lambda v: lower_ident(v, "database name"))]
SchemaName = Annotated[str, AfterValidator(lambda v: lower_ident(v, "schema name"))]
RoleName = Annotated[str, AfterValidator(lambda v: lower_ident(v, "role name"))]
PublicationName = Annotated[str, AfterValidator(lambda v: lower_ident(v, "publication name"))]
SlotName = Annotated[str, AfterValidator(slot_ident)]
PgTypeText = Annotated[str, AfterValidator(canonical_type)]
ConnectorName = Annotated[
    str, AfterValidator(_pattern(_CONNECTOR_NAME, "connector name (letters, digits, _ and -; letter or digit first)"))
]
EnvVarName = Annotated[str, AfterValidator(_pattern(_ENV_NAME, "environment variable name (A-Z, 0-9, _)"))]
ConfigKey = Annotated[str, AfterValidator(_pattern(_CONFIG_KEY, "connector config key"))]
TopicPrefix = Annotated[
    str,
    AfterValidator(
        _pattern(
            _TOPIC_PREFIX,
            "topic prefix (letters, digits, _ and -, at most 100; no dots, which separate prefix, schema and table)",
        )
    ),
]
Host = Annotated[str, AfterValidator(_pattern(_HOST, "host name (letters, digits, '.', '-', or [IPv6])"))]


def _row_value(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool, _dt.date, _dt.datetime)):
        return v
    raise ValueError(
        f"{v!r} is not a row value (a string, a number, a boolean, a date/time, null, or CURRENT_TIMESTAMP "
        "for TIMESTAMP/TIMESTAMPTZ/DATE columns)"
    )


def _config_value(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)):
        return v
    raise ValueError(f"{v!r} is not a connector config value (a string, a number or a boolean)")


RowValue = Annotated[Any, BeforeValidator(_row_value)]
Row = dict[str, RowValue]
ConfigValue = Annotated[str | int | float | bool, BeforeValidator(_config_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CdcRole(_Model):
    """The login Debezium connects as: LOGIN REPLICATION + SELECT on the captured tables, nothing
    more (no superuser, no table ownership: the publication is created by the admin)."""

    name: RoleName = "cdc_reader"
    # the password is read from this variable at apply time (and by the Connect worker through
    # its env config provider); it is never part of the spec
    password_env: EnvVarName = "POSTGRES_CDC_PASSWORD"


class PgColumn(_Model):
    name: UpperName
    type: PgTypeText
    primary_key: bool = False

    @property
    def type_info(self) -> PgType:
        return parse_pg_type(self.type)


class PgTable(_Model):
    """A table in ``schema``. ``capture: true``: in the publication, SELECT granted to the CDC
    role, and exactly one connector must include it. ``initial_rows`` go in when provisioning;
    ``demo_rows`` by the demo job. ``replica_identity: full`` makes updates and deletes carry the
    whole old row in the WAL (default: only the primary key)."""

    name: UpperName
    columns: list[PgColumn] = Field(min_length=1)
    capture: bool = True
    initial_rows: list[Row] = []
    demo_rows: list[Row] = []
    replica_identity: Literal["default", "full"] = "default"

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str) -> PgColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class PgConnector(_Model):
    """One Debezium PostgreSQL connector: its own replication slot, the shared publication."""

    name: ConnectorName
    tables: list[UpperName] = Field(min_length=1)
    # Debezium's PostgreSQL connector always runs a single task (one replication stream per slot)
    tasks_max: int = Field(1, ge=1, le=1)
    slot_name: SlotName
    config: dict[ConfigKey, ConfigValue] = {}  # applied last, over the derived config
    initial_state: Literal["RUNNING", "STOPPED"] | None = None


class DebeziumTuning(_Model):
    """Latency knobs. The freshness goal is p99 <= 1 s from commit to topic at 1000 rows/s: the
    default poll.interval.ms=500 alone costs up to half of that (reference: median 419 ms at 500,
    65 ms at 50)."""

    poll_interval_ms: int = Field(50, ge=1, le=60_000)
    max_batch_size: int = Field(2048, ge=1, le=1_000_000)
    max_queue_size: int = Field(8192, ge=2, le=10_000_000)
    # a heartbeat lets the connector confirm its LSN while captured tables are idle but others
    # write, so the slot stops retaining WAL; 0 disables
    heartbeat_interval_ms: int = Field(10_000, ge=0, le=3_600_000)
    snapshot_mode: Literal["initial", "no_data", "when_needed", "never"] = "initial"
    # Debezium's own retries of a retriable streaming error (errors.max.retries, default unlimited): with no
    # bound a permanent one (REPLICATION revoked) keeps the task RUNNING in a retry loop the control plane never
    # sees; bounded, the task FAILS and the health sensor classifies the trace (restart with backoff or incident)
    errors_max_retries: int = Field(3, ge=0, le=1000)
    retriable_restart_wait_ms: int = Field(10_000, ge=100, le=3_600_000)  # retriable.restart.connector.wait.ms

    @model_validator(mode="after")
    def _queue_over_batch(self):
        if self.max_queue_size <= self.max_batch_size:
            raise ValueError(
                f"max_queue_size ({self.max_queue_size}) must be larger than max_batch_size ({self.max_batch_size}) "
                "(Debezium refuses the config otherwise)"
            )
        return self


class WalRetention(_Model):
    """Thresholds of the retention guard on each slot's retained WAL
    (``pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)``)."""

    warn_bytes: int = Field(1 * GiB, ge=1)
    error_bytes: int = Field(4 * GiB, ge=1)

    @model_validator(mode="after")
    def _ordered(self):
        if self.warn_bytes >= self.error_bytes:
            raise ValueError(f"warn_bytes ({self.warn_bytes}) must be below error_bytes ({self.error_bytes})")
        return self


class PostgresSource(_Model):
    kind: Literal["postgres"]
    database: DatabaseName = "cdc"
    # "schema" itself would shadow BaseModel.schema: the YAML key is `schema`, the attribute schema_name
    schema_name: SchemaName = Field("public", alias="schema")
    topic_prefix: TopicPrefix = "pg"
    # the database as the Kafka Connect worker reaches it (same machine in the local stack)
    host: Host = "127.0.0.1"
    port: int = Field(5433, ge=1, le=65535)
    role: CdcRole = CdcRole()
    publication: PublicationName = "cdc_publication"
    # every connector's slot name starts with it: a slot with the prefix that no connector names
    # any more is one this control plane made, and provisioning drops it (once inactive)
    slot_prefix: SlotName = "cdc_"
    # optional: spell out the publication's tables; it must then equal the captured tables
    publication_tables: list[UpperName] | None = None
    tables: list[PgTable] = Field(min_length=1)
    connectors: list[PgConnector] = Field(min_length=1)
    debezium: DebeziumTuning = DebeziumTuning()
    wal_retention: WalRetention = WalRetention()

    def table(self, name: str) -> PgTable | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def captured(self) -> list[PgTable]:
        return [t for t in self.tables if t.capture]


# --------------------------------------------------------------------------------------------------
# cross-field rules
# --------------------------------------------------------------------------------------------------


def _dupes(names: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, n in enumerate(names):
        if n in seen:
            out.append((i, n))
        seen.add(n)
    return out


def _value_problem(col: PgColumn, value: Any) -> str | None:
    t = col.type_info
    if isinstance(value, str) and value.upper() in ROW_EXPRESSIONS:
        if t.is_time:
            return None
        return f"CURRENT_TIMESTAMP is only allowed in TIMESTAMP/TIMESTAMPTZ/DATE columns, not {col.type}"
    if value is None:
        return f"the primary-key column {col.name} cannot be null" if col.primary_key else None
    if t.base in ("INTEGER", "BIGINT"):
        limit = 2**31 if t.base == "INTEGER" else 2**63
        ok = isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit
        return None if ok else f"{value!r} is not a {t.base} value"
    if t.base in ("DOUBLE PRECISION", "NUMERIC"):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else f"{value!r} is not a number"
    if t.base == "BOOLEAN":
        return None if isinstance(value, bool) else f"{value!r} is not a boolean (true/false)"
    if t.base == "VARCHAR" and len(str(value)) > (t.length or 0):
        return f"{str(value)[:40]!r}... is longer than {t.render()}"
    if t.is_time and not isinstance(value, (str, _dt.date)):
        return f"{value!r} is not a date/time (an ISO-8601 string, a YAML timestamp or CURRENT_TIMESTAMP)"
    return None


def _row_problems(table: PgTable, rows: list[dict[str, Any]], path: str) -> list[tuple[str, str]]:
    problems = []
    cols = {c.name: c for c in table.columns}
    for i, row in enumerate(rows):
        for k in row:
            if k not in cols:
                known = ", ".join(cols)
                problems.append((f"{path}[{i}].{k}", f"{k!r} is not a column of {table.name} (columns: {known})"))
        reported = set()
        for pk in table.primary_key:
            v = row.get(pk)
            if v is None:
                problems.append((f"{path}[{i}]", f"the row lacks the primary-key column {pk}"))
            elif isinstance(v, str) and v.upper() in ROW_EXPRESSIONS:
                why = "a primary-key value cannot be CURRENT_TIMESTAMP (rows are matched by key)"
                problems.append((f"{path}[{i}].{pk}", why))
                reported.add(pk)
        for k, v in row.items():
            if k in cols and k not in reported and (msg := _value_problem(cols[k], v)):
                problems.append((f"{path}[{i}].{k}", msg))
    return problems


def cross_validate(source: PostgresSource, path: str = "source") -> list[tuple[str, str]]:
    """Every rule that spans fields, as ``(field path, reason)``; [] when the source is consistent."""
    p: list[tuple[str, str]] = []
    for i, name in _dupes([t.name for t in source.tables]):
        p.append((f"{path}.tables[{i}].name", f"duplicate table name {name!r}"))
    for ti, t in enumerate(source.tables):
        tp = f"{path}.tables[{ti}]"
        for ci, name in _dupes([c.name for c in t.columns]):
            p.append((f"{tp}.columns[{ci}].name", f"duplicate column name {name!r} in {t.name}"))
        if not t.primary_key:
            why = "it keys the CDC records, the upsert topic and the seed-row matching"
            p.append((f"{tp}.columns", f"table {t.name} needs a primary key (primary_key: true on a column): {why}"))
        p += _row_problems(t, t.initial_rows, f"{tp}.initial_rows")
        p += _row_problems(t, t.demo_rows, f"{tp}.demo_rows")

    known = {t.name for t in source.tables}
    owner: dict[str, str] = {}
    for i, name in _dupes([c.name for c in source.connectors]):
        p.append((f"{path}.connectors[{i}].name", f"duplicate connector name {name!r}"))
    for i, slot in _dupes([c.slot_name for c in source.connectors]):
        p.append(
            (
                f"{path}.connectors[{i}].slot_name",
                f"replication slot {slot!r} is already used by another connector (one slot per connector)",
            )
        )
    for ci, conn in enumerate(source.connectors):
        if not conn.slot_name.startswith(source.slot_prefix):
            p.append(
                (
                    f"{path}.connectors[{ci}].slot_name",
                    f"{conn.slot_name!r} must start with source.slot_prefix {source.slot_prefix!r} (the slots this "
                    "control plane manages, and drops once their connector leaves the spec)",
                )
            )
        for key, value in conn.config.items():
            if _SENSITIVE_KEY.search(key) and not (isinstance(value, str) and _PLACEHOLDER.fullmatch(value)):
                p.append(
                    (
                        f"{path}.connectors[{ci}].config.{key}",
                        (
                            "a secret cannot be written in the spec; use a config provider placeholder such as "
                            "${env:VARIABLE} (value not shown)"
                        ),
                    )
                )
        for ti, name in enumerate(conn.tables):
            tp = f"{path}.connectors[{ci}].tables[{ti}]"
            table = source.table(name)
            if table is None:
                p.append((tp, f"unknown table {name!r} (tables: {', '.join(sorted(known))})"))
            elif not table.capture:
                p.append((tp, f"table {name!r} has capture: false; a connector can only read captured tables"))
            elif name in owner and owner[name] != conn.name:
                other = owner[name]
                p.append((tp, f"table {name!r} is already captured by connector {other!r} (one connector per table)"))
            else:
                owner[name] = conn.name
    for ti, t in enumerate(source.tables):
        if t.capture and t.name not in owner:
            p.append((f"{path}.tables[{ti}]", f"captured table {t.name!r} is in no connector's tables"))

    if source.publication_tables is not None:
        listed, captured = set(source.publication_tables), {t.name for t in source.captured}
        for i, name in enumerate(source.publication_tables):
            if name not in captured:
                p.append(
                    (
                        f"{path}.publication_tables[{i}]",
                        f"{name!r} is not a captured table; the publication holds exactly the captured tables",
                    )
                )
        for i, name in _dupes(list(source.publication_tables)):
            p.append((f"{path}.publication_tables[{i}]", f"duplicate table {name!r}"))
        for name in sorted(captured - listed):
            p.append((f"{path}.publication_tables", f"captured table {name!r} is missing from the publication"))
    return p
