"""The Oracle double's redo log files: the online logs (V$LOG), log switches that archive them
(V$ARCHIVED_LOG) and RMAN's deletion of archived logs, which moves the oldest SCN mining can start
from. A mixin of FakeOracleDatabase, kept apart from the redo feed (tests/doubles/oracle_redo.py), which
says what each commit writes: this module models the files that hold it, as the archived-log retention
code reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any


class RedoLogFiles:
    """Log switches, archived-log purges and V$LOG rows (a mixin: the state is set by
    FakeOracleDatabase.__init__; current_scn and now() come from RedoFeed)."""

    redo_dir: Path | None
    redo_database: str
    online_log_groups: int
    archived_logs: list[dict[str, Any]]
    _redo_lock: threading.Lock
    _scn: int
    _log_sequence: int
    _log_first_change: int
    _log_first_time: dt.datetime

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
