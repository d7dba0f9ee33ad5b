"""In-memory Oracle 19c (CDB root) double at the python-oracledb DB-API surface, plus its pytest plugin.

Surface: ``FakeOracleDatabase.create_pool(params=PoolParams, password=...)`` -> pool; ``pool.acquire()``
(context manager) -> connection; ``connection.cursor()`` -> cursor with ``execute(sql, params)``,
``executemany``, ``fetchall``/``fetchone``, ``description``, ``rowcount``; ``commit``/``rollback``/``close``.

Catalog: users (passwords, default tablespace, COMMON), roles, tablespace quotas, SYS/SYSTEM objects the
CDC recipe grants on, user tables (columns, primary key, rows, supplemental log groups), system /
object / role grants with the COMMON flag (CONTAINER=ALL), V$DATABASE log mode and supplemental
logging flags. Privileges are enforced (ORA-01031, dictionary views invisible without
SELECT ANY DICTIONARY -> ORA-00942, no CREATE SESSION -> ORA-01045, no quota -> ORA-01950).

Errors are real driver exceptions: ``oracledb.errors._Error(message, code=...)`` wrapped in the
exception class the driver picks (``_Error.exc_type``), as Thin mode does for server errors; DPY
errors come from ``oracledb.errors._create_exception`` (the driver's own constructor), including the
Thin-mode wrapping of DPY-6001/DPY-6003 inside DPY-6005.

SQL: only the statement and probe shapes that pipeline_defs/systems/oracle/{sql,catalog,plan}.py emit (plus generic
``SELECT cols FROM view WHERE col = :b AND col IN (:b1, :b2)``). Anything else raises
UnmodelledStatement (an AssertionError, not a driver error) so the double never silently accepts SQL.

DML: ``INSERT ... VALUES (:binds | CURRENT_TIMESTAMP)``, ``UPDATE t SET c = :b, ... WHERE <conds>`` and
``DELETE FROM t WHERE <conds>`` (conds: ``c = :b``, ``c IN (:b1, ...)``, ``c >= :b`` and the other
comparisons, joined by AND), each undone by rollback. The session time zone is UTC: CURRENT_TIMESTAMP
and TIMESTAMP values are naive UTC datetimes, as the driver returns them.

Redo feed (``FakeOracleDatabase(redo_dir=...)``): every commit (explicit, or the implicit one of DDL)
appends one JSON line per row change, in statement order, to ``<redo_dir>/redo.jsonl``, then flushes
and fsyncs, so a tailing reader (the Connect CDC source double) only ever sees whole commits::

    {"scn": 1000007, "commit_scn": 1000008, "op": "I"|"U"|"D", "owner": "C##MYUSER",
     "table": "POC_CLICKSTREAM", "database": "ORCLCDB", "ts_ms": <commit time, epoch ms>,
     "row": {COLUMN: value}, "pk": [pk columns], "types": {COLUMN: declared type, e.g. "VARCHAR2(50)"},
     "username": <session user>, "xid": <transaction id>, "before": {COLUMN: value}  (U only)}

Values: TIMESTAMP/DATE as epoch millis (naive = UTC), NUMBER as a JSON number, RAW as base64. "row"
is the after image (I, U) or the deleted row (D). The rules of tests/doubles/connect_plugins/redo.py
(the reader's side) hold: append only, whole newline-terminated lines written under an exclusive
flock, SCNs strictly increasing in file order across sessions and writers -- a transaction's first
SCN is max(last SCN in the file + 1, this database's next SCN, wall-clock epoch millis); its changes
get consecutive SCNs and its commit_scn is the one after them.

What LogMiner would not return is marked, not left out: a change committed while ARCHIVELOG is off,
minimal supplemental logging is off, or its table has no ALL-column log group carries
``"minable": false, "unminable": <why>`` (``unminable_reason``). The CDC source double never streams
such a change -- the rows are committed and never reach the CDC topic, as with the real LogMiner-based
connector -- but a snapshot (a flashback query of the table in the real connector) still sees them.
Explicit event times (``EVENTTIMESTAMP`` binds) are stored and logged as given; only ``ts_ms`` is the
commit time.

Pytest plugin: this module is the plugin ``tests.doubles.oracle_db`` (fixtures ``oracle_db``,
``oracle_resource``, ``oracle_seed_spec``, ``provisioned_oracle``); ``oracle_redo_db`` is in
``tests.doubles.fixtures``.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import decimal
import fcntl
import itertools
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import oracledb
import pytest
from oracledb import errors as _driver_errors

from resources.oracle import OracleResource

# --------------------------------------------------------------------------------------------------
# Errors exactly as the driver builds them
# --------------------------------------------------------------------------------------------------

# 19c server message texts (see tests/contract_samples/oracle/errors.json for sources)
ORA_MESSAGES: dict[int, str] = {
    1: "unique constraint ({constraint}) violated",
    904: '"{name}": invalid identifier',
    911: "invalid character",
    922: "missing or invalid option",
    937: "not a single-group group function",
    942: "table or view does not exist",
    955: "name is already used by an existing object",
    957: "duplicate column name",
    959: "tablespace '{name}' does not exist",
    979: "not a GROUP BY expression",
    990: "missing or invalid privilege",
    1017: "invalid username/password; logon denied",
    1027: "bind variables not allowed for data definition operations",
    1031: "insufficient privileges",
    1045: "user {name} lacks CREATE SESSION privilege; logon denied",
    1400: 'cannot insert NULL into ("{owner}"."{table}"."{column}")',
    1407: 'cannot update ("{owner}"."{table}"."{column}") to NULL',
    1430: "column being added already exists in table",
    1722: "invalid number",
    1917: "user or role '{name}' does not exist",
    1918: "user '{name}' does not exist",
    1919: "role '{name}' does not exist",
    1920: "user name '{name}' conflicts with another user or role name",
    1921: "role name '{name}' conflicts with another user or role name",
    1950: "no privileges on tablespace '{name}'",
    2224: "EXECUTE privilege not allowed for tables",
    2225: "only EXECUTE and DEBUG privileges are valid for procedures",
    2260: "table can have only one primary key",
    2261: "such unique or primary key already exists in the table",
    4042: "procedure, function, package, or package body does not exist",
    12899: 'value too large for column "{owner}"."{table}"."{column}" (actual: {actual}, maximum: {maximum})',
    28000: "The account is locked.",
    28009: "connection as SYS should be as SYSDBA or SYSOPER",
    32588: "supplemental logging attribute {name} exists",
    65030: "one may not grant a Common Privilege to a Local User or Role",
    65096: "invalid common user or role name",
    65235: "cannot create common user, role or profile with the same name as existing common user, role or profile",
}


class UnmodelledStatement(AssertionError):
    """The double does not model this SQL (a test/code bug, never a simulated database error)."""


def ora_error(code: int, **args: Any) -> oracledb.Error:
    """A server error as Thin mode raises it: _Error(message, code) in the class _Error picks."""
    err = _driver_errors._Error(f"ORA-{code:05d}: {ORA_MESSAGES[code].format(**args)}", code=code, offset=0)
    return err.exc_type(err)


def raw_ora_error(code: int, text: str) -> oracledb.Error:
    """A server error with free text (e.g. to simulate a message that echoes SQL)."""
    err = _driver_errors._Error(f"ORA-{code:05d}: {text}", code=code, offset=0)
    return err.exc_type(err)


def dpy_error(num: int, cause: BaseException | None = None, **args: Any) -> oracledb.Error:
    return _driver_errors._create_exception(num, cause=cause, **args)


def _connection_id() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()


# --------------------------------------------------------------------------------------------------
# Catalog records
# --------------------------------------------------------------------------------------------------

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

_TYPE_RE = re.compile(
    r"(VARCHAR2|NVARCHAR2|CHAR|NCHAR)\((\d+)(?: (?:BYTE|CHAR))?\)|NUMBER(?:\(\d+(?:, ?-?\d+)?\))?|INTEGER|FLOAT(?:\(\d+\))?"
    r"|BINARY_FLOAT|BINARY_DOUBLE|DATE|TIMESTAMP(?:\(\d\))?(?: WITH(?: LOCAL)? TIME ZONE)?|CLOB|NCLOB|BLOB|RAW\(\d+\)",
    re.I,
)
_IDENT = r"[A-Za-z][A-Za-z0-9_$#]{0,127}"


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


@dataclass(frozen=True)
class LoggedStatement:
    user: str
    sql: str  # IDENTIFIED BY values masked
    params: Any
    error: str | None  # full_code when the statement failed

    @property
    def verb(self) -> str:
        return self.sql.split(None, 1)[0].upper() if self.sql.strip() else ""

    @property
    def is_ddl(self) -> bool:
        return self.verb in ("CREATE", "ALTER", "GRANT", "REVOKE", "DROP")


@dataclass
class _Injected:
    pattern: re.Pattern[str]
    error: Callable[[], oracledb.Error]
    times: int


def _mask(sql: str) -> str:
    return re.sub(r'(IDENTIFIED\s+BY\s+)("[^"]*"|\S+)', r"\1********", sql, flags=re.I)


def _normalize(sql: str) -> str:
    """Collapse whitespace outside quotes (keeps quoted passwords and string literals intact)."""
    out, quote, prev_space = [], None, False
    for ch in sql.strip():
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        if ch.isspace():
            if not prev_space:
                out.append(" ")
            prev_space = True
            continue
        prev_space = False
        out.append(ch)
    return "".join(out)


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


# --------------------------------------------------------------------------------------------------
# The database
# --------------------------------------------------------------------------------------------------


@dataclass
class _Change:
    """One uncommitted row change of a connection (what rollback undoes and commit logs)."""

    op: str  # I | U | D
    table: Table
    row: dict[str, Any]  # the live row object (I, U) or the removed one (D)
    image: dict[str, Any]  # the row as the statement left it (I, U) or as it was deleted (D)
    before: dict[str, Any] | None = None  # U: the row before the statement
    index: int | None = None  # D: the row's position, to put it back on rollback


REDO_FILE = "redo.jsonl"


def epoch_millis(value: dt.datetime | dt.date) -> int:
    """A DATE/TIMESTAMP value as epoch milliseconds; naive values are UTC (the session time zone)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return calendar.timegm(value.timetuple()) * 1000 + value.microsecond // 1000
    return calendar.timegm(value.timetuple()) * 1000


def _redo_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return epoch_millis(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return value


class FakeOracleDatabase:
    """One CDB root. Test hooks: set_log_mode, set_supplemental_logging, drop_grant, drop_primary_key,
    drop_log_group, drop_table_rows, listener_down, inject_error, statement_log / ddl_statements().

    redo_dir: append committed row changes to <redo_dir>/redo.jsonl (module docstring); redo_database:
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
        self._injected: list[_Injected] = []
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

    # ---- clock, SCNs and the redo feed -------------------------------------------------------------

    def now(self) -> dt.datetime:
        """CURRENT_TIMESTAMP in the session time zone (UTC), naive like the driver returns TIMESTAMPs."""
        return dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC).replace(tzinfo=None)

    @property
    def redo_path(self) -> Path | None:
        return self.redo_dir / REDO_FILE if self.redo_dir is not None else None

    @property
    def current_scn(self) -> int:
        """The lowest SCN the next commit can get (V$DATABASE.CURRENT_SCN, roughly)."""
        last = 0
        if self.redo_path is not None and self.redo_path.exists():
            with self.redo_path.open("rb") as f:
                fcntl.flock(f, fcntl.LOCK_SH)
                last = self._last_logged_scn(f)
        return max(self._scn, last + 1, int(time.time() * 1000))

    @staticmethod
    def _last_logged_scn(f: Any) -> int:
        """The highest SCN (scn or commit_scn) of the last whole line of an open redo file."""
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 65536))
        for line in reversed(f.read().decode("utf-8", errors="replace").splitlines()):
            try:
                entry = json.loads(line)
                return max(int(entry.get("scn") or 0), int(entry.get("commit_scn") or 0))
            except (ValueError, TypeError, AttributeError):
                continue  # the partial first line of the tail window
        return 0

    def _commit(self, user: str, changes: list[_Change]) -> None:
        """A transaction commits: its changes get SCNs and, with a redo_dir, one redo line each."""
        if not changes:
            return
        with self._redo_lock:
            if self.redo_dir is None:
                self._scn = max(self._scn, int(time.time() * 1000)) + len(changes) + 1
                return
            with (self.redo_dir / REDO_FILE).open("a+b") as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # other writers (tests/doubles/connect_plugins/redo.py) lock too
                first = max(self._scn, self._last_logged_scn(f) + 1, int(time.time() * 1000))
                commit_scn = first + len(changes)
                self._scn = commit_scn + 1
                f.write(self._redo_text(user, changes, first, commit_scn).encode("utf-8"))  # one write
                f.flush()
                os.fsync(f.fileno())
            self.redo_lines_written += len(changes)

    def _redo_text(self, user: str, changes: list[_Change], first: int, commit_scn: int) -> str:
        ts_ms = int(self.clock() * 1000)
        xid = f"{next(self._xid):04x}.{first % 0x1000:03x}.{commit_scn & 0xFFFFFFFF:08x}"
        lines = []
        for i, c in enumerate(changes):
            t = c.table
            entry: dict[str, Any] = {
                "scn": first + i,
                "commit_scn": commit_scn,
                "op": c.op,
                "owner": t.owner,
                "table": t.name,
                "database": self.redo_database,
                "ts_ms": ts_ms,
                "row": {k: _redo_value(v) for k, v in c.image.items()},
                "pk": list(t.pk_columns or ()),
                "types": {col.name: col.type for col in t.columns},
                "username": user,
                "xid": xid,
            }
            if c.before is not None:
                entry["before"] = {k: _redo_value(v) for k, v in c.before.items()}
            why = self.unminable_reason(t)
            if why is not None:
                entry["minable"], entry["unminable"] = False, why
                self.redo_lines_unminable += 1
            lines.append(json.dumps(entry, separators=(",", ":")) + "\n")
        return "".join(lines)

    def unminable_reason(self, t: Table) -> str | None:
        """Why LogMiner would return nothing for a change of `t` committed now (None: it would).

        Oracle: "By default, Oracle Database does not provide any supplemental logging, which means that by
        default LogMiner is not usable. Therefore, you must enable at least minimal supplemental logging
        before generating log files which will be analyzed by LogMiner" (Database Utilities, Supplemental
        Logging); the Confluent Oracle CDC connector's prerequisites add ARCHIVELOG mode and ALL-column
        logging for captured tables. Deliberately strict: a table without ALL-column logging loses every
        change here, where real LogMiner (minimal logging on) would still return inserts and updates with
        only the changed columns -- a provisioning gap must show up as missing data in tests."""
        if self.log_mode != "ARCHIVELOG":
            return f"the database is in {self.log_mode} mode (ARCHIVELOG is off)"
        if self.supplemental_log_data_min not in ("YES", "IMPLICIT") and self.supplemental_log_data_all != "YES":
            return "minimal supplemental logging is off (V$DATABASE.SUPPLEMENTAL_LOG_DATA_MIN = NO)"
        if self.supplemental_log_data_all != "YES" and "ALL COLUMN LOGGING" not in t.log_groups.values():
            return f"{t.owner}.{t.name} has no ALL COLUMN supplemental log group"
        return None

    def redo_entries(self, *, minable_only: bool = False) -> list[dict[str, Any]]:
        """Every line of the redo file, parsed (empty without a redo_dir or before the first commit)."""
        path = self.redo_path
        if path is None or not path.exists():
            return []
        entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [e for e in entries if e.get("minable", True)] if minable_only else entries

    # ---- redo logs: log switches and RMAN's archived-log deletion -----------------------------------

    def switch_logfile(self) -> dict[str, Any]:
        """ALTER SYSTEM ARCHIVE LOG CURRENT: the current online log is archived (a V$ARCHIVED_LOG row
        with DELETED='NO', STATUS='A', covering [FIRST_CHANGE#, NEXT_CHANGE#)) and the next sequence
        becomes CURRENT from NEXT_CHANGE#, which later commits never go below. Returns the new row."""
        with self._redo_lock:
            nxt = self.current_scn
            self._scn = max(self._scn, nxt + 1)
            now = self.now()
            row = {
                "RECID": len(self.archived_logs) + 1,
                "STAMP": 1100000000 + len(self.archived_logs),
                "NAME": f"/opt/oracle/oradata/{self.redo_database}/archivelog/1_{self._log_sequence}_1100000000.dbf",
                "DEST_ID": 1,
                "THREAD#": 1,
                "SEQUENCE#": self._log_sequence,
                "RESETLOGS_CHANGE#": 1,
                "RESETLOGS_TIME": dt.datetime(2026, 1, 1),
                "RESETLOGS_ID": 1100000000,
                "FIRST_CHANGE#": self._log_first_change,
                "FIRST_TIME": self._log_first_time,
                "NEXT_CHANGE#": nxt,
                "NEXT_TIME": now,
                "BLOCKS": 2048,
                "BLOCK_SIZE": 512,
                "CREATOR": "ARCH",
                "REGISTRAR": "ARCH",
                "STANDBY_DEST": "NO",
                "ARCHIVED": "YES",
                "APPLIED": "NO",
                "DELETED": "NO",
                "STATUS": "A",
                "COMPLETION_TIME": now,
                "DICTIONARY_BEGIN": "NO",
                "DICTIONARY_END": "NO",
                "END_OF_REDO": "NO",
                "BACKUP_COUNT": 0,
                "ARCHIVAL_THREAD#": 1,
                "ACTIVATION#": 2718281828,
                "IS_RECOVERY_DEST_FILE": "YES",
                "COMPRESSED": "NO",
                "FAL": "NO",
                "END_OF_REDO_TYPE": None,
                "BACKED_BY_VSS": "NO",
                "CON_ID": 0,
            }
            self.archived_logs.append(row)
            self._log_sequence += 1
            self._log_first_change, self._log_first_time = nxt, now
            return dict(row)

    def purge_archived_logs(self, *, through_sequence: int | None = None, until_scn: int | None = None) -> int:
        """RMAN DELETE ARCHIVELOG: the archived copies of sequences <= through_sequence, or of logs that
        end at or before until_scn (NEXT_CHANGE# <= until_scn), are removed from disk; their rows stay
        with DELETED='YES', STATUS='D', as in the control file. Online logs are untouched (the newest
        `online_log_groups - 1` archived sequences are still on disk as online groups). With a redo_dir
        the new horizon goes to <redo_dir>/archived-logs.<database>.json for the CDC source double,
        which then fails to resume below it (ORA-01291). Returns how many."""
        if (through_sequence is None) == (until_scn is None):
            raise ValueError("purge_archived_logs: give through_sequence or until_scn")
        n = 0
        for row in self.archived_logs:
            hit = row["SEQUENCE#"] <= through_sequence if through_sequence is not None else row["NEXT_CHANGE#"] <= until_scn
            if hit and row["DELETED"] == "NO":
                row["DELETED"], row["STATUS"] = "YES", "D"
                n += 1
        self._publish_redo_horizon()
        return n

    def redo_horizon(self) -> int:
        """The oldest SCN mining can start from: the first change of the oldest log in the unbroken
        chain of logs still on disk (archived copies not deleted, or still an online group) ending at
        the current one."""
        on_disk = {r["SEQUENCE#"]: r["FIRST_CHANGE#"] for r in self.archived_logs if r["DELETED"] == "NO"}
        on_disk.update({r["SEQUENCE#"]: r["FIRST_CHANGE#"] for r in self.online_logs() if r["STATUS"] != "UNUSED"})
        seq = self._log_sequence
        while seq - 1 in on_disk:
            seq -= 1
        return on_disk[seq]

    def _publish_redo_horizon(self) -> None:
        # the CDC source double (another process) refuses to resume below it, as LogMiner would
        if self.redo_dir is None:
            return
        path = self.redo_dir / f"archived-logs.{self.redo_database}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"database": self.redo_database, "horizon_scn": self.redo_horizon()}))
        os.replace(tmp, path)

    def online_logs(self) -> list[dict[str, Any]]:
        """V$LOG: the CURRENT group and the groups still holding the newest archived sequences."""
        rows = []
        recent = self.archived_logs[-(self.online_log_groups - 1) :] if self.online_log_groups > 1 else []
        for a in recent:
            rows.append(
                self._log_row(a["SEQUENCE#"], "INACTIVE", "YES", a["FIRST_CHANGE#"], a["FIRST_TIME"], a["NEXT_CHANGE#"], a["NEXT_TIME"])
            )
        rows.append(
            self._log_row(self._log_sequence, "CURRENT", "NO", self._log_first_change, self._log_first_time, 18446744073709551615, None)
        )
        used = len(rows)
        for g in range(used, self.online_log_groups):
            rows.append({**self._log_row(0, "UNUSED", "YES", 0, None, 0, None), "GROUP#": g + 1})
        return rows

    def _log_row(self, seq: int, status: str, archived: str, first: int, first_time: Any, nxt: int, next_time: Any) -> dict[str, Any]:
        return {
            "GROUP#": (seq - 1) % self.online_log_groups + 1 if seq else self.online_log_groups,
            "THREAD#": 1,
            "SEQUENCE#": seq,
            "BYTES": 209715200,
            "BLOCKSIZE": 512,
            "MEMBERS": 1,
            "ARCHIVED": archived,
            "STATUS": status,
            "FIRST_CHANGE#": first,
            "FIRST_TIME": first_time,
            "NEXT_CHANGE#": nxt,
            "NEXT_TIME": next_time,
            "CON_ID": 0,
        }

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
        self._injected.append(_Injected(re.compile(sql_regex, re.I), make, times))

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
        self._pending: list[_Change] = []  # uncommitted row changes, in statement order

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
        sql = _normalize(statement)
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
            _Executor(db, conn, self).run(sql, dict(params or {}))
        except oracledb.Error as e:
            error = e.args[0].full_code
            raise
        except UnmodelledStatement:
            error = "UNMODELLED"
            raise
        finally:
            db.statement_log.append(LoggedStatement(conn.username, _mask(sql), entry_params, error))


# --------------------------------------------------------------------------------------------------
# SQL execution
# --------------------------------------------------------------------------------------------------

_F = re.I
_CONTAINER = r"(?: (?P<container>CONTAINER ?= ?(?:ALL|CURRENT)))?"


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _comparable(value: Any) -> Any:
    """Datetimes compare as naive UTC (the session time zone); a DATE bind as midnight."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


class _Executor:
    def __init__(self, db: FakeOracleDatabase, conn: FakeConnection, cur: FakeCursor):
        self.db, self.conn, self.cur = db, conn, cur
        self.user = conn.username

    # ---- dispatch ----------------------------------------------------------------------------------

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
        raise UnmodelledStatement(f"statement not modelled by the Oracle double: {_mask(sql)!r}")

    @staticmethod
    def _strip_literals(sql: str) -> str:
        return re.sub(r"'[^']*'|\"[^\"]*\"", "''", sql)

    def _implicit_commit(self) -> None:
        self.conn._commit_pending()

    def _ddl(self, sql: str) -> None:
        handlers: list[tuple[str, Callable[[re.Match[str]], None]]] = [
            (rf"CREATE ROLE (?P<name>{_IDENT}){_CONTAINER}", self._create_role),
            (
                rf'CREATE USER (?P<name>{_IDENT}) IDENTIFIED BY "(?P<pw>[^"]+)" DEFAULT TABLESPACE (?P<ts>{_IDENT}){_CONTAINER}',
                self._create_user,
            ),
            (rf"ALTER USER (?P<name>{_IDENT}) QUOTA (?P<q>UNLIMITED|\d+[KMGT]?) ON (?P<ts>{_IDENT})", self._alter_quota),
            (
                rf"GRANT (?P<priv>[A-Z]+(?: [A-Z]+)*) ON (?P<obj>{_IDENT}(?:\.{_IDENT})?) TO (?P<grantee>{_IDENT}){_CONTAINER}",
                self._grant_object,
            ),
            (rf"GRANT (?P<what>{_IDENT}(?: [A-Z_]+)*) TO (?P<grantee>{_IDENT}){_CONTAINER}", self._grant),
            (rf"CREATE TABLE (?P<tbl>{_IDENT}(?:\.{_IDENT})?) \((?P<body>.+)\)", self._create_table),
            (rf"ALTER TABLE (?P<tbl>{_IDENT}(?:\.{_IDENT})?) ADD SUPPLEMENTAL LOG DATA \(ALL\) COLUMNS", self._table_supplemental),
            (r"ALTER DATABASE ADD SUPPLEMENTAL LOG DATA", self._db_supplemental_min),
        ]
        for pattern, handler in handlers:
            m = re.fullmatch(pattern, sql, _F)
            if m:
                self.cur.rowcount = 0
                return handler(m)
        raise UnmodelledStatement(f"DDL not modelled by the Oracle double: {_mask(sql)!r}")

    # ---- helpers -----------------------------------------------------------------------------------

    def _privs(self) -> set[str]:
        return self.db.effective_sys_privs(self.user)

    def _require(self, privilege: str) -> None:
        if not self.conn.is_admin and privilege not in self._privs():
            raise ora_error(1031)

    def _resolve(self, name: str) -> tuple[str, str]:
        parts = name.upper().split(".")
        return (parts[0], parts[1]) if len(parts) == 2 else (self.user, parts[0])

    def _container_all(self, m: re.Match[str]) -> bool:
        c = m.group("container")
        return bool(c) and c.replace(" ", "").upper() == "CONTAINER=ALL"

    def _check_common_name(self, name: str, common: bool) -> None:
        prefix = self.db.common_user_prefix
        if common and prefix and not name.startswith(prefix):
            raise ora_error(65096)

    def _can_read_dictionary(self) -> bool:
        return self.conn.is_admin or "SELECT ANY DICTIONARY" in self._privs() or "SELECT_CATALOG_ROLE" in self.db.roles_of(self.user)

    # ---- DDL ---------------------------------------------------------------------------------------

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
        for item in _split_top(m.group("body")):
            pkm = re.fullmatch(rf"(?:CONSTRAINT {_IDENT} )?PRIMARY KEY \((?P<cols>[^)]+)\)", item, _F)
            if pkm:
                if pk is not None:
                    raise ora_error(2260)
                pk = tuple(c.strip().upper() for c in pkm.group("cols").split(","))
                continue
            cm = re.fullmatch(rf"(?P<col>{_IDENT}) (?P<type>.+?)(?P<nn> NOT NULL)?(?P<pk> PRIMARY KEY)?", item, _F)
            if not cm or not _TYPE_RE.fullmatch(cm.group("type")):
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

    # ---- DML ---------------------------------------------------------------------------------------

    def _insert(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"INSERT INTO (?P<tbl>{_IDENT}(?:\.{_IDENT})?) \((?P<cols>[^)]+)\) VALUES \((?P<vals>.+)\)", sql, _F)
        if not m:
            raise UnmodelledStatement(f"INSERT shape not modelled: {sql!r}")
        owner, name = self._resolve(m.group("tbl"))
        t = self.db.tables.get((owner, name))
        if t is None or not (self._can_access_table(t, "INSERT") or self._can_access_table(t, "SELECT")):
            raise ora_error(942)
        if not self._can_access_table(t, "INSERT"):
            raise ora_error(1031)
        cols = [c.strip().upper() for c in m.group("cols").split(",")]
        vals = _split_top(m.group("vals"))
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
        self.conn._pending.append(_Change("I", t, row, dict(row)))
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
        conds = [self._condition(c, params) for c in re.split(r" AND ", where, flags=re.I)]
        return [r for r in t.rows if all(cond(r) for cond in conds)]

    def _update(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"UPDATE (?P<tbl>{_IDENT}(?:\.{_IDENT})?) SET (?P<sets>.+?) WHERE (?P<where>.+)", sql, _F)
        if not m:
            raise UnmodelledStatement(f"UPDATE shape not modelled (SET col = :bind, ... WHERE ...): {sql!r}")
        t = self._dml_table(m.group("tbl"), "UPDATE")
        sets: list[tuple[Column, str]] = []
        for item in _split_top(m.group("sets")):
            sm = re.fullmatch(rf"(?P<col>{_IDENT}) ?= ?(?P<expr>:[A-Za-z][A-Za-z0-9_]*|CURRENT_TIMESTAMP|SYSTIMESTAMP)", item, _F)
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
            self.conn._pending.append(_Change("U", t, row, dict(row), before=before))
        self.cur.rowcount = len(new_rows)

    def _delete(self, sql: str, params: dict[str, Any]) -> None:
        m = re.fullmatch(rf"DELETE FROM (?P<tbl>{_IDENT}(?:\.{_IDENT})?) WHERE (?P<where>.+)", sql, _F)
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
                self.conn._pending.append(_Change("D", t, row, dict(row), index=index - removed))
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

    # ---- SELECT ------------------------------------------------------------------------------------

    _PK_PROBE = re.compile(
        r"SELECT c\.OWNER, c\.TABLE_NAME, cc\.COLUMN_NAME, cc\.POSITION FROM ALL_CONSTRAINTS c "
        r"JOIN ALL_CONS_COLUMNS cc ON cc\.OWNER = c\.OWNER AND cc\.CONSTRAINT_NAME = c\.CONSTRAINT_NAME "
        r"WHERE c\.OWNER = :OWNER AND c\.CONSTRAINT_TYPE = 'P' ORDER BY c\.TABLE_NAME, cc\.POSITION",
        re.I,
    )
    _SELECT = re.compile(
        rf"SELECT (?P<cols>.+?) FROM (?P<src>{_IDENT}(?:\.{_IDENT})?|V\$[A-Z_]+)(?: WHERE (?P<where>.+?))?"
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
            conds = [self._condition(c, params) for c in re.split(r" AND ", where, flags=re.I)]
            view_rows = [r for r in view_rows if all(cond(r) for cond in conds)]
        if m.group("order") and m.group("group"):
            raise UnmodelledStatement(f"GROUP BY with ORDER BY is not modelled: {sql!r}")
        if m.group("order"):
            keys = [k.strip().upper() for k in m.group("order").split(",")]
            self._check_columns(src, view_rows, keys)
            view_rows = sorted(view_rows, key=lambda r: tuple(str(r[k]) for k in keys))
        cols = [c.strip() for c in _split_top(m.group("cols"))]
        if len(cols) == 1 and re.fullmatch(r"COUNT\(\*\) AS (\w+)", cols[0], re.I):
            alias = re.fullmatch(r"COUNT\(\*\) AS (\w+)", cols[0], re.I).group(1).upper()
            return self._result([alias], [(len(view_rows),)])
        if len(cols) == 1 and re.fullmatch(r"1 AS (\w+)", cols[0], re.I):
            alias = re.fullmatch(r"1 AS (\w+)", cols[0], re.I).group(1).upper()
            return self._result([alias], [(1,) for _ in view_rows])
        if m.group("group") or any(not re.fullmatch(_IDENT, c) for c in cols):
            return self._select_items(src, cols, m.group("group"), view_rows)
        names = [c.upper() for c in cols]
        self._check_columns(src, view_rows, names)
        return self._result(names, [tuple(r[n] for n in names) for r in view_rows])

    _ITEM = re.compile(rf"(?:(?P<fn>MAX|MIN|COUNT)\((?P<arg>{_IDENT}|\*)\)|(?P<col>{_IDENT}))(?: AS (?P<alias>{_IDENT}))?", re.I)

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
        group_cols = [g.strip().upper() for g in _split_top(group)] if group else []
        for g in group_cols:
            if not re.fullmatch(_IDENT, g):
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
            present = [_comparable(x[ref]) for x in members if x[ref] is not None]
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

    def _condition(self, text: str, params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
        m = re.fullmatch(rf"(?P<col>{_IDENT}) = (?P<val>:\w+|'[^']*')", text.strip(), re.I)
        if m:
            col = m.group("col").upper()
            v = m.group("val")
            value = params[v[1:].upper()] if v.startswith(":") else v[1:-1]
            return lambda r: self._col(r, col) == value
        m = re.fullmatch(rf"(?P<col>{_IDENT}) ?(?P<op><>|!=|>=|<=|>|<) ?(?P<val>:\w+|'[^']*'|-?\d+(?:\.\d+)?)", text.strip(), re.I)
        if m:
            col, op, v = m.group("col").upper(), m.group("op"), m.group("val")
            if v.startswith(":"):
                bound = params[v[1:].upper()]
            elif v.startswith("'"):
                bound = v[1:-1]
            else:
                bound = decimal.Decimal(v)
            compare = _COMPARISONS[op]

            def cond(r: dict[str, Any]) -> bool:
                a = self._col(r, col)
                if a is None or bound is None:  # comparisons with NULL are never true
                    return False
                try:
                    return compare(_comparable(a), _comparable(bound))
                except TypeError:
                    raise UnmodelledStatement(
                        f"comparison of {type(a).__name__} with {type(bound).__name__} (implicit conversion) is not modelled: {text!r}"
                    ) from None

            return cond
        m = re.fullmatch(rf"(?P<col>{_IDENT}) IN \((?P<vals>:\w+(?:, ?:\w+)*)\)", text.strip(), re.I)
        if m:
            col = m.group("col").upper()
            values = {params[v.strip()[1:].upper()] for v in m.group("vals").split(",")}
            return lambda r: self._col(r, col) in values
        raise UnmodelledStatement(f"WHERE condition not modelled: {text!r}")

    @staticmethod
    def _col(row: dict[str, Any], col: str) -> Any:
        if col not in row:
            raise ora_error(904, name=col)
        return row[col]

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

    # ---- views -------------------------------------------------------------------------------------

    _VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
        "DUAL": ("DUMMY",),
        "DBA_ROLES": (
            "ROLE",
            "ROLE_ID",
            "PASSWORD_REQUIRED",
            "AUTHENTICATION_TYPE",
            "COMMON",
            "ORACLE_MAINTAINED",
            "INHERITED",
            "IMPLICIT",
        ),
        "DBA_USERS": ("USERNAME", "USER_ID", "ACCOUNT_STATUS", "DEFAULT_TABLESPACE", "TEMPORARY_TABLESPACE", "COMMON", "ORACLE_MAINTAINED"),
        "ALL_USERS": ("USERNAME", "USER_ID", "COMMON", "ORACLE_MAINTAINED"),
        "DBA_TS_QUOTAS": ("TABLESPACE_NAME", "USERNAME", "BYTES", "MAX_BYTES", "BLOCKS", "MAX_BLOCKS", "DROPPED"),
        "DBA_TABLES": ("OWNER", "TABLE_NAME", "TABLESPACE_NAME", "LOGGING"),
        "ALL_TABLES": ("OWNER", "TABLE_NAME", "TABLESPACE_NAME", "LOGGING"),
        "DBA_SYS_PRIVS": ("GRANTEE", "PRIVILEGE", "ADMIN_OPTION", "COMMON", "INHERITED"),
        "DBA_TAB_PRIVS": (
            "GRANTEE",
            "OWNER",
            "TABLE_NAME",
            "GRANTOR",
            "PRIVILEGE",
            "GRANTABLE",
            "HIERARCHY",
            "COMMON",
            "TYPE",
            "INHERITED",
        ),
        "DBA_ROLE_PRIVS": ("GRANTEE", "GRANTED_ROLE", "ADMIN_OPTION", "DELEGATE_OPTION", "DEFAULT_ROLE", "COMMON", "INHERITED"),
        "V$DATABASE": (
            "DBID",
            "NAME",
            "LOG_MODE",
            "OPEN_MODE",
            "CDB",
            "FORCE_LOGGING",
            "SUPPLEMENTAL_LOG_DATA_MIN",
            "SUPPLEMENTAL_LOG_DATA_PK",
            "SUPPLEMENTAL_LOG_DATA_UI",
            "SUPPLEMENTAL_LOG_DATA_ALL",
            "CURRENT_SCN",
            "RESETLOGS_CHANGE#",
        ),
        # Oracle Database Reference 19c, V$ARCHIVED_LOG and V$LOG
        "V$ARCHIVED_LOG": (
            "RECID",
            "STAMP",
            "NAME",
            "DEST_ID",
            "THREAD#",
            "SEQUENCE#",
            "RESETLOGS_CHANGE#",
            "RESETLOGS_TIME",
            "RESETLOGS_ID",
            "FIRST_CHANGE#",
            "FIRST_TIME",
            "NEXT_CHANGE#",
            "NEXT_TIME",
            "BLOCKS",
            "BLOCK_SIZE",
            "CREATOR",
            "REGISTRAR",
            "STANDBY_DEST",
            "ARCHIVED",
            "APPLIED",
            "DELETED",
            "STATUS",
            "COMPLETION_TIME",
            "DICTIONARY_BEGIN",
            "DICTIONARY_END",
            "END_OF_REDO",
            "BACKUP_COUNT",
            "ARCHIVAL_THREAD#",
            "ACTIVATION#",
            "IS_RECOVERY_DEST_FILE",
            "COMPRESSED",
            "FAL",
            "END_OF_REDO_TYPE",
            "BACKED_BY_VSS",
            "CON_ID",
        ),
        "V$LOG": (
            "GROUP#",
            "THREAD#",
            "SEQUENCE#",
            "BYTES",
            "BLOCKSIZE",
            "MEMBERS",
            "ARCHIVED",
            "STATUS",
            "FIRST_CHANGE#",
            "FIRST_TIME",
            "NEXT_CHANGE#",
            "NEXT_TIME",
            "CON_ID",
        ),
        "DBA_LOG_GROUPS": ("OWNER", "LOG_GROUP_NAME", "TABLE_NAME", "LOG_GROUP_TYPE", "ALWAYS", "GENERATED"),
        "ALL_LOG_GROUPS": ("OWNER", "LOG_GROUP_NAME", "TABLE_NAME", "LOG_GROUP_TYPE", "ALWAYS", "GENERATED"),
    }

    def _columns_of(self, src: str) -> tuple[str, ...]:
        if src in self._VIEW_COLUMNS:
            return self._VIEW_COLUMNS[src]
        owner, name = self._resolve(src)
        return tuple(c.name for c in self.db.tables[(owner, name)].columns)

    def _source(self, src: str) -> list[dict[str, Any]]:
        db = self.db
        if src.startswith(("DBA_", "V$")) and src in self._VIEW_COLUMNS:
            if not (
                self._can_read_dictionary() or (src.startswith("V$") and db.has_object_priv(self.user, "SYS", "V_" + src[1:], "SELECT"))
            ):
                raise ora_error(942)
        if src == "DUAL":
            return [{"DUMMY": "X"}]
        if src == "DBA_ROLES":
            return [
                {
                    "ROLE": r.name,
                    "ROLE_ID": i,
                    "PASSWORD_REQUIRED": "NO",
                    "AUTHENTICATION_TYPE": "NONE",
                    "COMMON": _yes(r.common),
                    "ORACLE_MAINTAINED": _yes(r.oracle_maintained),
                    "INHERITED": "NO",
                    "IMPLICIT": "NO",
                }
                for i, r in enumerate(db.roles.values(), 100)
            ]
        if src in ("DBA_USERS", "ALL_USERS"):
            return [
                {
                    "USERNAME": u.name,
                    "USER_ID": i,
                    "ACCOUNT_STATUS": "LOCKED" if u.locked else "OPEN",
                    "DEFAULT_TABLESPACE": u.default_tablespace,
                    "TEMPORARY_TABLESPACE": "TEMP",
                    "COMMON": _yes(u.common),
                    "ORACLE_MAINTAINED": _yes(u.oracle_maintained),
                }
                for i, u in enumerate(db.users.values())
            ]
        if src == "DBA_TS_QUOTAS":
            return [
                {
                    "TABLESPACE_NAME": ts,
                    "USERNAME": u,
                    "BYTES": 65536 * len(db.tables),
                    "MAX_BYTES": q,
                    "BLOCKS": 8,
                    "MAX_BLOCKS": -1 if q == -1 else q // 8192,
                    "DROPPED": "NO",
                }
                for (u, ts), q in db.quotas.items()
            ]
        if src in ("DBA_TABLES", "ALL_TABLES"):
            visible = db.tables.values() if src == "DBA_TABLES" else [t for t in db.tables.values() if self._can_access_table(t, "SELECT")]
            return [{"OWNER": t.owner, "TABLE_NAME": t.name, "TABLESPACE_NAME": t.tablespace, "LOGGING": "YES"} for t in visible]
        if src == "DBA_SYS_PRIVS":
            return [{"GRANTEE": g, "PRIVILEGE": p, "ADMIN_OPTION": "NO", "COMMON": _yes(c), "INHERITED": "NO"} for g, p, c in db.sys_privs]
        if src == "DBA_TAB_PRIVS":
            return [
                {
                    "GRANTEE": g,
                    "OWNER": o,
                    "TABLE_NAME": n,
                    "GRANTOR": gr,
                    "PRIVILEGE": p,
                    "GRANTABLE": "NO",
                    "HIERARCHY": "NO",
                    "COMMON": _yes(c),
                    "TYPE": db.objects.get((o, n), "TABLE"),
                    "INHERITED": "NO",
                }
                for g, o, n, p, c, gr in db.tab_privs
            ]
        if src == "DBA_ROLE_PRIVS":
            return [
                {
                    "GRANTEE": g,
                    "GRANTED_ROLE": r,
                    "ADMIN_OPTION": "NO",
                    "DELEGATE_OPTION": "NO",
                    "DEFAULT_ROLE": "YES",
                    "COMMON": _yes(c),
                    "INHERITED": "NO",
                }
                for g, r, c in db.role_privs
            ]
        if src == "V$DATABASE":
            return [
                {
                    "DBID": 2718281828,
                    "NAME": "ORCLCDB",
                    "LOG_MODE": db.log_mode,
                    "OPEN_MODE": "READ WRITE",
                    "CDB": "YES",
                    "FORCE_LOGGING": "NO",
                    "SUPPLEMENTAL_LOG_DATA_MIN": db.supplemental_log_data_min,
                    "SUPPLEMENTAL_LOG_DATA_PK": "NO",
                    "SUPPLEMENTAL_LOG_DATA_UI": "NO",
                    "SUPPLEMENTAL_LOG_DATA_ALL": db.supplemental_log_data_all,
                    "CURRENT_SCN": db.current_scn,
                    "RESETLOGS_CHANGE#": 1,  # one incarnation: the archived logs' RESETLOGS_CHANGE#
                }
            ]
        if src == "V$ARCHIVED_LOG":
            return [dict(r) for r in db.archived_logs]
        if src == "V$LOG":
            return db.online_logs()
        if src in ("DBA_LOG_GROUPS", "ALL_LOG_GROUPS"):
            tables = (
                db.tables.values() if src == "DBA_LOG_GROUPS" else [t for t in db.tables.values() if self._can_access_table(t, "SELECT")]
            )
            return [
                {
                    "OWNER": t.owner,
                    "LOG_GROUP_NAME": g,
                    "TABLE_NAME": t.name,
                    "LOG_GROUP_TYPE": ty,
                    "ALWAYS": "ALWAYS",
                    "GENERATED": "GENERATED NAME",
                }
                for t in tables
                for g, ty in t.log_groups.items()
            ]
        if src.startswith(("DBA_", "ALL_", "V$", "GV$", "USER_")):
            raise UnmodelledStatement(f"dictionary view not modelled by the Oracle double: {src}")
        return [dict(r) for r in self._table(src).rows]


# --------------------------------------------------------------------------------------------------
# Plugging the double into OracleResource
# --------------------------------------------------------------------------------------------------

_DATABASES: dict[str, FakeOracleDatabase] = {}


def register_database(db: FakeOracleDatabase, key: str | None = None) -> str:
    key = key or f"oracle-double-{uuid.uuid4().hex[:8]}"
    _DATABASES[key] = db
    return key


def unregister_database(key: str) -> None:
    _DATABASES.pop(key, None)


def registered_database(key: str) -> FakeOracleDatabase:
    try:
        return _DATABASES[key]
    except KeyError:
        raise AssertionError(f"no FakeOracleDatabase registered under {key!r} (use the oracle_db fixture)") from None


class DoubleOracleResource(OracleResource):
    """OracleResource whose pool comes from a registered FakeOracleDatabase (survives Dagster's re-init,
    unlike a PrivateAttr, because the key is plain config)."""

    database_key: str = "default"

    def _create_pool(self, params: oracledb.PoolParams, password: str) -> FakePool:
        return registered_database(self.database_key).create_pool(params=params, password=password)


TEST_USER_PASSWORD = "Cdc-User-Pw-7f3c19"
TEST_ADMIN_PASSWORD = "Sys-Admin-Pw-88b2e4"


def double_resource(db: FakeOracleDatabase, key: str, **overrides: Any) -> DoubleOracleResource:
    config: dict[str, Any] = dict(
        database_key=key,
        host=db.host,
        port=db.port,
        service_name=sorted(db.services)[0],
        user="C##MYUSER",
        password=TEST_USER_PASSWORD,
        admin_user="SYS",
        admin_password=TEST_ADMIN_PASSWORD,
        as_sysdba=True,
        timeout_seconds=1.0,
    )
    config.update(overrides)
    return DoubleOracleResource(**config)


# --------------------------------------------------------------------------------------------------
# The seed's Oracle objects in the spec shape (SimpleNamespace), for tests
# --------------------------------------------------------------------------------------------------

SEED_ROLE_SYSTEM_PRIVILEGES = [
    "ALTER SESSION",
    "SET CONTAINER",
    "SELECT ANY TRANSACTION",
    "SELECT ANY DICTIONARY",
    "CREATE SESSION",
    "LOGMINING",
    "SELECT ANY TABLE",
]
SEED_ROLE_OBJECT_PRIVILEGES = [
    ("SELECT", "SYSTEM.LOGMNR_COL$"),
    ("SELECT", "SYSTEM.LOGMNR_OBJ$"),
    ("SELECT", "SYSTEM.LOGMNR_USER$"),
    ("SELECT", "SYSTEM.LOGMNR_UID$"),
    ("EXECUTE", "SYS.DBMS_LOGMNR"),
    ("SELECT", "V_$LOGMNR_CONTENTS"),
    ("SELECT", "V_$DATABASE"),
    ("SELECT", "V_$THREAD"),
    ("SELECT", "V_$PARAMETER"),
    ("SELECT", "V_$NLS_PARAMETERS"),
    ("SELECT", "V_$TIMEZONE_NAMES"),
    ("SELECT", "ALL_INDEXES"),
    ("SELECT", "ALL_OBJECTS"),
    ("SELECT", "ALL_USERS"),
    ("SELECT", "ALL_CATALOG"),
    ("SELECT", "ALL_CONSTRAINTS"),
    ("SELECT", "ALL_CONS_COLUMNS"),
    ("SELECT", "ALL_TAB_COLS"),
    ("SELECT", "ALL_IND_COLUMNS"),
    ("SELECT", "ALL_ENCRYPTED_COLUMNS"),
    ("SELECT", "ALL_LOG_GROUPS"),
    ("SELECT", "ALL_TAB_PARTITIONS"),
    ("SELECT", "SYS.DBA_REGISTRY"),
    ("SELECT", "SYS.OBJ$"),
    ("SELECT", "DBA_TABLESPACES"),
    ("SELECT", "DBA_OBJECTS"),
    ("SELECT", "SYS.ENC$"),
    ("SELECT", "V_$ARCHIVED_LOG"),
    ("SELECT", "V_$LOG"),
    ("SELECT", "V_$LOGFILE"),
    ("SELECT", "V_$INSTANCE"),
]


# Every GRANT of the seed recipe, verbatim (case, 'to', 'container=all' as written there), without ';'.
SEED_GRANT_STATEMENTS = """
GRANT EXECUTE_CATALOG_ROLE TO C##CDC_PRIVS
GRANT ALTER SESSION TO C##CDC_PRIVS
GRANT SET CONTAINER TO C##CDC_PRIVS
GRANT SELECT ANY TRANSACTION TO C##CDC_PRIVS
GRANT SELECT ANY DICTIONARY TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_COL$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_OBJ$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_USER$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_UID$ TO C##CDC_PRIVS
GRANT CREATE SESSION TO C##CDC_PRIVS
GRANT EXECUTE ON SYS.DBMS_LOGMNR TO C##CDC_PRIVS
GRANT LOGMINING TO C##CDC_PRIVS
GRANT SELECT ON V_$LOGMNR_CONTENTS TO C##CDC_PRIVS
GRANT SELECT ON V_$DATABASE TO C##CDC_PRIVS
GRANT SELECT ON V_$THREAD TO C##CDC_PRIVS
GRANT SELECT ON V_$PARAMETER TO C##CDC_PRIVS
GRANT SELECT ON V_$NLS_PARAMETERS TO C##CDC_PRIVS
GRANT SELECT ON V_$TIMEZONE_NAMES TO C##CDC_PRIVS
GRANT SELECT ON ALL_INDEXES TO C##CDC_PRIVS
GRANT SELECT ON ALL_OBJECTS TO C##CDC_PRIVS
GRANT SELECT ON ALL_USERS TO C##CDC_PRIVS
GRANT SELECT ON ALL_CATALOG TO C##CDC_PRIVS
GRANT SELECT ON ALL_CONSTRAINTS TO C##CDC_PRIVS
GRANT SELECT ON ALL_CONS_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_TAB_COLS TO C##CDC_PRIVS
GRANT SELECT ON ALL_IND_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_ENCRYPTED_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_LOG_GROUPS TO C##CDC_PRIVS
GRANT SELECT ON ALL_TAB_PARTITIONS TO C##CDC_PRIVS
GRANT SELECT ON SYS.DBA_REGISTRY TO C##CDC_PRIVS
GRANT SELECT ON SYS.OBJ$ TO C##CDC_PRIVS
GRANT SELECT ON DBA_TABLESPACES TO C##CDC_PRIVS
GRANT SELECT ON DBA_OBJECTS TO C##CDC_PRIVS
GRANT SELECT ON SYS.ENC$ TO C##CDC_PRIVS
GRANT SELECT ON V_$ARCHIVED_LOG TO C##CDC_PRIVS
GRANT SELECT ON V_$LOG TO C##CDC_PRIVS
GRANT SELECT ON V_$LOGFILE TO C##CDC_PRIVS
GRANT SELECT ON V_$INSTANCE to C##CDC_PRIVS
GRANT SELECT ANY TABLE TO C##CDC_PRIVS
GRANT C##CDC_PRIVS to C##MYUSER CONTAINER=ALL
GRANT CONNECT TO C##MYUSER CONTAINER=ALL
GRANT CREATE TABLE TO C##MYUSER CONTAINER=ALL
GRANT CREATE SEQUENCE TO C##MYUSER CONTAINER=ALL
GRANT CREATE TRIGGER TO C##MYUSER CONTAINER=ALL
GRANT SELECT ON GV_$ARCHIVED_LOG TO C##MYUSER CONTAINER=ALL
GRANT SELECT ON GV_$DATABASE TO C##MYUSER CONTAINER=ALL
GRANT FLASHBACK ANY TABLE TO C##MYUSER
GRANT FLASHBACK ANY TABLE TO C##MYUSER container=all
GRANT SELECT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS
GRANT SELECT ON C##MYUSER.POC_CLICKSTREAM TO C##CDC_PRIVS
"""


def seed_oracle_spec() -> SimpleNamespace:
    """spec.oracle of the seed recipe (C##CDC_PRIVS, C##MYUSER, POC_USERDATA, POC_CLICKSTREAM)."""
    ns = SimpleNamespace
    v50 = "VARCHAR2(50)"
    role = ns(
        name="C##CDC_PRIVS",
        system_privileges=list(SEED_ROLE_SYSTEM_PRIVILEGES),
        object_privileges=[ns(privilege=p, object=o) for p, o in SEED_ROLE_OBJECT_PRIVILEGES],
        granted_roles=["EXECUTE_CATALOG_ROLE"],
    )
    user = ns(
        name="C##MYUSER",
        default_tablespace="USERS",
        quota="UNLIMITED",
        container_all=True,
        roles=[ns(name="C##CDC_PRIVS", container_all=True), ns(name="CONNECT", container_all=True)],
        system_privileges=[
            ns(privilege="CREATE TABLE", container_all=True),
            ns(privilege="CREATE SEQUENCE", container_all=True),
            ns(privilege="CREATE TRIGGER", container_all=True),
            ns(privilege="FLASHBACK ANY TABLE", container_all=False),
            ns(privilege="FLASHBACK ANY TABLE", container_all=True),
        ],
        object_privileges=[
            ns(privilege="SELECT", object="GV_$ARCHIVED_LOG", container_all=True),
            ns(privilege="SELECT", object="GV_$DATABASE", container_all=True),
        ],
    )
    userdata = ns(
        name="POC_USERDATA",
        columns=[ns(name="ID", type=v50, primary_key=True), ns(name="NAME", type=v50, primary_key=False)],
        initial_rows=[{"ID": "101", "NAME": "jdoe"}],
    )
    clickstream = ns(
        name="POC_CLICKSTREAM",
        columns=[
            ns(name="EVENTID", type=v50, primary_key=True),
            ns(name="ID", type=v50, primary_key=False),
            ns(name="NAME", type=v50, primary_key=False),
            ns(name="SESSIONID", type=v50, primary_key=False),
            ns(name="EVENTTYPE", type=v50, primary_key=False),
            ns(name="PAGEURL", type="VARCHAR2(255)", primary_key=False),
            ns(name="EVENTTIMESTAMP", type="TIMESTAMP", primary_key=False),
        ],
        initial_rows=[
            {
                "EVENTID": 1,
                "ID": "101",
                "NAME": "jdoe",
                "SESSIONID": "sess456",
                "EVENTTYPE": "page_view",
                "PAGEURL": "https://example.com/home",
                "EVENTTIMESTAMP": "CURRENT_TIMESTAMP",
            },
        ],
    )
    return ns(role=role, user=user, tables=[userdata, clickstream])


# --------------------------------------------------------------------------------------------------
# pytest plugin
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def oracle_db() -> Iterator[FakeOracleDatabase]:
    """A fresh CDB root: ARCHIVELOG, minimal supplemental logging off, no CDC objects; SYS password
    TEST_ADMIN_PASSWORD. Registered for DoubleOracleResource as `oracle_db.key`."""
    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD)
    key = register_database(db)
    db.key = key  # type: ignore[attr-defined]
    yield db
    unregister_database(key)


@pytest.fixture
def oracle_resource(oracle_db: FakeOracleDatabase) -> DoubleOracleResource:
    """DoubleOracleResource for C##MYUSER (TEST_USER_PASSWORD) with SYS AS SYSDBA as admin."""
    return double_resource(oracle_db, oracle_db.key)  # type: ignore[attr-defined]


@pytest.fixture(name="oracle_seed_spec")
def _oracle_seed_spec() -> SimpleNamespace:
    """seed_oracle_spec() as a fixture."""
    return seed_oracle_spec()


@pytest.fixture
def provisioned_oracle(oracle_db: FakeOracleDatabase, oracle_resource: DoubleOracleResource) -> FakeOracleDatabase:
    """oracle_db after a provisioning run of the seed spec (the "good catalog")."""
    from pipeline_defs.systems.oracle import catalog, plan

    spec = seed_oracle_spec()
    with oracle_resource.admin_client() as admin:
        state = catalog.read_catalog(spec, admin.query)
        admin.apply(plan.plan(spec, state, user_password=oracle_resource.password))
    return oracle_db
