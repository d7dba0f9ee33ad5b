"""The result schema of a persistent query's SELECT in the ksqlDB double: its columns, key or value, and their types.

CREATE ... AS SELECT and INSERT INTO derive the sink's columns from the projection as ksqlDB does: GROUP BY
/ PARTITION BY columns and source key columns become key columns, aliases name the others
(KSQL_COL_<n> when unnamed), aggregate functions have their documented result types, and
tests/doubles/ksql_expr.py types the expressions it evaluates.
"""

from __future__ import annotations

import re

from tests.doubles.ksql_expr import parse_expr, type_of
from tests.doubles.ksql_lexical import NAME, SqlError, ident, literal
from tests.doubles.ksql_metastore import Source
from tests.doubles.ksql_statements import Column, Select

_SYSTEM_COLUMNS = {"WINDOWSTART": "BIGINT", "WINDOWEND": "BIGINT", "ROWTIME": "BIGINT", "ROWPARTITION": "INTEGER", "ROWOFFSET": "BIGINT"}
_SAME_TYPE_AGGREGATES = {"SUM", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "AS_VALUE"}


def project(sel: Select, src: Source, kind: str, sink: str) -> list[Column]:
    by_name = {c.name: c for c in src.columns}
    group: list[str] = []
    for g in sel.group_by + sel.partition_by:
        if not re.fullmatch(rf"(?:{NAME}\.)?{NAME}", g.strip()):
            raise SqlError(f"ksqlDB test double: GROUP BY / PARTITION BY supports plain columns only, not {g!r}")
        name = ident(g.strip().split(".")[-1])
        if name not in by_name:
            raise SqlError(f"Line: 1, Col: 1: GROUP BY column '{name}' cannot be resolved.")
        group.append(name)
    keys: list[Column] = []
    values: list[Column] = []
    anon = 0
    for item in sel.items:
        if item.expr == "*":
            if sel.group_by:
                raise SqlError("Non-aggregate SELECT expression(s) not part of GROUP BY: *")
            for c in src.columns:
                if c.header:
                    continue
                is_key = (c.name in group) if sel.partition_by else c.key
                col = Column(c.name, c.type, key=is_key, primary=is_key and kind == "TABLE")
                (keys if is_key else values).append(col)
            continue
        sql_type, ref, fn = _expr_type(item.expr, by_name)
        name = item.alias or ref
        if name is None:
            name, anon = f"KSQL_COL_{anon}", anon + 1
        if group:
            is_key = ref is not None and ref in group and fn is None
        else:
            is_key = ref is not None and fn is None and by_name.get(ref) is not None and by_name[ref].key
        (keys if is_key else values).append(Column(name, sql_type, key=is_key, primary=is_key and kind == "TABLE"))
    missing = [g for g in group if g not in {c.name for c in keys}] if sel.group_by else []
    if missing:
        g = missing[0]
        raise SqlError(
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
            f"The query used to build `{sink}` must include the grouping expression {g} in its "
            f"projection (eg, SELECT {g}...)."
        )
    seen: set[str] = set()
    for c in keys + values:
        if c.name in seen:
            raise SqlError(f"Duplicate column names:\n\t{c.name}")
        seen.add(c.name)
    return keys + values


def _column_type(ref: str, by_name: dict[str, Column]) -> str:
    if ref in _SYSTEM_COLUMNS:
        return _SYSTEM_COLUMNS[ref]
    if ref not in by_name:
        raise SqlError(f"Line: 1, Col: 8: SELECT column '{ref}' cannot be resolved.")
    return by_name[ref].type


def _expr_type(expr: str, by_name: dict[str, Column]) -> tuple[str, str | None, str | None]:
    """(SQL type, referenced column, function name) of a projection expression."""
    e = expr.strip()
    if "->" in e or re.match(r"(?:CASE|CAST)\b", e, re.I):  # tests/doubles/ksql_expr.py evaluates these
        return type_of(parse_expr(e), {c.name: c.type for c in by_name.values()}), None, "EXPR"
    if re.fullmatch(rf"(?:{NAME}\.)?{NAME}", e):
        ref = ident(e.split(".")[-1])
        return _column_type(ref, by_name), ref, None
    if m := re.fullmatch(rf"({NAME})\s*\((.*)\)", e, re.S):
        fn, arg = m.group(1).upper(), m.group(2).strip()
        arg_ref = ident(arg.split(".")[-1]) if re.fullmatch(rf"(?:{NAME}\.)?{NAME}", arg) else None
        if fn in ("COUNT", "COUNT_DISTINCT"):
            return "BIGINT", None, fn
        if arg_ref is None:
            return "STRING", None, fn  # approximation: the double does not type arbitrary expressions
        arg_type = _column_type(arg_ref, by_name)
        if fn in _SAME_TYPE_AGGREGATES:
            return arg_type, (arg_ref if fn == "AS_VALUE" else None), fn
        if fn == "AVG":
            return "DOUBLE", None, fn
        if fn in ("COLLECT_LIST", "COLLECT_SET"):
            return f"ARRAY<{arg_type}>", None, fn
        return "STRING", None, fn
    try:
        value = literal(e)
    except SqlError:
        return "STRING", None, "EXPR"
    kind = (
        "BOOLEAN"
        if isinstance(value, bool)
        else "INTEGER"
        if isinstance(value, int)
        else "DOUBLE"
        if isinstance(value, float)
        else "STRING"
    )
    return kind, None, "LITERAL"


__all__ = ["project"]
