"""The Oracle double's SCNs and redo feed: what a commit writes for the Connect CDC source double.

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
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import decimal
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.doubles.oracle_catalog import Table


@dataclass
class RowChange:
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


class RedoFeed:
    """FakeOracleDatabase's clock, SCNs and redo feed (a mixin: the state is set by its __init__)."""

    clock: Callable[[], float]
    redo_dir: Path | None
    redo_database: str
    redo_lines_written: int
    redo_lines_unminable: int
    log_mode: str
    supplemental_log_data_min: str
    supplemental_log_data_all: str
    _redo_lock: threading.Lock
    _scn: int
    _xid: Any

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

    def _commit(self, user: str, changes: list[RowChange]) -> None:
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

    def _redo_text(self, user: str, changes: list[RowChange], first: int, commit_scn: int) -> str:
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
