"""The Oracle double's catalog records (users, roles, columns, tables) and what a fresh 19c CDB root
already holds: the system privileges it knows, the Oracle-supplied objects the CDC recipe grants on,
the predefined roles, and the column types CREATE TABLE accepts.

The grants themselves (system / object / role grants with the COMMON flag, i.e. CONTAINER=ALL) and the
quotas are sets and maps on FakeOracleDatabase (tests/doubles/oracle_database.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SYSTEM_PRIVILEGES = frozenset(
    {
        "CREATE SESSION",
        "ALTER SESSION",
        "SET CONTAINER",
        "SELECT ANY TRANSACTION",
        "SELECT ANY DICTIONARY",
        "LOGMINING",
        "SELECT ANY TABLE",
        "CREATE TABLE",
        "CREATE SEQUENCE",
        "CREATE TRIGGER",
        "CREATE VIEW",
        "CREATE PROCEDURE",
        "CREATE TYPE",
        "CREATE SYNONYM",
        "FLASHBACK ANY TABLE",
        "CREATE ROLE",
        "CREATE USER",
        "ALTER USER",
        "DROP USER",
        "GRANT ANY PRIVILEGE",
        "GRANT ANY ROLE",
        "GRANT ANY OBJECT PRIVILEGE",
        "CREATE ANY TABLE",
        "ALTER ANY TABLE",
        "INSERT ANY TABLE",
        "UPDATE ANY TABLE",
        "DELETE ANY TABLE",
        "UNLIMITED TABLESPACE",
        "ALTER DATABASE",
        "ALTER SYSTEM",
        "EXECUTE ANY PROCEDURE",
        "LOCK ANY TABLE",
        "SELECT ANY SEQUENCE",
        "EXEMPT ACCESS POLICY",
        "AUDIT SYSTEM",
        "SYSDBA",
    }
)

# Oracle-supplied objects the CDC recipe grants on: (owner, name) -> object type
SYS_OBJECTS: dict[tuple[str, str], str] = {
    **{
        ("SYS", v): "VIEW"
        for v in (
            "V_$LOGMNR_CONTENTS",
            "V_$DATABASE",
            "V_$THREAD",
            "V_$PARAMETER",
            "V_$NLS_PARAMETERS",
            "V_$TIMEZONE_NAMES",
            "V_$ARCHIVED_LOG",
            "V_$LOG",
            "V_$LOGFILE",
            "V_$INSTANCE",
            "GV_$ARCHIVED_LOG",
            "GV_$DATABASE",
            "ALL_INDEXES",
            "ALL_OBJECTS",
            "ALL_USERS",
            "ALL_CATALOG",
            "ALL_CONSTRAINTS",
            "ALL_CONS_COLUMNS",
            "ALL_TAB_COLS",
            "ALL_IND_COLUMNS",
            "ALL_ENCRYPTED_COLUMNS",
            "ALL_LOG_GROUPS",
            "ALL_TAB_PARTITIONS",
            "DBA_REGISTRY",
            "DBA_TABLESPACES",
            "DBA_OBJECTS",
            "DBA_USERS",
            "DBA_ROLES",
            "DBA_SYS_PRIVS",
            "DBA_TAB_PRIVS",
            "DBA_ROLE_PRIVS",
            "DBA_TABLES",
            "DBA_LOG_GROUPS",
            "DBA_TS_QUOTAS",
        )
    },
    ("SYS", "OBJ$"): "TABLE",
    ("SYS", "ENC$"): "TABLE",
    ("SYS", "DBMS_LOGMNR"): "PACKAGE",
    ("SYS", "DBMS_LOGMNR_D"): "PACKAGE",
    ("SYSTEM", "LOGMNR_COL$"): "TABLE",
    ("SYSTEM", "LOGMNR_OBJ$"): "TABLE",
    ("SYSTEM", "LOGMNR_USER$"): "TABLE",
    ("SYSTEM", "LOGMNR_UID$"): "TABLE",
}

PREDEFINED_ROLE_PRIVS: dict[str, tuple[str, ...]] = {
    "CONNECT": ("CREATE SESSION", "SET CONTAINER"),
    "RESOURCE": ("CREATE TABLE", "CREATE SEQUENCE", "CREATE TRIGGER", "CREATE PROCEDURE", "CREATE TYPE"),
    "DBA": (),
    "EXECUTE_CATALOG_ROLE": (),
    "SELECT_CATALOG_ROLE": (),
}

COLUMN_TYPE_RE = re.compile(
    r"(VARCHAR2|NVARCHAR2|CHAR|NCHAR)\((\d+)(?: (?:BYTE|CHAR))?\)|NUMBER(?:\(\d+(?:, ?-?\d+)?\))?|INTEGER|FLOAT(?:\(\d+\))?"
    r"|BINARY_FLOAT|BINARY_DOUBLE|DATE|TIMESTAMP(?:\(\d\))?(?: WITH(?: LOCAL)? TIME ZONE)?|CLOB|NCLOB|BLOB|RAW\(\d+\)",
    re.I,
)


@dataclass
class User:
    name: str
    password: str = field(repr=False)
    default_tablespace: str = "USERS"
    common: bool = True
    oracle_maintained: bool = False
    locked: bool = False
    sysdba: bool = False


@dataclass
class Role:
    name: str
    common: bool = True
    oracle_maintained: bool = False


@dataclass
class Column:
    name: str
    type: str
    nullable: bool = True

    @property
    def char_length(self) -> int | None:
        m = re.match(r"(?:N?VARCHAR2|N?CHAR)\((\d+)", self.type, re.I)
        return int(m.group(1)) if m else None


@dataclass
class Table:
    owner: str
    name: str
    columns: list[Column]
    tablespace: str
    pk_columns: tuple[str, ...] | None = None
    pk_name: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    log_groups: dict[str, str] = field(default_factory=dict)  # log group name -> LOG_GROUP_TYPE

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)
