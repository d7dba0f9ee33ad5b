"""Runs one SQL statement against the Oracle double: checks binds, dispatches by verb to the statement
families (DDL, DML, SELECT over the dictionary views and tables) and commits before DDL.

SQL: only the statement and probe shapes that pipeline_defs/systems/oracle/{sql,catalog,plan}.py emit (plus generic
``SELECT cols FROM view WHERE col = :b AND col IN (:b1, :b2)``). Anything else raises
UnmodelledStatement (an AssertionError, not a driver error) so the double never silently accepts SQL.
"""

from __future__ import annotations

import re
from typing import Any

from oracledb import errors as _driver_errors

from tests.doubles.oracle_errors import UnmodelledStatement, dpy_error, ora_error
from tests.doubles.oracle_sql_ddl import DdlStatements
from tests.doubles.oracle_sql_dml import DmlStatements
from tests.doubles.oracle_sql_select import SelectStatements
from tests.doubles.oracle_statements import mask_passwords


class StatementExecutor(DdlStatements, DmlStatements, SelectStatements):
    """One statement of one cursor; a fresh executor per statement."""

    def run(self, sql: str, params: dict[str, Any]) -> None:
        binds = {m.group(1).upper() for m in re.finditer(r"(?<![\w'\"]):([A-Za-z][A-Za-z0-9_]*)", self._strip_literals(sql))}
        upper_params = {k.upper().lstrip(":"): v for k, v in params.items()}
        verb = sql.split(" ", 1)[0].upper()
        if verb in ("CREATE", "ALTER", "GRANT", "REVOKE", "DROP"):
            if params:
                raise ora_error(1027)
            self._implicit_commit()
            return self._ddl(sql)
        for b in binds:
            if b not in upper_params:
                raise dpy_error(_driver_errors.ERR_MISSING_BIND_VALUE, name=b.lower())
        for k in upper_params:
            if k not in binds:
                raise dpy_error(_driver_errors.ERR_INVALID_BIND_NAME, name=k.lower())
        if verb == "SELECT":
            return self._select(sql, upper_params)
        if verb == "INSERT":
            return self._insert(sql, upper_params)
        if verb == "UPDATE":
            return self._update(sql, upper_params)
        if verb == "DELETE":
            return self._delete(sql, upper_params)
        raise UnmodelledStatement(f"statement not modelled by the Oracle double: {mask_passwords(sql)!r}")

    @staticmethod
    def _strip_literals(sql: str) -> str:
        return re.sub(r"'[^']*'|\"[^\"]*\"", "''", sql)

    def _implicit_commit(self) -> None:
        self.conn._commit_pending()
