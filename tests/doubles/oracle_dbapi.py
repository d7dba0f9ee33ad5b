"""The python-oracledb DB-API objects of the Oracle double: FakePool, FakeConnection, FakeCursor.

Surface: ``FakeOracleDatabase.create_pool(params=PoolParams, password=...)`` -> pool; ``pool.acquire()``
(context manager) -> connection; ``connection.cursor()`` -> cursor with ``execute(sql, params)``,
``executemany``, ``fetchall``/``fetchone``, ``description``, ``rowcount``; ``commit``/``rollback``/``close``.

Connecting checks what the listener and the server would (address, service/SID, password, SYSDBA,
locked account, CREATE SESSION); a connection keeps its uncommitted row changes for rollback. The
cursor logs every statement (masked) and hands it to the SQL executor (tests/doubles/oracle_sql_executor.py).
"""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import oracledb
from oracledb import errors as _driver_errors

from tests.doubles.oracle_errors import UnmodelledStatement, dpy_error, ora_error
from tests.doubles.oracle_redo import RowChange
from tests.doubles.oracle_sql_executor import StatementExecutor
from tests.doubles.oracle_statements import LoggedStatement, mask_passwords, normalize_sql

if TYPE_CHECKING:
    from tests.doubles.oracle_database import FakeOracleDatabase


def _connection_id() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()


class FakePool:
    def __init__(self, db: FakeOracleDatabase, params: oracledb.PoolParams, password: str | None):
        self._db = db
        self.params = params
        self.__password = password
        self.opened = True
        self.busy = 0
        self.max = params.max

    def __repr__(self) -> str:
        return f"FakePool({self.params.user}@{self.params.host}:{self.params.port})"

    def acquire(self) -> FakeConnection:
        if not self.opened:
            raise dpy_error(_driver_errors.ERR_POOL_NOT_OPEN)
        if self.busy >= self.max:
            raise dpy_error(_driver_errors.ERR_POOL_NO_CONNECTION_AVAILABLE)
        conn = self._connect()
        self.busy += 1
        return conn

    def release(self, conn: FakeConnection) -> None:
        conn.close()

    def close(self, force: bool = False) -> None:
        if not self.opened:
            raise dpy_error(_driver_errors.ERR_POOL_NOT_OPEN)
        self.opened = False

    def _connect(self) -> FakeConnection:
        db, p = self._db, self.params
        cid = _connection_id()
        if db.listener_down or p.port != db.port or p.host != db.host:
            if p.host != db.host and p.host not in ("localhost", "127.0.0.1"):
                cause: OSError = socket.gaierror(-2, "Name or service not known")
            else:
                cause = ConnectionRefusedError(111, "Connection refused")
            raise dpy_error(_driver_errors.ERR_CONNECTION_FAILED, cause=cause, connection_id=cid)
        if p.sid is not None and p.sid.upper() not in db.sids:
            inner = dpy_error(_driver_errors.ERR_INVALID_SID, sid=p.sid, host=p.host, port=p.port)
            raise dpy_error(_driver_errors.ERR_CONNECTION_FAILED, cause=inner, connection_id=cid)
        if p.sid is None and (p.service_name or "").upper() not in db.services:
            inner = dpy_error(_driver_errors.ERR_INVALID_SERVICE_NAME, service_name=p.service_name, host=p.host, port=p.port)
            raise dpy_error(_driver_errors.ERR_CONNECTION_FAILED, cause=inner, connection_id=cid)
        name = (p.user or "").upper()
        user = db.users.get(name)
        sysdba = p.mode == oracledb.AUTH_MODE_SYSDBA
        if user is None or self.__password is None or user.password != self.__password:
            raise ora_error(1017)
        if sysdba and not user.sysdba:
            raise ora_error(1017)
        if name == "SYS" and not sysdba:
            raise ora_error(28009)
        if user.locked:
            raise ora_error(28000)
        if not sysdba and "DBA" not in db.roles_of(name) and "CREATE SESSION" not in db.effective_sys_privs(name):
            raise ora_error(1045, name=name)
        db.connections_opened += 1
        return FakeConnection(db, self, name, sysdba)


class FakeConnection:
    def __init__(self, db: FakeOracleDatabase, pool: FakePool | None, user: str, sysdba: bool):
        self._db, self._pool = db, pool
        self.username = user
        self.sysdba = sysdba
        self._open = True
        self._pending: list[RowChange] = []  # uncommitted row changes, in statement order

    def __repr__(self) -> str:
        return f"FakeConnection({self.username})"

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._open:
            self.close()

    @property
    def is_admin(self) -> bool:
        return self.sysdba or "DBA" in self._db.roles_of(self.username)

    def _check_open(self) -> None:
        if not self._open:
            raise dpy_error(_driver_errors.ERR_NOT_CONNECTED)

    def cursor(self) -> FakeCursor:
        self._check_open()
        return FakeCursor(self)

    def commit(self) -> None:
        self._check_open()
        self._commit_pending()

    def _commit_pending(self) -> None:
        changes, self._pending = self._pending, []
        self._db._commit(self.username, changes)

    def rollback(self) -> None:
        self._check_open()
        for c in reversed(self._pending):
            if c.op == "I":
                c.table.rows[:] = [r for r in c.table.rows if r is not c.row]
            elif c.op == "U":
                c.row.clear()
                c.row.update(c.before or {})
            else:
                c.table.rows.insert(min(c.index or 0, len(c.table.rows)), c.row)
        self._pending.clear()

    def ping(self) -> None:
        self._check_open()

    def close(self) -> None:
        self._check_open()
        self.rollback()  # uncommitted work is rolled back when a connection is closed/released
        self._open = False
        if self._pool is not None:
            self._pool.busy -= 1


class FakeCursor:
    def __init__(self, conn: FakeConnection):
        self.connection = conn
        self._db = conn._db
        self.description: list[tuple] | None = None
        self.rowcount = 0
        self._rows: list[tuple] = []
        self._open = True
        self.arraysize = 100

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple]:
        while self._rows:
            yield self._rows.pop(0)

    def close(self) -> None:
        self._open = False

    def fetchall(self) -> list[tuple]:
        if self.description is None:
            raise dpy_error(_driver_errors.ERR_NOT_A_QUERY)
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple | None:
        if self.description is None:
            raise dpy_error(_driver_errors.ERR_NOT_A_QUERY)
        return self._rows.pop(0) if self._rows else None

    def execute(self, statement: str, parameters: Any = None, **keyword_parameters: Any) -> FakeCursor | None:
        if not self._open or not self.connection._open:
            raise dpy_error(_driver_errors.ERR_NOT_CONNECTED)
        params = dict(keyword_parameters) if keyword_parameters else parameters
        self._run(statement, params)
        return self if self.description is not None else None

    def executemany(self, statement: str, parameters: Sequence[Any], **kwargs: Any) -> None:
        if kwargs:
            raise UnmodelledStatement(f"executemany options are not modelled: {sorted(kwargs)}")
        total = 0
        for p in parameters:
            self._run(statement, p)
            total += self.rowcount
        self.rowcount = total

    # ---- statement dispatch ------------------------------------------------------------------------

    def _run(self, statement: str, params: Any) -> None:
        db, conn = self._db, self.connection
        if not isinstance(statement, str) or not statement.strip():
            raise dpy_error(_driver_errors.ERR_NO_STATEMENT)
        sql = normalize_sql(statement)
        entry_params = dict(params) if isinstance(params, Mapping) else (list(params) if params else None)
        error: str | None = None
        try:
            for inj in db._injected:
                if inj.times > 0 and inj.pattern.search(sql):
                    inj.times -= 1
                    raise inj.error()
            if sql.endswith(";"):
                raise ora_error(911)
            if params is not None and not isinstance(params, Mapping):
                raise UnmodelledStatement("the double models named binds only (pass a dict)")
            self.description, self._rows, self.rowcount = None, [], 0
            StatementExecutor(db, conn, self).run(sql, dict(params or {}))
        except oracledb.Error as e:
            error = e.args[0].full_code
            raise
        except UnmodelledStatement:
            error = "UNMODELLED"
            raise
        finally:
            db.statement_log.append(LoggedStatement(conn.username, mask_passwords(sql), entry_params, error))
