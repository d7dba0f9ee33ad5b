"""The Flink SQL engine's part of the pipeline spec: objects shaped like the ksqlDB ones, plus engine settings.

A spec section looks like::

    engine:
      kind: flink
      objects:
        - name: POC_CLICKSTREAM_STREAM
          source: {table: POC_CLICKSTREAM}
          timestamp: EVENTTIMESTAMP
        - name: USER_AGGREGATE_EVENTS
          aggregate:
            from: POC_CLICKSTREAM_STREAM
            group_by: NAME
            window: {size: 1 MINUTE, grace: 1 MINUTE}

Names that reach SQL are validated here (letters, digits, underscore) and quoted with backticks by the
compiler, so a Flink reserved word is a legal column name but no quote, comment or semicolon gets through.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

__all__ = [
    "RESERVED_PREFIX",
    "FlinkAggregate",
    "FlinkColumn",
    "FlinkEngine",
    "FlinkObject",
    "FlinkSettings",
    "FlinkSourceRef",
    "FlinkWindow",
    "duration_ms",
    "flink_duration",
    "parse_duration",
]

# Columns the compiler adds (CDC metadata fields and helper columns) start with this prefix; a spec column
# may not, so user names can never collide with them.
RESERVED_PREFIX = "__"

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_PROPERTY_KEY = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
_PROPERTY_VALUE = re.compile(r"[^\x00-\x1f\x7f']*")

# Flink column types a source column may declare. JSON on the wire: TIMESTAMP columns arrive as epoch
# milliseconds (BIGINT), DATE as days since the epoch (INT); see pipeline_defs.core.types.
FLINK_TYPES = ("STRING", "BOOLEAN", "INT", "BIGINT", "DOUBLE", "BYTES")


def _ident(value: Any) -> str:
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid Flink SQL identifier here (a letter first, then letters, digits, underscores; at most 128)"
        )
    return value


def _column_name(value: Any) -> str:
    if isinstance(value, str) and value.startswith(RESERVED_PREFIX):
        raise ValueError(f"{value!r}: names starting with {RESERVED_PREFIX!r} are reserved for CDC metadata")
    return _ident(value)


def _flink_type(value: Any) -> str:
    norm = value.strip().upper() if isinstance(value, str) else value
    if norm not in FLINK_TYPES:
        raise ValueError(f"{value!r} is not an allowed Flink column type (one of {', '.join(FLINK_TYPES)})")
    return norm


def _topic(value: Any) -> str:
    if not isinstance(value, str) or not _TOPIC.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Kafka topic name (A-Z a-z 0-9 . _ -, at most 249)")
    return value


def _property_key(value: Any) -> str:
    if not isinstance(value, str) or not _PROPERTY_KEY.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Flink configuration key (e.g. 'table.exec.state.ttl')")
    return value


def _property_value(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not _PROPERTY_VALUE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid Flink configuration value (text without quotes or control characters, a number or a boolean)"
        )
    return value


# ------------------------------------------------------------------------------------------ durations

_DURATION = re.compile(r"(\d+) (MILLISECONDS?|SECONDS?|MINUTES?|HOURS?|DAYS?)")
_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def parse_duration(text: Any) -> tuple[int, str]:
    """'1 MINUTE' / '90 seconds' -> (n, singular unit); ValueError naming the accepted form otherwise."""
    norm = re.sub(r"\s+", " ", text.strip().upper()) if isinstance(text, str) else None
    m = _DURATION.fullmatch(norm) if norm else None
    if not m:
        raise ValueError(
            f"{text!r} is not a valid duration: a whole number and a unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS), e.g. '1 MINUTE'"
        )
    return int(m.group(1)), m.group(2).rstrip("S")


def duration_ms(text: str) -> int:
    n, unit = parse_duration(text)
    return n * _UNIT_MS[unit]


def flink_duration(ms: int) -> str:
    """Milliseconds in Flink's configuration syntax ('500 ms', '5 s', '4 min', '2 h'): the largest exact unit."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def _render(text: Any, *, positive: bool) -> str:
    n, unit = parse_duration(text)
    if positive and n <= 0:
        raise ValueError(f"{text!r} must be a positive duration, e.g. '1 MINUTE'")
    return f"{n} {unit}" if n == 1 else f"{n} {unit}S"


def _as_text(v: Any) -> Any:
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not a valid duration: write a number and a unit, e.g. '1 MINUTE'")
    return v


Ident = Annotated[str, AfterValidator(_ident)]
ColumnName = Annotated[str, AfterValidator(_column_name)]
FlinkType = Annotated[str, AfterValidator(_flink_type)]
Topic = Annotated[str, AfterValidator(_topic)]
PropertyKey = Annotated[str, AfterValidator(_property_key)]
PropertyValue = Annotated[str, BeforeValidator(_property_value)]
Duration = Annotated[str, BeforeValidator(_as_text), AfterValidator(lambda v: _render(v, positive=False))]
PositiveDuration = Annotated[str, BeforeValidator(_as_text), AfterValidator(lambda v: _render(v, positive=True))]


# ------------------------------------------------------------------------------------------ models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlinkColumn(_Model):
    name: ColumnName
    type: FlinkType


class FlinkSourceRef(_Model):
    table: Ident  # a captured source table; the object reads its CDC topic


class FlinkWindow(_Model):
    size: PositiveDuration
    # How far behind the stream time (the largest event time seen so far) a row's window may end and still
    # take the row. The same meaning as ksqlDB's GRACE PERIOD; see sql.py for the updating aggregate.
    grace: Duration = "1 MINUTE"

    @property
    def size_ms(self) -> int:
        return duration_ms(self.size)

    @property
    def grace_ms(self) -> int:
        return duration_ms(self.grace)


class FlinkAggregate(_Model):
    """COUNT of the existing rows of ``from`` per (group_by, tumbling event-time window)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: Ident = Field(alias="from")
    group_by: ColumnName
    count_as: ColumnName = "EVENT_COUNT"
    window: FlinkWindow
    window_start_as: ColumnName = "WINDOW_START"
    window_end_as: ColumnName = "WINDOW_END"

    @model_validator(mode="after")
    def _distinct_outputs(self):
        names = [self.group_by, self.count_as, self.window_start_as, self.window_end_as]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"output column names must differ: {', '.join(dupes)} used twice among group_by, count_as, window_start_as, window_end_as"
            )
        return self


class FlinkObject(_Model):
    """Either a source over a captured table's CDC topic or an aggregate over a source object."""

    name: Ident
    source: FlinkSourceRef | None = None
    aggregate: FlinkAggregate | None = None
    # source objects: the columns read from the CDC value; empty = derived from the source table's neutral types
    columns: list[FlinkColumn] = []
    # source objects: the event-time column (epoch ms, BIGINT); windows follow it
    timestamp: ColumnName | None = None
    # source objects: the row's primary key; empty = the source table's primary key
    key: list[ColumnName] = []
    # aggregates: the output topic (default: the object name)
    topic: Topic | None = None

    @model_validator(mode="after")
    def _shape(self):
        if (self.source is None) == (self.aggregate is None):
            raise ValueError("exactly one of 'source' (read a CDC topic) or 'aggregate' must be given")
        if self.aggregate is not None and (self.columns or self.timestamp or self.key):
            raise ValueError("'columns', 'timestamp' and 'key' belong to source objects, not aggregates")
        if self.source is not None and self.topic is not None:
            raise ValueError("'topic' belongs to aggregates; a source object reads its table's CDC topic")
        if self.source is not None and self.timestamp is None:
            raise ValueError("a source object needs 'timestamp': the event-time column (epoch milliseconds) that windows follow")
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {', '.join(dupes)}")
        if self.columns:
            for col in [self.timestamp, *self.key]:
                if col is not None and col not in names:
                    raise ValueError(f"column {col!r} is not among the declared columns ({', '.join(names)})")
        return self

    @property
    def output_topic(self) -> str:
        return self.topic or self.name


class FlinkSettings(_Model):
    """Job settings, tuned for freshness (an output record within ~1 s of its input on 2 cores)."""

    # One slot per job; a non-partitioned stream-time operator runs at parallelism 1 anyway.
    parallelism: int = Field(1, ge=1, le=64)
    # Mini-batch folds an update's retraction and re-insertion into one step, so an update that keeps the
    # group and window changes no count, not even for a moment; it costs at most `mini_batch_latency`.
    mini_batch: bool = True
    mini_batch_latency: PositiveDuration = "100 MILLISECONDS"
    mini_batch_size: int = Field(1000, ge=1, le=1_000_000)
    # Records cross each network exchange (3 in the job) when a buffer fills or this timeout passes; Flink's
    # 100 ms default adds up to 100 ms per exchange at low volume. 10 ms keeps the hop short at little CPU cost.
    buffer_timeout: PositiveDuration = "10 MILLISECONDS"
    # Offsets and state are only durable at checkpoints; restarts replay from the last one.
    checkpoint_interval: PositiveDuration = "5 SECONDS"
    # State retention after a key's last change. None = window size * state_ttl_windows + grace.
    state_ttl: PositiveDuration | None = None
    state_ttl_windows: int = Field(60, ge=1, le=100_000)
    # What a NULL reaching a NOT NULL sink column does. The query already drops rows without a group value
    # or event time, so this only guards against a bug: DROP loses one record, ERROR fails the job in a
    # restart loop that stops the whole aggregate. DROP keeps the pipeline flowing.
    not_null_enforcer: Literal["ERROR", "DROP"] = "DROP"
    # Directory for stop-with-savepoint; None = the cluster's execution.checkpointing.savepoint-dir.
    savepoint_dir: Annotated[str, AfterValidator(_property_value)] | None = None
    # Extra session/job properties, applied last (they win over the derived ones).
    properties: dict[PropertyKey, PropertyValue] = {}


class FlinkEngine(_Model):
    kind: Literal["flink"]
    settings: FlinkSettings = FlinkSettings()
    objects: list[FlinkObject] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self):
        names = [o.name for o in self.objects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate object names: {', '.join(dupes)}")
        by_name = {o.name: o for o in self.objects}
        for o in self.objects:
            if o.aggregate is None:
                continue
            src = by_name.get(o.aggregate.from_)
            if src is None:
                raise ValueError(
                    f"object {o.name!r}: aggregate.from {o.aggregate.from_!r} is not an object of this engine (objects: {', '.join(names)})"
                )
            if src.source is None:
                raise ValueError(
                    f"object {o.name!r}: aggregate.from {o.aggregate.from_!r} must be a source object "
                    "(an aggregate over an aggregate is not supported)"
                )
            if src.columns and o.aggregate.group_by not in {c.name for c in src.columns}:
                raise ValueError(f"object {o.name!r}: group_by {o.aggregate.group_by!r} is not a column of {src.name!r}")
        topics = [o.output_topic for o in self.objects if o.aggregate is not None]
        dupes = sorted({t for t in topics if topics.count(t) > 1})
        if dupes:
            raise ValueError(f"two aggregates write the same topic: {', '.join(dupes)}")
        return self

    def object(self, name: str) -> FlinkObject:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"no Flink object {name!r} (objects: {', '.join(o.name for o in self.objects)})")

    @property
    def aggregates(self) -> list[FlinkObject]:
        return [o for o in self.objects if o.aggregate is not None]
