"""DDL of the Oracle double: CREATE ROLE / USER / TABLE, ALTER USER ... QUOTA, GRANT of system
privileges, roles and object privileges (CONTAINER=ALL makes a grant common), and supplemental
logging (database minimal, table ALL COLUMNS). Only the shapes pipeline_defs/systems/oracle/sql.py
emits; DDL takes no binds (ORA-01027) and commits the session's pending work first (the executor).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.doubles.oracle_catalog import COLUMN_TYPE_RE, SYSTEM_PRIVILEGES, Column, Role, Table, User
from tests.doubles.oracle_errors import UnmodelledStatement, ora_error
from tests.doubles.oracle_sql_context import SqlContext
from tests.doubles.oracle_statements import IDENT, mask_passwords, split_top_level

_F = re.I
_CONTAINER = r"(?: (?P<container>CONTAINER ?= ?(?:ALL|CURRENT)))?"


class DdlStatements(SqlContext):
    """DDL statements, dispatched by shape (_ddl)."""

    def _ddl(self, sql: str) -> None:
        handlers: list[tuple[str, Callable[[re.Match[str]], None]]] = [
            (rf"CREATE ROLE (?P<name>{IDENT}){_CONTAINER}", self._create_role),
            (
                rf'CREATE USER (?P<name>{IDENT}) IDENTIFIED BY "(?P<pw>[^"]+)" DEFAULT TABLESPACE (?P<ts>{IDENT}){_CONTAINER}',
                self._create_user,
            ),
            (rf"ALTER USER (?P<name>{IDENT}) QUOTA (?P<q>UNLIMITED|\d+[KMGT]?) ON (?P<ts>{IDENT})", self._alter_quota),
            (
                rf"GRANT (?P<priv>[A-Z]+(?: [A-Z]+)*) ON (?P<obj>{IDENT}(?:\.{IDENT})?) TO (?P<grantee>{IDENT}){_CONTAINER}",
                self._grant_object,
            ),
            (rf"GRANT (?P<what>{IDENT}(?: [A-Z_]+)*) TO (?P<grantee>{IDENT}){_CONTAINER}", self._grant),
            (rf"CREATE TABLE (?P<tbl>{IDENT}(?:\.{IDENT})?) \((?P<body>.+)\)", self._create_table),
            (rf"ALTER TABLE (?P<tbl>{IDENT}(?:\.{IDENT})?) ADD SUPPLEMENTAL LOG DATA \(ALL\) COLUMNS", self._table_supplemental),
            (r"ALTER DATABASE ADD SUPPLEMENTAL LOG DATA", self._db_supplemental_min),
        ]
        for pattern, handler in handlers:
            m = re.fullmatch(pattern, sql, _F)
            if m:
                self.cur.rowcount = 0
                return handler(m)
        raise UnmodelledStatement(f"DDL not modelled by the Oracle double: {mask_passwords(sql)!r}")

    def _container_all(self, m: re.Match[str]) -> bool:
        c = m.group("container")
        return bool(c) and c.replace(" ", "").upper() == "CONTAINER=ALL"

    def _check_common_name(self, name: str, common: bool) -> None:
        prefix = self.db.common_user_prefix
        if common and prefix and not name.startswith(prefix):
            raise ora_error(65096)

    def _create_role(self, m: re.Match[str]) -> None:
        self._require("CREATE ROLE")
        name = m.group("name").upper()
        # in CDB$ROOT CONTAINER=ALL is the default for CREATE ROLE/USER
        common = not (m.group("container") and not self._container_all(m))
        self._check_common_name(name, common)
        if name in self.db.roles or name in self.db.users:
            raise ora_error(1921, name=name)
        self.db.roles[name] = Role(name, common=common)

    def _create_user(self, m: re.Match[str]) -> None:
        self._require("CREATE USER")
        name, ts = m.group("name").upper(), m.group("ts").upper()
        common = not (m.group("container") and not self._container_all(m))
        self._check_common_name(name, common)
        if name in self.db.users or name in self.db.roles:
            raise ora_error(1920, name=name)
        if ts not in self.db.tablespaces:
            raise ora_error(959, name=ts)
        self.db.users[name] = User(name, m.group("pw"), ts, common=common)

    def _alter_quota(self, m: re.Match[str]) -> None:
        name, ts, q = m.group("name").upper(), m.group("ts").upper(), m.group("q").upper()
        if name != self.user:
            self._require("ALTER USER")
        if name not in self.db.users:
            raise ora_error(1918, name=name)
        if ts not in self.db.tablespaces:
            raise ora_error(959, name=ts)
        if q == "UNLIMITED":
            value = -1
        else:
            mult = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(q[-1], 1)
            value = int(q.rstrip("KMGT")) * mult
        self.db.quotas[(name, ts)] = value

    def _grantee(self, name: str, common: bool) -> None:
        g = name.upper()
        if g not in self.db.users and g not in self.db.roles and g != "PUBLIC":
            raise ora_error(1917, name=g)
        if common:
            rec = self.db.users.get(g) or self.db.roles.get(g)
            if rec is not None and not rec.common:
                raise ora_error(65030)

    def _grant(self, m: re.Match[str]) -> None:
        what, grantee = " ".join(m.group("what").upper().split()), m.group("grantee").upper()
        common = self._container_all(m)
        if what in self.db.roles:
            self._grantee(grantee, common)
            if not self.conn.is_admin and "GRANT ANY ROLE" not in self._privs():
                raise ora_error(1031)
            self.db.role_privs.add((grantee, what, common))
        elif what in SYSTEM_PRIVILEGES:
            self._grantee(grantee, common)
            if not self.conn.is_admin and "GRANT ANY PRIVILEGE" not in self._privs():
                raise ora_error(1031)
            self.db.sys_privs.add((grantee, what, common))
        elif " " in what:
            raise ora_error(990)
        else:
            raise ora_error(1919, name=what)

    def _grant_object(self, m: re.Match[str]) -> None:
        priv, grantee = " ".join(m.group("priv").upper().split()), m.group("grantee").upper()
        common = self._container_all(m)
        owner, name = self._resolve(m.group("obj"))
        kind = self.db.objects.get((owner, name))
        if kind is None:
            raise ora_error(4042 if priv == "EXECUTE" else 942)
        if kind == "PACKAGE" and priv not in ("EXECUTE", "DEBUG"):
            raise ora_error(2225)
        if kind in ("TABLE", "VIEW") and priv == "EXECUTE":
            raise ora_error(2224)
        self._grantee(grantee, common)
        if not (self.conn.is_admin or owner == self.user or "GRANT ANY OBJECT PRIVILEGE" in self._privs()):
            raise ora_error(1031)
        self.db.tab_privs.add((grantee, owner, name, priv, common, "SYS" if self.conn.sysdba else self.user))

    def _create_table(self, m: re.Match[str]) -> None:
        owner, name = self._resolve(m.group("tbl"))
        if owner not in self.db.users:
            raise ora_error(1918, name=owner)
        self._require("CREATE TABLE" if owner == self.user else "CREATE ANY TABLE")
        if (owner, name) in self.db.objects:
            raise ora_error(955)
        columns: list[Column] = []
        pk: tuple[str, ...] | None = None
        for item in split_top_level(m.group("body")):
            pkm = re.fullmatch(rf"(?:CONSTRAINT {IDENT} )?PRIMARY KEY \((?P<cols>[^)]+)\)", item, _F)
            if pkm:
                if pk is not None:
                    raise ora_error(2260)
                pk = tuple(c.strip().upper() for c in pkm.group("cols").split(","))
                continue
            cm = re.fullmatch(rf"(?P<col>{IDENT}) (?P<type>.+?)(?P<nn> NOT NULL)?(?P<pk> PRIMARY KEY)?", item, _F)
            if not cm or not COLUMN_TYPE_RE.fullmatch(cm.group("type")):
                raise UnmodelledStatement(f"column definition not modelled: {item!r}")
            col = cm.group("col").upper()
            if any(c.name == col for c in columns):
                raise ora_error(957)
            columns.append(Column(col, cm.group("type").upper(), nullable=not (cm.group("nn") or cm.group("pk"))))
            if cm.group("pk"):
                if pk is not None:
                    raise ora_error(2260)
                pk = (col,)
        for c in pk or ():
            col = next((x for x in columns if x.name == c), None)
            if col is None:
                raise ora_error(904, name=c)
            col.nullable = False
        tablespace = self.db.users[owner].default_tablespace
        t = Table(owner, name, columns, tablespace, pk, f"SYS_C{next(self.db._constraint_seq):07d}" if pk else None)
        self.db.tables[(owner, name)] = t
        self.db.objects[(owner, name)] = "TABLE"

    def _table_supplemental(self, m: re.Match[str]) -> None:
        t = self._table(m.group("tbl"))
        if not (self.conn.is_admin or t.owner == self.user or "ALTER ANY TABLE" in self._privs()):
            raise ora_error(1031)
        if "ALL COLUMN LOGGING" in t.log_groups.values():
            raise ora_error(32588, name="all column")
        t.log_groups[f"SYS_C{next(self.db._constraint_seq):07d}"] = "ALL COLUMN LOGGING"

    def _db_supplemental_min(self, m: re.Match[str]) -> None:
        self._require("ALTER DATABASE")
        if self.db.supplemental_log_data_min == "NO":
            self.db.supplemental_log_data_min = "YES"
