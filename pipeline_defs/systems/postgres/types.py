"""The allowlisted PostgreSQL column types, their catalog spelling and their neutral wire type.

A spec column type is one of ``TEXT, VARCHAR(n), INTEGER, BIGINT, BOOLEAN, DOUBLE PRECISION,
NUMERIC(p[,s]), TIMESTAMP, TIMESTAMPTZ, DATE, BYTEA`` (case and blanks free). Anything else is
refused, so a type can be interpolated into DDL as its canonical rendering.

Wire types follow what Debezium writes with the connector settings of :mod:`.connectors`
(``time.precision.mode=connect``, ``decimal.handling.mode=double``):

* TEXT, VARCHAR(n) -> string -> STRING
* INTEGER / BIGINT -> int32 / int64 -> INT32 / INT64
* BOOLEAN -> boolean -> BOOLEAN
* DOUBLE PRECISION, NUMERIC(p,s) -> float64 (double mode) -> FLOAT64
* TIMESTAMP -> epoch ms (Connect Timestamp; the value is read as UTC, microseconds cut) -> TIMESTAMP
* TIMESTAMPTZ -> ISO-8601 string in UTC, ``"2024-05-01T10:00:00.000000Z"`` (io.debezium.time.ZonedTimestamp,
  whatever the precision mode) -> STRING
* DATE -> days since 1970-01-01 -> DATE
* BYTEA -> bytes, base64 in JSON -> BYTES

All verified on the real connector (tests/integration/test_postgres_debezium.py).
So an event-time column for a windowed engine must be TIMESTAMP, not TIMESTAMPTZ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline_defs.core.types import Neutral

PG_TYPES_HELP = "TEXT, VARCHAR(n), INTEGER, BIGINT, BOOLEAN, DOUBLE PRECISION, NUMERIC(p,s), TIMESTAMP, TIMESTAMPTZ, DATE, BYTEA"

_VARCHAR = re.compile(r"VARCHAR\((\d{1,8})\)")
_NUMERIC = re.compile(r"NUMERIC\((\d{1,4})(?:,(\d{1,4}))?\)")
# canonical spelling -> format_type() output in the catalog
_PLAIN = {
    "TEXT": "text",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DOUBLE PRECISION": "double precision",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMPTZ": "timestamp with time zone",
    "DATE": "date",
    "BYTEA": "bytea",
}
_NEUTRAL = {
    "TEXT": Neutral.STRING,
    "VARCHAR": Neutral.STRING,
    "INTEGER": Neutral.INT32,
    "BIGINT": Neutral.INT64,
    "BOOLEAN": Neutral.BOOLEAN,
    "DOUBLE PRECISION": Neutral.FLOAT64,
    "NUMERIC": Neutral.FLOAT64,
    "TIMESTAMP": Neutral.TIMESTAMP,
    "TIMESTAMPTZ": Neutral.STRING,
    "DATE": Neutral.DATE,
    "BYTEA": Neutral.BYTES,
}
TIME_BASES = frozenset({"TIMESTAMP", "TIMESTAMPTZ", "DATE"})


@dataclass(frozen=True)
class PgType:
    base: str  # TEXT, VARCHAR, INTEGER, BIGINT, BOOLEAN, DOUBLE PRECISION, NUMERIC, TIMESTAMP, TIMESTAMPTZ, DATE, BYTEA
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    def render(self) -> str:
        """The canonical DDL spelling, safe to interpolate (built from validated integers)."""
        if self.base == "VARCHAR":
            return f"VARCHAR({self.length})"
        if self.base == "NUMERIC":
            return f"NUMERIC({self.precision},{self.scale})"
        return self.base

    def catalog(self) -> str:
        """What ``format_type(atttypid, atttypmod)`` shows for a column of this type."""
        if self.base == "VARCHAR":
            return f"character varying({self.length})"
        if self.base == "NUMERIC":
            return f"numeric({self.precision},{self.scale})"
        return _PLAIN[self.base]

    @property
    def neutral(self) -> Neutral:
        return _NEUTRAL[self.base]

    @property
    def is_time(self) -> bool:
        return self.base in TIME_BASES


def _normalize(text: str) -> str:
    return re.sub(r"\s*([(),])\s*", r"\1", re.sub(r"\s+", " ", text.strip().upper()))


def parse_pg_type(text: object) -> PgType:
    """Parse an allowlisted type; ValueError naming the value and the allowlist otherwise."""
    norm = _normalize(text) if isinstance(text, str) else ""
    if norm in _PLAIN:
        return PgType(norm)
    m = _VARCHAR.fullmatch(norm)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 10_485_760:
            raise ValueError(f"{text!r}: VARCHAR length must be 1..10485760")
        return PgType("VARCHAR", length=n)
    m = _NUMERIC.fullmatch(norm)
    if m:
        p, s = int(m.group(1)), int(m.group(2) or 0)
        if not (1 <= p <= 1000 and 0 <= s <= p):
            raise ValueError(f"{text!r}: NUMERIC needs 1 <= precision <= 1000 and 0 <= scale <= precision")
        return PgType("NUMERIC", precision=p, scale=s)
    raise ValueError(f"{text!r} is not an allowed PostgreSQL column type (allowed: {PG_TYPES_HELP})")


def canonical_type(text: str) -> str:
    return parse_pg_type(text).render()


def column_neutral_type(pg_type: str) -> Neutral:
    """The neutral (Kafka Connect) type a column of ``pg_type`` has on the CDC topic."""
    return parse_pg_type(pg_type).neutral
