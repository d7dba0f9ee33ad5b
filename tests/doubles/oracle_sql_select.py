"""SELECT of the Oracle double: the primary-key probe of pipeline_defs/systems/oracle/catalog.py and
the generic ``SELECT cols FROM view-or-table [WHERE ...] [GROUP BY ...] [ORDER BY ...]`` with
``COUNT(*) AS x``, ``1 AS x``, aliases and MAX/MIN/COUNT aggregates. Results go to the cursor with a
driver-like description.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable
from typing import Any

import oracledb

from tests.doubles.oracle_errors import UnmodelledStatement, ora_error
from tests.doubles.oracle_sql_conditions import comparable, condition
from tests.doubles.oracle_sql_views import DictionaryViews
from tests.doubles.oracle_statements import IDENT, split_top_level


class SelectStatements(DictionaryViews):
    """SELECT over the dictionary views and tables (row sources: DictionaryViews)."""

    _PK_PROBE = re.compile(
        r"SELECT c\.OWNER, c\.TABLE_NAME, cc\.COLUMN_NAME, cc\.POSITION FROM ALL_CONSTRAINTS c "
        r"JOIN ALL_CONS_COLUMNS cc ON cc\.OWNER = c\.OWNER AND cc\.CONSTRAINT_NAME = c\.CONSTRAINT_NAME "
        r"WHERE c\.OWNER = :OWNER AND c\.CONSTRAINT_TYPE = 'P' ORDER BY c\.TABLE_NAME, cc\.POSITION",
        re.I,
    )
    _SELECT = re.compile(
        rf"SELECT (?P<cols>.+?) FROM (?P<src>{IDENT}(?:\.{IDENT})?|V\$[A-Z_]+)(?: WHERE (?P<where>.+?))?"
        rf"(?: GROUP BY (?P<group>.+?))?(?: ORDER BY (?P<order>.+))?",
        re.I,
    )

    def _select(self, sql: str, params: dict[str, Any]) -> None:
        if self._PK_PROBE.fullmatch(sql):
            owner = params["OWNER"]
            names = ["OWNER", "TABLE_NAME", "COLUMN_NAME", "POSITION"]
            rows = [
                (t.owner, t.name, c, i + 1)
                for t in sorted(self.db.tables.values(), key=lambda t: t.name)
                if t.owner == owner and t.pk_columns and self._can_access_table(t, "SELECT")
                for i, c in enumerate(t.pk_columns)
            ]
            return self._result(names, rows)
        m = self._SELECT.fullmatch(sql)
        if not m:
            raise UnmodelledStatement(f"SELECT shape not modelled: {sql!r}")
        src = m.group("src").upper()
        view_rows = self._source(src)
        where = m.group("where")
        if where:
            conds = [condition(c, params) for c in re.split(r" AND ", where, flags=re.I)]
            view_rows = [r for r in view_rows if all(cond(r) for cond in conds)]
        if m.group("order") and m.group("group"):
            raise UnmodelledStatement(f"GROUP BY with ORDER BY is not modelled: {sql!r}")
        if m.group("order"):
            keys = [k.strip().upper() for k in m.group("order").split(",")]
            self._check_columns(src, view_rows, keys)
            view_rows = sorted(view_rows, key=lambda r: tuple(str(r[k]) for k in keys))
        cols = [c.strip() for c in split_top_level(m.group("cols"))]
        if len(cols) == 1 and re.fullmatch(r"COUNT\(\*\) AS (\w+)", cols[0], re.I):
            alias = re.fullmatch(r"COUNT\(\*\) AS (\w+)", cols[0], re.I).group(1).upper()
            return self._result([alias], [(len(view_rows),)])
        if len(cols) == 1 and re.fullmatch(r"1 AS (\w+)", cols[0], re.I):
            alias = re.fullmatch(r"1 AS (\w+)", cols[0], re.I).group(1).upper()
            return self._result([alias], [(1,) for _ in view_rows])
        if m.group("group") or any(not re.fullmatch(IDENT, c) for c in cols):
            return self._select_items(src, cols, m.group("group"), view_rows)
        names = [c.upper() for c in cols]
        self._check_columns(src, view_rows, names)
        return self._result(names, [tuple(r[n] for n in names) for r in view_rows])

    _ITEM = re.compile(rf"(?:(?P<fn>MAX|MIN|COUNT)\((?P<arg>{IDENT}|\*)\)|(?P<col>{IDENT}))(?: AS (?P<alias>{IDENT}))?", re.I)

    def _select_items(self, src: str, cols: list[str], group: str | None, rows: list[dict[str, Any]]) -> None:
        """Select lists with aliases (`col AS a`) and MAX/MIN/COUNT aggregates, with or without GROUP BY."""
        items: list[tuple[str | None, str, str]] = []  # (aggregate or None, column or '*', result name)
        for c in cols:
            im = self._ITEM.fullmatch(c)
            if not im or (im.group("arg") == "*" and im.group("fn").upper() != "COUNT"):
                raise UnmodelledStatement(f"select-list expression not modelled: {c!r}")
            fn = im.group("fn").upper() if im.group("fn") else None
            ref = (im.group("arg") or im.group("col")).upper()
            items.append((fn, ref, (im.group("alias") or (f"{fn}({ref})" if fn else ref)).upper()))
        group_cols = [g.strip().upper() for g in split_top_level(group)] if group else []
        for g in group_cols:
            if not re.fullmatch(IDENT, g):
                raise UnmodelledStatement(f"GROUP BY expression not modelled: {g!r}")
        self._check_columns(src, rows, [ref for _, ref, _ in items if ref != "*"] + group_cols)
        names = [name for _, _, name in items]
        if not group_cols and not any(fn for fn, _, _ in items):
            return self._result(names, [tuple(r[ref] for _, ref, _ in items) for r in rows])
        for fn, ref, _ in items:
            if fn is None and ref not in group_cols:
                raise ora_error(979 if group_cols else 937)
        groups: dict[tuple, list[dict[str, Any]]] = {} if group_cols else {(): []}
        for r in rows:
            groups.setdefault(tuple(r[g] for g in group_cols), []).append(r)

        def value(fn: str | None, ref: str, members: list[dict[str, Any]]) -> Any:
            if fn is None:
                return members[0][ref]
            if fn == "COUNT":
                return len(members) if ref == "*" else sum(1 for x in members if x[ref] is not None)
            present = [comparable(x[ref]) for x in members if x[ref] is not None]
            return (max if fn == "MAX" else min)(present) if present else None

        out = [
            tuple(value(fn, ref, members) for fn, ref, _ in items)
            for _, members in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
        ]
        return self._result(names, out)

    def _check_columns(self, src: str, rows: list[dict[str, Any]], names: Iterable[str]) -> None:
        known = self._columns_of(src)
        for n in names:
            if n not in known:
                raise ora_error(904, name=n)

    def _result(self, names: list[str], rows: list[tuple]) -> None:
        def dbtype(i: int) -> Any:
            sample = next((r[i] for r in rows if r[i] is not None), None)
            if isinstance(sample, (int, float, decimal.Decimal)):
                return oracledb.DB_TYPE_NUMBER
            if isinstance(sample, dt.datetime):
                return oracledb.DB_TYPE_TIMESTAMP
            return oracledb.DB_TYPE_VARCHAR

        self.cur.description = [(n, dbtype(i), None, None, None, None, True) for i, n in enumerate(names)]
        self.cur._rows = list(rows)
        self.cur.rowcount = 0  # rowcount counts fetched rows in the driver
