"""DML of the Oracle double: ``INSERT ... VALUES (:binds | CURRENT_TIMESTAMP)``,
``UPDATE t SET c = :b, ... WHERE <conds>`` and ``DELETE FROM t WHERE <conds>`` (conds: see
tests/doubles/oracle_sql_conditions.py), each undone by rollback. The session time zone is UTC:
CURRENT_TIMESTAMP and TIMESTAMP values are naive UTC datetimes, as the driver returns them.
Constraints checked: NOT NULL, primary key, column length, number and date conversion, the owner's
tablespace quota.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from tests.doubles.oracle_catalog import Column, Table
from tests.doubles.oracle_errors import UnmodelledStatement, ora_error
from tests.doubles.oracle_redo import RowChange
from tests.doubles.oracle_sql_conditions import condition
from tests.doubles.oracle_sql_context import SqlContext
from tests.doubles.oracle_statements import IDENT, split_top_level

_F = re.I


class DmlStatements(SqlContext):
    """INSERT, UPDATE and DELETE; each change is recorded on the connection for commit and rollback."""

    def _insert(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"INSERT INTO (?P<tbl>{IDENT}(?:\.{IDENT})?) \((?P<cols>[^)]+)\) VALUES \((?P<vals>.+)\)", sql, _F)
        if not m:
            raise UnmodelledStatement(f"INSERT shape not modelled: {sql!r}")
        owner, name = self._resolve(m.group("tbl"))
        t = self.db.tables.get((owner, name))
        if t is None or not (self._can_access_table(t, "INSERT") or self._can_access_table(t, "SELECT")):
            raise ora_error(942)
        if not self._can_access_table(t, "INSERT"):
            raise ora_error(1031)
        cols = [c.strip().upper() for c in m.group("cols").split(",")]
        vals = split_top_level(m.group("vals"))
        if len(cols) != len(vals):
            raise UnmodelledStatement("INSERT column/value count mismatch (ORA-00913/00947 not modelled)")
        owner_user = self.db.users[t.owner]
        if (
            self.db.quotas.get((t.owner, t.tablespace), 0) == 0
            and "UNLIMITED TABLESPACE" not in self.db.effective_sys_privs(owner_user.name)
            and not owner_user.oracle_maintained
        ):
            raise ora_error(1950, name=t.tablespace)
        row: dict[str, Any] = {c.name: None for c in t.columns}
        for col_name, expr in zip(cols, vals, strict=True):
            col = t.column(col_name)
            if col is None:
                raise ora_error(904, name=col_name)
            if expr.upper() in ("CURRENT_TIMESTAMP", "SYSTIMESTAMP"):
                row[col.name] = self._coerce(t, col, self.db.now())
            elif re.fullmatch(r":[A-Za-z][A-Za-z0-9_]*", expr):
                row[col.name] = self._coerce(t, col, params[expr[1:].upper()])
            else:
                raise UnmodelledStatement(f"INSERT value expression not modelled: {expr!r} (use a bind)")
        for c in t.columns:
            if row[c.name] is None and not c.nullable:
                raise ora_error(1400, owner=t.owner, table=t.name, column=c.name)
        if t.pk_columns:
            key = tuple(row[c] for c in t.pk_columns)
            if any(tuple(r[c] for c in t.pk_columns) == key for r in t.rows):
                raise ora_error(1, constraint=f"{t.owner}.{t.pk_name}")
        t.rows.append(row)
        self.conn._pending.append(RowChange("I", t, row, dict(row)))
        self.cur.rowcount = 1

    def _dml_table(self, ref: str, privilege: str) -> Table:
        owner, name = self._resolve(ref)
        t = self.db.tables.get((owner, name))
        if t is None or not (self._can_access_table(t, privilege) or self._can_access_table(t, "SELECT")):
            raise ora_error(942)
        if not self._can_access_table(t, privilege):
            raise ora_error(1031)
        return t

    def _where(self, t: Table, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        conds = [condition(c, params) for c in re.split(r" AND ", where, flags=re.I)]
        return [r for r in t.rows if all(cond(r) for cond in conds)]

    def _update(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"UPDATE (?P<tbl>{IDENT}(?:\.{IDENT})?) SET (?P<sets>.+?) WHERE (?P<where>.+)", sql, _F)
        if not m:
            raise UnmodelledStatement(f"UPDATE shape not modelled (SET col = :bind, ... WHERE ...): {sql!r}")
        t = self._dml_table(m.group("tbl"), "UPDATE")
        sets: list[tuple[Column, str]] = []
        for item in split_top_level(m.group("sets")):
            sm = re.fullmatch(rf"(?P<col>{IDENT}) ?= ?(?P<expr>:[A-Za-z][A-Za-z0-9_]*|CURRENT_TIMESTAMP|SYSTIMESTAMP)", item, _F)
            if not sm:
                raise UnmodelledStatement(f"UPDATE SET item not modelled: {item!r} (use col = :bind)")
            col = t.column(sm.group("col").upper())
            if col is None:
                raise ora_error(904, name=sm.group("col").upper())
            sets.append((col, sm.group("expr")))
        targets = self._where(t, m.group("where"), params)
        new_rows = []
        for row in targets:
            new = dict(row)
            for col, expr in sets:
                value = self.db.now() if expr.upper() in ("CURRENT_TIMESTAMP", "SYSTIMESTAMP") else params[expr[1:].upper()]
                new[col.name] = self._coerce(t, col, value)
                if new[col.name] is None and not col.nullable:
                    raise ora_error(1407, owner=t.owner, table=t.name, column=col.name)
            new_rows.append((row, new))
        if t.pk_columns:
            changed = {id(r) for r, _ in new_rows}
            keys = [tuple(r[c] for c in t.pk_columns) for r in t.rows if id(r) not in changed]
            keys += [tuple(n[c] for c in t.pk_columns) for _, n in new_rows]
            if len(keys) != len(set(keys)):
                raise ora_error(1, constraint=f"{t.owner}.{t.pk_name}")
        for row, new in new_rows:
            before = dict(row)
            row.update(new)
            self.conn._pending.append(RowChange("U", t, row, dict(row), before=before))
        self.cur.rowcount = len(new_rows)

    def _delete(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"DELETE FROM (?P<tbl>{IDENT}(?:\.{IDENT})?) WHERE (?P<where>.+)", sql, _F)
        if not m:
            raise UnmodelledStatement(f"DELETE shape not modelled (DELETE FROM t WHERE ...): {sql!r}")
        t = self._dml_table(m.group("tbl"), "DELETE")
        targets = {id(r) for r in self._where(t, m.group("where"), params)}
        removed = 0
        for index, row in enumerate(list(t.rows)):
            if id(row) in targets:
                # the position it has once the earlier rows of this statement are gone: rollback
                # re-inserts in reverse order
                del t.rows[index - removed]
                self.conn._pending.append(RowChange("D", t, row, dict(row), index=index - removed))
                removed += 1
        self.cur.rowcount = removed

    def _coerce(self, t: Table, col: Column, value: Any) -> Any:
        if value is None:
            return None
        ty = col.type.upper()
        if ty.startswith(("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR", "CLOB", "NCLOB")):
            s = value if isinstance(value, str) else str(value)
            if col.char_length is not None and len(s) > col.char_length:
                raise ora_error(12899, owner=t.owner, table=t.name, column=col.name, actual=len(s), maximum=col.char_length)
            return s
        if ty.startswith(("NUMBER", "INTEGER", "FLOAT", "BINARY_")):
            if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
                return value
            try:
                return decimal.Decimal(str(value).strip())
            except decimal.InvalidOperation:
                raise ora_error(1722) from None
        if ty.startswith(("DATE", "TIMESTAMP")):
            if isinstance(value, dt.datetime):
                # the session time zone is UTC; TIMESTAMP keeps no zone
                return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day)
            raise (
                ora_error(1722)
                if isinstance(value, (int, float))
                else UnmodelledStatement("string-to-date conversion (NLS formats) is not modelled; bind a datetime")
            )
        return value
