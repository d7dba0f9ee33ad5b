"""The SQL types of the ksqlDB double: canonical type names and the DESCRIBE `schema` objects.

CREATE column lists, CAST targets (tests/doubles/ksql_expr.py) and DESCRIBE replies all spell a type
the way ksqlDB prints it (INT -> INTEGER, VARCHAR -> STRING, STRUCT field names back-quoted), so the
parsing and the printing of a type live together.
"""

from __future__ import annotations

import re
from typing import Any

from tests.doubles.ksql_lexical import NAME, SqlError, ident, split_top

_F = re.I | re.S

_SIMPLE = {
    "STRING": "STRING",
    "VARCHAR": "STRING",
    "INT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "BYTES": "BYTES",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
}


def canonical_type(text: str) -> str:
    t = " ".join(text.split())
    u = t.upper()
    if u in _SIMPLE:
        return _SIMPLE[u]
    if m := re.fullmatch(r"DECIMAL\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", u):
        return f"DECIMAL({m.group(1)}, {m.group(2)})"
    if m := re.fullmatch(r"ARRAY\s*<(.+)>", t, _F):
        return f"ARRAY<{canonical_type(m.group(1))}>"
    if m := re.fullmatch(r"MAP\s*<(.+)>", t, _F):
        kv = split_top(m.group(1), angle=True)
        if len(kv) != 2:
            raise SqlError(f"line 1:1: invalid MAP type: {t}")
        return f"MAP<{canonical_type(kv[0])}, {canonical_type(kv[1])}>"
    if m := re.fullmatch(r"STRUCT\s*<(.*)>", t, _F):
        fields = []
        for f in split_top(m.group(1), angle=True):
            fm = re.match(rf"^\s*({NAME})\s+(.+)$", f, _F)
            if not fm:
                raise SqlError(f"line 1:1: invalid STRUCT field: {f!r}")
            fields.append(f"`{ident(fm.group(1))}` {canonical_type(fm.group(2))}")
        return f"STRUCT<{', '.join(fields)}>"
    raise SqlError(f"line 1:1: Unknown type: {t}")


def type_schema(sql_type: str) -> dict[str, Any]:
    """The `schema` object of a DESCRIBE field (FieldInfo/SchemaInfo)."""
    if sql_type.startswith("ARRAY<"):
        return {"type": "ARRAY", "fields": None, "memberSchema": type_schema(sql_type[6:-1])}
    if sql_type.startswith("MAP<"):
        _, value = split_top(sql_type[4:-1], angle=True)
        return {"type": "MAP", "fields": None, "memberSchema": type_schema(value)}
    if sql_type.startswith("STRUCT<"):
        fields = []
        for f in split_top(sql_type[7:-1], angle=True):
            name, _, t = f.partition(" ")
            fields.append({"name": ident(name), "schema": type_schema(t)})
        return {"type": "STRUCT", "fields": fields, "memberSchema": None}
    base = sql_type.split("(")[0]
    return {"type": base, "fields": None, "memberSchema": None}


__all__ = ["canonical_type", "type_schema"]
