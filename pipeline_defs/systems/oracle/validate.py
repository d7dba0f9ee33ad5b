"""The Oracle source's own rules across fields: grants, tables, rows, connectors."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from pipeline_defs.spec.fields import SQL_EXPRESSIONS, dupes, key_path
from pipeline_defs.systems.oracle.spec import Column, OracleSource

Problems = list[tuple[str, str]]


def cross_validate(ora: OracleSource) -> Problems:
    problems: Problems = []
    fmt = ora.format
    # ---- oracle
    if ora.user.name == ora.role.name:
        problems.append(("source.user.name", f"{ora.user.name!r} is also the role name"))
    dupes(problems, ora.role.system_privileges, "source.role.system_privileges[{}]", "system privilege")
    dupes(problems, ora.role.object_privileges, "source.role.object_privileges[{}]", "object grant", key=lambda g: (g.privilege, g.object))
    dupes(problems, ora.role.granted_roles, "source.role.granted_roles[{}]", "role")
    dupes(problems, ora.user.roles, "source.user.roles[{}]", "role grant", key=lambda g: (g.name, g.container_all))
    dupes(
        problems,
        ora.user.system_privileges,
        "source.user.system_privileges[{}]",
        "system privilege grant",
        key=lambda g: (g.privilege, g.container_all),
    )
    dupes(
        problems,
        ora.user.object_privileges,
        "source.user.object_privileges[{}]",
        "object grant",
        key=lambda g: (g.privilege, g.object, g.container_all),
    )
    if ora.role.name in ora.role.granted_roles:
        problems.append(("source.role.granted_roles", f"the role {ora.role.name!r} cannot be granted to itself"))
    for path, grants in (
        ("source.user.roles", ora.user.roles),
        ("source.user.system_privileges", ora.user.system_privileges),
        ("source.user.object_privileges", ora.user.object_privileges),
    ):
        for i, g in enumerate(grants):
            if g.container_all and not ora.user.container_all:
                problems.append(
                    (f"{path}[{i}].container_all", "a CONTAINER=ALL grant needs a common user (source.user.container_all: true)")
                )

    dupes(problems, ora.tables, "source.tables[{}].name", "table", key=lambda t: t.name)
    for ti, t in enumerate(ora.tables):
        tp = f"source.tables[{ti}]"
        dupes(problems, t.columns, tp + ".columns[{}].name", "column", key=lambda c: c.name)
        colmap = {c.name: c for c in t.columns}
        pk = t.primary_key
        for kind in ("initial_rows", "demo_rows"):
            for ri, row in enumerate(getattr(t, kind)):
                rp = f"{tp}.{kind}[{ri}]"
                for col, val in row.items():
                    c = colmap.get(col)
                    if c is None:
                        problems.append((rp + key_path(col), f"table {t.name} has no column {col!r} (columns: {', '.join(colmap)})"))
                        continue
                    reason = _row_value_problem(c, val)
                    if reason:
                        problems.append((rp + key_path(col), reason))
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
    dupes(problems, ora.connectors, "source.connectors[{}].name", "connector name", key=lambda c: c.name)
    producer_of_table: dict[str, str] = {}
    for ci, c in enumerate(ora.connectors):
        for ti, tname in enumerate(c.tables):
            p = f"source.connectors[{ci}].tables[{ti}]"
            t = ora.table(tname)
            if t is None:
                problems.append((p, f"unknown table {tname!r} (source.tables: {', '.join(x.name for x in ora.tables)})"))
                continue
            if not t.capture:
                problems.append((p, f"table {tname} has capture: false"))
            if tname in producer_of_table:
                problems.append((p, f"table {tname} is already captured by connector {producer_of_table[tname]!r}"))
            else:
                producer_of_table[tname] = c.name
            if fmt == "json" and len(t.primary_key) > 1:
                problems.append(
                    (p, f"table {tname} has a composite primary key; format json writes keys with StringConverter (one column)")
                )
        for k in list(c.config) + [k for fc in c.flavor_config.values() for k in fc]:
            if k in ("name", "connector.class"):
                problems.append((f"source.connectors[{ci}].config" + key_path(k), f"{k!r} is derived and cannot be overridden"))
    for ti, t in enumerate(ora.tables):
        if t.capture and t.name not in producer_of_table:
            problems.append((f"source.tables[{ti}].capture", f"table {t.name} is captured but no source.connectors entry includes it"))
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
