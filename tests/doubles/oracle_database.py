"""In-memory Oracle 19c (CDB root) double at the python-oracledb DB-API surface: FakeOracleDatabase,
which holds the catalog state, the test hooks and the privilege checks.

State: users, roles, tablespace quotas, Oracle-supplied objects, user tables, system / object / role
grants with the COMMON flag (CONTAINER=ALL), V$DATABASE log mode and supplemental logging flags.
Privileges are enforced (ORA-01031, dictionary views invisible without SELECT ANY DICTIONARY ->
ORA-00942, no CREATE SESSION -> ORA-01045, no quota -> ORA-01950).

The double is split by what each part holds (all under tests/doubles/):
- oracle_errors: ORA/DPY errors as the driver builds them; UnmodelledStatement.
- oracle_catalog: catalog records (User, Role, Column, Table) and the fixed Oracle-supplied catalog.
- oracle_statements: statement text helpers, the statement log record, injected errors.
- oracle_redo / oracle_archived_logs: SCNs and the redo feed; online and archived log files (mixins).
- oracle_dbapi: FakePool, FakeConnection, FakeCursor (the driver surface).
- oracle_sql_executor: runs one statement; oracle_sql_ddl, oracle_sql_dml, oracle_sql_select,
  oracle_sql_views, oracle_sql_conditions, oracle_sql_context hold the statement families.
- oracle_registry: DoubleOracleResource and the registry it looks databases up in.
- oracle_seed: the seed recipe's objects in the spec shape.
- oracle_fixtures: the pytest plugin (fixtures oracle_db, oracle_resource, oracle_seed_spec,
  provisioned_oracle); oracle_redo_db is in tests.doubles.fixtures.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import oracledb
from oracledb import errors as _driver_errors

from tests.doubles.oracle_archived_logs import RedoLogFiles
from tests.doubles.oracle_catalog import PREDEFINED_ROLE_PRIVS, SYS_OBJECTS, Role, Table, User
from tests.doubles.oracle_dbapi import FakePool
from tests.doubles.oracle_errors import UnmodelledStatement, dpy_error
from tests.doubles.oracle_redo import RedoFeed
from tests.doubles.oracle_statements import InjectedError, LoggedStatement


class FakeOracleDatabase(RedoFeed, RedoLogFiles):
    """One CDB root. Test hooks: set_log_mode, set_supplemental_logging, drop_grant, drop_primary_key,
    drop_log_group, drop_table_rows, listener_down, inject_error, statement_log / ddl_statements().

    redo_dir: append committed row changes to <redo_dir>/redo.jsonl (tests/doubles/oracle_redo.py); redo_database:
    its "database" field (default: the first SID); clock: epoch seconds for CURRENT_TIMESTAMP and the
    commit times (default time.time)."""

    def __init__(
        self,
        *,
        host: str = "oracle",
        port: int = 1521,
        services: Iterable[str] = ("ORCLCDB",),
        sids: Iterable[str] = ("ORCLCDB",),
        sys_password: str = "Oracle123",
        log_mode: str = "ARCHIVELOG",
        supplemental_log_data_min: str = "NO",
        supplemental_log_data_all: str = "NO",
        common_user_prefix: str = "C##",
        redo_dir: str | os.PathLike[str] | None = None,
        redo_database: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.host, self.port = host, port
        self.services = {s.upper() for s in services}
        self.sids = {s.upper() for s in sids}
        self.listener_down = False
        self.log_mode = log_mode
        self.supplemental_log_data_min = supplemental_log_data_min
        self.supplemental_log_data_all = supplemental_log_data_all
        self.common_user_prefix = common_user_prefix
        self.tablespaces = {"SYSTEM", "SYSAUX", "USERS", "TEMP", "UNDOTBS1"}
        self.users: dict[str, User] = {
            "SYS": User("SYS", sys_password, "SYSTEM", oracle_maintained=True, sysdba=True),
            "SYSTEM": User("SYSTEM", sys_password, "SYSTEM", oracle_maintained=True),
        }
        self.roles: dict[str, Role] = {r: Role(r, oracle_maintained=True) for r in PREDEFINED_ROLE_PRIVS}
        self.quotas: dict[tuple[str, str], int] = {}
        self.objects: dict[tuple[str, str], str] = dict(SYS_OBJECTS)
        self.tables: dict[tuple[str, str], Table] = {}
        # (grantee, privilege, common); (grantee, owner, object, privilege, common, grantor); (grantee, role, common)
        self.sys_privs: set[tuple[str, str, bool]] = {(r, p, True) for r, ps in PREDEFINED_ROLE_PRIVS.items() for p in ps}
        self.tab_privs: set[tuple[str, str, str, str, bool, str]] = set()
        self.role_privs: set[tuple[str, str, bool]] = {("SYSTEM", "DBA", True)}
        self.statement_log: list[LoggedStatement] = []
        self.connections_opened = 0
        self._injected: list[InjectedError] = []
        self._constraint_seq = itertools.count(8101)
        self._log_group_seq = itertools.count(1)
        self.clock = clock
        self.redo_dir = Path(redo_dir) if redo_dir is not None else None
        self.redo_database = (redo_database or sorted(self.sids)[0]).upper()
        self.redo_lines_written = 0
        self.redo_lines_unminable = 0  # committed, written with "minable": false (LogMiner would not return them)
        self._redo_lock = threading.Lock()
        self._scn = 0  # the next SCN this database hands out, at least
        self._xid = itertools.count(1)
        if self.redo_dir is not None:
            self.redo_dir.mkdir(parents=True, exist_ok=True)
        # redo logs (V$LOG, V$ARCHIVED_LOG): one thread, `online_log_groups` groups used in turn; the
        # current log started at the SCN the database opened with
        self.online_log_groups = 3
        self.archived_logs: list[dict[str, Any]] = []
        self._log_sequence = 1
        self._log_first_change = self.current_scn
        self._log_first_time = self.now()

    def __repr__(self) -> str:
        return f"FakeOracleDatabase({self.host}:{self.port}, users={sorted(self.users)})"

    # ---- driver entry point ------------------------------------------------------------------------

    def create_pool(self, params: Any = None, password: str | None = None, **kwargs: Any) -> FakePool:
        if kwargs:
            raise UnmodelledStatement(f"create_pool keyword arguments are not modelled: {sorted(kwargs)}")
        if not isinstance(params, oracledb.PoolParams):
            raise dpy_error(_driver_errors.ERR_INVALID_POOL_PARAMS)  # like oracledb.create_pool(params=ConnectParams)
        return FakePool(self, params, password)

    # ---- test hooks --------------------------------------------------------------------------------

    def set_log_mode(self, mode: str) -> None:
        assert mode in ("ARCHIVELOG", "NOARCHIVELOG", "MANUAL")
        self.log_mode = mode

    def set_supplemental_logging(self, *, minimal: str | None = None, all_columns: str | None = None) -> None:
        if minimal is not None:
            self.supplemental_log_data_min = minimal
        if all_columns is not None:
            self.supplemental_log_data_all = all_columns

    def drop_grant(self, grantee: str, privilege: str, object: str | None = None, *, common: bool | None = None) -> int:
        """Revoke behind the control plane's back. object 'OWNER.NAME' for object privileges;
        privilege may be a role name. Returns the number of catalog rows removed."""
        grantee, privilege = grantee.upper(), privilege.upper()
        before = len(self.sys_privs) + len(self.tab_privs) + len(self.role_privs)
        if object:
            owner, name = object.upper().split(".")
            self.tab_privs = {
                t
                for t in self.tab_privs
                if not (t[0] == grantee and t[1] == owner and t[2] == name and t[3] == privilege and common in (None, t[4]))
            }
        else:
            self.sys_privs = {t for t in self.sys_privs if not (t[0] == grantee and t[1] == privilege and common in (None, t[2]))}
            self.role_privs = {t for t in self.role_privs if not (t[0] == grantee and t[1] == privilege and common in (None, t[2]))}
        return before - (len(self.sys_privs) + len(self.tab_privs) + len(self.role_privs))

    def drop_primary_key(self, owner: str, table: str) -> None:
        t = self.tables[(owner.upper(), table.upper())]
        t.pk_columns, t.pk_name = None, None

    def drop_log_group(self, owner: str, table: str) -> None:
        self.tables[(owner.upper(), table.upper())].log_groups.clear()

    def drop_table_rows(self, owner: str, table: str) -> None:
        self.tables[(owner.upper(), table.upper())].rows.clear()

    def set_password(self, user: str, password: str) -> None:
        self.users[user.upper()].password = password

    def inject_error(self, sql_regex: str, error: Callable[[], oracledb.Error] | oracledb.Error, times: int = 1) -> None:
        """The next `times` statements matching `sql_regex` (search, case-insensitive) raise `error`."""
        make = error if callable(error) and not isinstance(error, BaseException) else (lambda e=error: e)
        self._injected.append(InjectedError(re.compile(sql_regex, re.I), make, times))

    def ddl_statements(self, *, include_failed: bool = True) -> list[LoggedStatement]:
        return [s for s in self.statement_log if s.is_ddl and (include_failed or s.error is None)]

    def grants_of(self, grantee: str) -> set[tuple]:
        """('system', priv, common) | ('role', role, common) | ('object', priv, owner, object, common)."""
        g = grantee.upper()
        return (
            {("system", p, c) for (e, p, c) in self.sys_privs if e == g}
            | {("role", r, c) for (e, r, c) in self.role_privs if e == g}
            | {("object", p, o, n, c) for (e, o, n, p, c, _) in self.tab_privs if e == g}
        )

    # ---- privileges --------------------------------------------------------------------------------

    def roles_of(self, grantee: str) -> set[str]:
        out, todo = set(), [grantee]
        while todo:
            g = todo.pop()
            for e, r, _ in self.role_privs:
                if e == g and r not in out:
                    out.add(r)
                    todo.append(r)
        return out

    def effective_sys_privs(self, user: str) -> set[str]:
        holders = {user} | self.roles_of(user)
        return {p for (e, p, _) in self.sys_privs if e in holders}

    def has_object_priv(self, user: str, owner: str, name: str, privilege: str) -> bool:
        holders = {user, "PUBLIC"} | self.roles_of(user)
        return any(e in holders and o == owner and n == name and p == privilege for (e, o, n, p, _, _) in self.tab_privs)
