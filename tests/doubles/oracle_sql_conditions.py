"""WHERE conditions of the Oracle double, shared by SELECT, UPDATE and DELETE: ``c = :b``,
``c IN (:b1, ...)``, ``c >= :b`` and the other comparisons (joined by AND by the caller). Comparisons
with NULL are never true; datetimes compare as naive UTC (the session time zone).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

from tests.doubles.oracle_errors import UnmodelledStatement, ora_error
from tests.doubles.oracle_statements import IDENT

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def comparable(value: Any) -> Any:
    """Datetimes compare as naive UTC (the session time zone); a DATE bind as midnight."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def condition(text: str, params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    m = re.fullmatch(rf"(?P<col>{IDENT}) = (?P<val>:\w+|'[^']*')", text.strip(), re.I)
    if m:
        col = m.group("col").upper()
        v = m.group("val")
        value = params[v[1:].upper()] if v.startswith(":") else v[1:-1]
        return lambda r: column_value(r, col) == value
    m = re.fullmatch(rf"(?P<col>{IDENT}) ?(?P<op><>|!=|>=|<=|>|<) ?(?P<val>:\w+|'[^']*'|-?\d+(?:\.\d+)?)", text.strip(), re.I)
    if m:
        col, op, v = m.group("col").upper(), m.group("op"), m.group("val")
        if v.startswith(":"):
            bound = params[v[1:].upper()]
        elif v.startswith("'"):
            bound = v[1:-1]
        else:
            bound = decimal.Decimal(v)
        compare = _COMPARISONS[op]

        def cond(r: dict[str, Any]) -> bool:
            a = column_value(r, col)
            if a is None or bound is None:  # comparisons with NULL are never true
                return False
            try:
                return compare(comparable(a), comparable(bound))
            except TypeError:
                raise UnmodelledStatement(
                    f"comparison of {type(a).__name__} with {type(bound).__name__} (implicit conversion) is not modelled: {text!r}"
                ) from None

        return cond
    m = re.fullmatch(rf"(?P<col>{IDENT}) IN \((?P<vals>:\w+(?:, ?:\w+)*)\)", text.strip(), re.I)
    if m:
        col = m.group("col").upper()
        values = {params[v.strip()[1:].upper()] for v in m.group("vals").split(",")}
        return lambda r: column_value(r, col) in values
    raise UnmodelledStatement(f"WHERE condition not modelled: {text!r}")


def column_value(row: dict[str, Any], col: str) -> Any:
    if col not in row:
        raise ora_error(904, name=col)
    return row[col]
