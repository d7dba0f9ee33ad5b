"""What every SQL statement handler of the Oracle double needs: the database, the session user and
its privileges, the cursor that receives the result, name resolution and table access checks.
The statement families (tests/doubles/oracle_sql_{ddl,dml,select,views}.py) extend SqlContext.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.doubles.oracle_catalog import Table
from tests.doubles.oracle_errors import ora_error

if TYPE_CHECKING:
    from tests.doubles.oracle_database import FakeOracleDatabase
    from tests.doubles.oracle_dbapi import FakeConnection, FakeCursor


class SqlContext:
    """The statement being run: the database, the connection (its user and privileges) and the cursor."""

    def __init__(self, db: FakeOracleDatabase, conn: FakeConnection, cur: FakeCursor):
        self.db, self.conn, self.cur = db, conn, cur
        self.user = conn.username

    def _privs(self) -> set[str]:
        return self.db.effective_sys_privs(self.user)

    def _require(self, privilege: str) -> None:
        if not self.conn.is_admin and privilege not in self._privs():
            raise ora_error(1031)

    def _resolve(self, name: str) -> tuple[str, str]:
        parts = name.upper().split(".")
        return (parts[0], parts[1]) if len(parts) == 2 else (self.user, parts[0])

    def _can_read_dictionary(self) -> bool:
        return self.conn.is_admin or "SELECT ANY DICTIONARY" in self._privs() or "SELECT_CATALOG_ROLE" in self.db.roles_of(self.user)

    def _table(self, ref: str) -> Table:
        owner, name = self._resolve(ref)
        t = self.db.tables.get((owner, name))
        if t is None or not self._can_access_table(t, "SELECT"):
            raise ora_error(942)
        return t

    def _can_access_table(self, t: Table, privilege: str) -> bool:
        if self.conn.is_admin or t.owner == self.user:
            return True
        if f"{privilege} ANY TABLE" in self._privs():
            return True
        return self.db.has_object_priv(self.user, t.owner, t.name, privilege)
