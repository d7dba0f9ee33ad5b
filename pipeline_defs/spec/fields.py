"""Field types every spec member shares: names, durations, config values, row values.

System-specific identifier rules (Oracle, ksqlDB, PostgreSQL, Flink) live in their packages.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_CONNECTOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CONFIG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._$-]*")
_SAFE_TEXT = re.compile(r"[^\x00-\x1f\x7f'\"`;\\\s]+")  # endpoints / redis keyspace: no quotes, no spaces


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def regex_check(rx: re.Pattern, what: str):
    def check(value: str) -> str:
        if not isinstance(value, str) or not rx.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


KafkaTopic = Annotated[str, AfterValidator(regex_check(_KAFKA_TOPIC, "Kafka topic name (A-Z a-z 0-9 . _ -, at most 249)"))]
ConnectorName = Annotated[
    str, AfterValidator(regex_check(_CONNECTOR_NAME, "connector name (letters, digits, _ and -; letter or digit first)"))
]
EnvVarName = Annotated[str, AfterValidator(regex_check(_ENV_NAME, "environment variable name (A-Z, 0-9, _)"))]
SafeText = Annotated[str, AfterValidator(regex_check(_SAFE_TEXT, "value (no spaces, quotes, semicolons or control characters)"))]


def kafka_topic_name(*parts: str) -> str:
    """Parts joined with '.', characters Kafka does not allow in topic names replaced by '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", ".".join(parts))


# --------------------------------------------------------------------------------------------
# durations (window SIZE / GRACE PERIOD)
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
# row values and config values
# --------------------------------------------------------------------------------------------

# SQL expressions a DATE/TIMESTAMP column's row value may be instead of a bound literal (written
# as the bare word, e.g. `EVENTTIMESTAMP: CURRENT_TIMESTAMP`). Every other value is a bind variable.
SQL_EXPRESSIONS = ("CURRENT_TIMESTAMP", "SYSTIMESTAMP")


def _row_value(v: Any) -> Any:
    if v is None or (isinstance(v, (str, int, float, _dt.date, _dt.datetime)) and not isinstance(v, bool)):
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
ConfigKey = Annotated[str, AfterValidator(regex_check(_CONFIG_KEY, "config key"))]


def config_str(v: Any) -> str:
    """A config value as Kafka Connect stores it."""
    return "true" if v is True else "false" if v is False else str(v)


def key_path(part: str) -> str:
    """A path step for a mapping key; keys that are not plain names (config keys such as
    'auto.offset.reset') are written as ['auto.offset.reset']."""
    return f".{part}" if re.fullmatch(r"[A-Za-z0-9_$#]+", part) else f"[{part!r}]"


def dupes(problems: list, items, path_fmt: str, what: str, key=lambda x: x) -> None:
    """Append a problem for every item whose key repeats an earlier one."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k in seen:
            problems.append((path_fmt.format(i), f"duplicate {what} {k!r} (also at {path_fmt.format(seen[k])})"))
        else:
            seen[k] = i
