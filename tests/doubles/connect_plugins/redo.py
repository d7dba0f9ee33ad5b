"""The writer side of the Oracle CDC source double's "database": `<dir>/redo.jsonl`.

The Java double (io.confluent.connect.oracle.cdc.OracleCdcSourceConnector, built by build.py) reads
the directory named by the Connect worker's CDC_ORACLE_DOUBLE_DIR. Whoever plays Oracle -- the Python
Oracle double, or a test directly -- appends one JSON line per *committed* change:

    {"scn": 1732412345001, "op": "I", "owner": "C##MYUSER", "table": "POC_CLICKSTREAM",
     "database": "ORCLCDB", "ts_ms": 1732412345000,
     "row": {"EVENTID": "1", "NAME": "jdoe", "EVENTTIMESTAMP": "2024-11-24T01:02:03.456"},
     "pk": ["EVENTID"], "types": {"EVENTID": "VARCHAR2(50)", "EVENTTIMESTAMP": "TIMESTAMP(6)"}}

op: I | U | D | T (truncate). For U the row is the full after image, for D the deleted row (at least
its key). Optional: "row_id", "username" (default: owner), "commit_scn", "xid", "before" (an update's
before image), "minable" (default true; false: committed but not returned by LogMiner -- ARCHIVELOG or
supplemental logging was off -- so never streamed, only seen by a snapshot; "unminable" says why). Values: JSON scalars; TIMESTAMP/DATE as epoch millis or ISO-8601 text (naive = UTC);
NUMBER as a number or numeric text; RAW as base64.

Rules the reader relies on: append only (never rewrite or truncate the file); one line per change,
newline-terminated (a line without its newline yet is not read); SCNs strictly increasing in file
order *across sessions* -- connectors keep their offsets in Kafka, so an SCN that goes back would be
skipped after a task restart. `RedoLog.append` enforces all three (exclusive flock, SCN = max(last
SCN in the file + 1, current epoch millis)).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import fcntl
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ENV = "CDC_ORACLE_DOUBLE_DIR"
REDO_FILE = "redo.jsonl"

SEED_DATABASE = "ORCLCDB"
SEED_OWNER = "C##MYUSER"
# the seed's tables (shared/seed: CREATE TABLE C##MYUSER.POC_USERDATA / POC_CLICKSTREAM)
SEED_TYPES: dict[str, dict[str, str]] = {
    "POC_USERDATA": {"ID": "VARCHAR2(50)", "NAME": "VARCHAR2(50)"},
    "POC_CLICKSTREAM": {
        "EVENTID": "VARCHAR2(50)",
        "ID": "VARCHAR2(50)",
        "NAME": "VARCHAR2(50)",
        "SESSIONID": "VARCHAR2(50)",
        "EVENTTYPE": "VARCHAR2(50)",
        "PAGEURL": "VARCHAR2(255)",
        "EVENTTIMESTAMP": "TIMESTAMP(6)",
    },
}
SEED_PK: dict[str, list[str]] = {"POC_USERDATA": ["ID"], "POC_CLICKSTREAM": ["EVENTID"]}


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    raise TypeError(f"cannot write {type(v).__name__} to the redo log")


class RedoLog:
    """Append committed changes to `<directory>/redo.jsonl`."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.path = self.directory / REDO_FILE

    @staticmethod
    def _last_scn(f) -> int:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return 0
        f.seek(max(0, size - 65536))
        for line in reversed(f.read().splitlines()):
            try:
                return int(json.loads(line)["scn"])
            except (ValueError, KeyError, TypeError):
                continue
        return 0

    def last_scn(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            return self._last_scn(f)

    def append(self, changes: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append one transaction's changes (dicts in the line format; "scn" may be left out and is then
        assigned). Returns the SCNs written."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            scn = max(self._last_scn(f) + 1, int(time.time() * 1000))
            lines = []
            for ch in changes:
                line = dict(ch)
                if line.get("scn") is None:
                    line["scn"] = scn
                elif int(line["scn"]) < scn:
                    raise ValueError(f"SCN {line['scn']} is not above the log's last SCN {scn - 1}")
                scn = int(line["scn"]) + 1
                line.setdefault("ts_ms", int(time.time() * 1000))
                lines.append(line)
            scns = [int(line["scn"]) for line in lines]
            for line in lines:
                line.setdefault("commit_scn", scns[-1])
            text = "".join(json.dumps(line, default=_json_default, separators=(",", ":")) + "\n" for line in lines)
            f.seek(0, os.SEEK_END)
            f.write(text.encode())
            f.flush()
            os.fsync(f.fileno())
        return scns

    @staticmethod
    def change(
        op: str,
        table: str,
        row: Mapping[str, Any],
        *,
        owner: str = SEED_OWNER,
        database: str = SEED_DATABASE,
        pk: Sequence[str] | None = None,
        types: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """One change line; pk/types default to the seed's definition of `table` when it is a seed table."""
        line: dict[str, Any] = {"op": op, "owner": owner, "table": table, "database": database, "row": dict(row)}
        seed_name = next((s for s in SEED_TYPES if table == s or table.startswith(s + "_")), table)
        line["pk"] = list(pk) if pk is not None else list(SEED_PK.get(seed_name, []))
        line["types"] = dict(types) if types is not None else dict(SEED_TYPES.get(seed_name, {}))
        line.update(extra)
        return line

    def insert(self, table: str, row: Mapping[str, Any], **kw: Any) -> int:
        return self.append([self.change("I", table, row, **kw)])[0]

    def update(self, table: str, row: Mapping[str, Any], **kw: Any) -> int:
        return self.append([self.change("U", table, row, **kw)])[0]

    def delete(self, table: str, row: Mapping[str, Any], **kw: Any) -> int:
        return self.append([self.change("D", table, row, **kw)])[0]
