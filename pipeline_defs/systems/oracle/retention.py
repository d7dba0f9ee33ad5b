"""The Oracle log-retention horizon guard, pure: where each CDC connector resumes (its committed
offset SCN, read from Connect's ``GET /connectors/<name>/offsets``) against the oldest SCN from which
the database still holds an unbroken chain of redo (archived logs not deleted, plus the online logs).

A LogMiner-based connector restarts by mining from its offset SCN; when the log holding that SCN was
deleted (RMAN ``DELETE ARCHIVELOG``, a retention policy, a full FRA) the restart fails (ORA-01291
"missing logfile" under LogMiner) and only a new snapshot recovers. So: ERROR once the resume point is
older than the horizon, WARN while it is within the spec's margin of it.

Offset shapes (``{"partition": {...}, "offset": {...}}`` entries):
* Debezium Oracle (LogMiner): partition ``{"server": <topic.prefix>}``; offset ``"scn"`` is a decimal
  string, the exclusive lower bound where mining resumes (before the oldest transaction still open),
  with ``"commit_scn"`` (``"<scn>:<thread>:<txids>"`` per redo thread), and during/just after the snapshot
  ``"snapshot_scn"``, where the first streaming run rewinds to
  (debezium/debezium ``OracleOffsetContext.getOffset`` and ``CommitScn.store``).
* Confluent Oracle CDC: closed source, and no public document shows its offset; what this reads is
  what the contract double writes (partition ``{"database": <pdb or sid>}``, offset ``{"scn": n, ...}``).
  Its redo-log records carry a ``SAFE_RESUME_SCN`` column, so the real offset may name its position
  differently: every key ending in ``scn`` with an integer (or decimal string) value counts, and the
  lowest wins (the conservative reading).
The resume SCN of a connector is the lowest of those over its partitions that name the spec's
database (``source.database`` is both flavors' SID / topic prefix here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ARCHIVED_LOGS_SQL = (
    "SELECT THREAD#, SEQUENCE#, FIRST_CHANGE#, NEXT_CHANGE#, RESETLOGS_CHANGE# FROM V$ARCHIVED_LOG WHERE DELETED = 'NO' AND STATUS = 'A'"
)
ONLINE_LOGS_SQL = "SELECT THREAD#, SEQUENCE#, FIRST_CHANGE#, STATUS FROM V$LOG"
CURRENT_SCN_SQL = "SELECT CURRENT_SCN, RESETLOGS_CHANGE# FROM V$DATABASE"

# offset keys that hold an SCN: the lowest integer among them is where mining may have to restart
# (Debezium's commit_scn, "<scn>:<thread>:<txids>", is never below its scn and is no integer anyway)
_SCN_KEY = re.compile(r"(^|_)scn$", re.I)

CheckResult = tuple[bool, dict[str, Any]]


def _as_scn(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# partition keys naming the database a position belongs to (Confluent double: database; Debezium: server)
_PARTITION_DB_KEYS = ("database", "server")


def belongs_to(entry: Mapping[str, Any], database: str | None) -> bool:
    """Whether an offset entry is this database's: Connect keeps the offsets of a connector name
    after the connector is deleted, so one re-created against another database (or SID / topic
    prefix) still lists the old partition, which it never resumes from."""
    part = entry.get("partition") or {}
    if database is None or not isinstance(part, Mapping):
        return True
    named = [str(part[k]) for k in _PARTITION_DB_KEYS if k in part]
    return not named or any(n.upper() == database.upper() for n in named)


def resume_scn(offsets: Iterable[Mapping[str, Any]], database: str | None = None) -> int | None:
    """The lowest SCN a connector would mine from on restart (over the partitions of `database`),
    or None when it has no SCN offset yet."""
    found = []
    for entry in offsets:
        if not belongs_to(entry, database):
            continue
        off = entry.get("offset") or {}
        if not isinstance(off, Mapping):
            continue
        for k, v in off.items():
            scn = _as_scn(v) if _SCN_KEY.search(str(k)) else None
            if scn is not None:
                found.append(scn)
    return min(found) if found else None


@dataclass(frozen=True)
class LogFile:
    thread: int
    sequence: int
    first_change: int
    online: bool


@dataclass(frozen=True)
class Horizon:
    """The oldest SCN with an unbroken chain of logs up to the current one (None: no log known), and
    the logs that chain holds."""

    scn: int | None
    logs: int
    gap: str | None = None  # a missing sequence that cut the chain, for the metadata


def log_files(
    archived: Sequence[Mapping[str, Any]], online: Sequence[Mapping[str, Any]], resetlogs_change: int | None = None
) -> list[LogFile]:
    """V$ARCHIVED_LOG rows (already filtered to DELETED='NO', STATUS='A') and V$LOG rows -> log files.
    Archived logs of an earlier incarnation (another RESETLOGS_CHANGE# than V$DATABASE's: sequences
    restart at 1 after OPEN RESETLOGS) cannot be mined into this one; an online log that was never used
    (STATUS UNUSED) holds nothing."""
    out = [
        LogFile(int(r["THREAD#"]), int(r["SEQUENCE#"]), int(r["FIRST_CHANGE#"]), False)
        for r in archived
        if resetlogs_change is None or r.get("RESETLOGS_CHANGE#") is None or int(r["RESETLOGS_CHANGE#"]) == resetlogs_change
    ]
    out += [
        LogFile(int(r["THREAD#"]), int(r["SEQUENCE#"]), int(r["FIRST_CHANGE#"]), True)
        for r in online
        if str(r.get("STATUS", "")).upper() != "UNUSED" and r.get("FIRST_CHANGE#") is not None
    ]
    return out


def horizon(logs: Sequence[LogFile]) -> Horizon:
    """Per redo thread, walk back from the newest sequence while the previous one still exists; the
    chain's first change is where mining can still start. With several threads (RAC) every thread must
    cover the SCN: the latest of the threads' starts."""
    by_thread: dict[int, dict[int, int]] = {}
    for lf in logs:
        seqs = by_thread.setdefault(lf.thread, {})
        seqs[lf.sequence] = min(lf.first_change, seqs.get(lf.sequence, lf.first_change))
    if not by_thread:
        return Horizon(None, 0)
    starts, count, gaps = [], 0, []
    for thread, seqs in sorted(by_thread.items()):
        seq = max(seqs)
        while seq - 1 in seqs:
            seq -= 1
        starts.append(seqs[seq])
        count += max(seqs) - seq + 1
        if min(seqs) < seq:
            gaps.append(f"thread {thread} sequence {seq - 1} is gone (older sequences from {min(seqs)} remain but cannot be chained)")
    return Horizon(max(starts), count, "; ".join(gaps) or None)


def judge(connectors: Mapping[str, int | None], hz: Horizon, current_scn: int | None, warn_margin_scn: int, fix: str) -> CheckResult:
    """OK / WARN / ERROR over every connector's resume SCN (``metadata["severity"]``).

    A connector resumes at the SCN after its offset, so it needs redo from ``offset + 1``: ERROR when
    that is older than the horizon; WARN when it is less than ``warn_margin_scn`` ahead of it, or when
    the offset is beyond CURRENT_SCN (offsets of another database, or one restored to an earlier
    point). No offset yet: nothing to judge, noted."""
    order = {"OK": 0, "WARN": 1, "ERROR": 2}
    worst, parts, rows = "OK", [], []
    for name, scn in sorted(connectors.items()):
        row: dict[str, Any] = {"connector": name, "offset_scn": scn}
        if scn is None:
            row["severity"], row["note"] = "OK", "no committed offset yet (the connector has not streamed a change)"
        elif hz.scn is None:
            row["severity"], row["note"] = "OK", "the database lists no redo log: nothing to compare with"
        else:
            need = scn + 1
            row["scn_ahead_of_horizon"] = need - hz.scn
            if current_scn is not None:
                row["scn_behind_current"] = current_scn - scn
            if need < hz.scn:
                row["severity"] = "ERROR"
                parts.append(
                    f"{name} resumes at SCN {need}, but the oldest redo still available starts at SCN {hz.scn}: "
                    f"a restart would fail for lack of logs ({fix})"
                )
            elif current_scn is not None and scn > current_scn:
                row["severity"] = "WARN"
                parts.append(
                    f"{name}'s offset SCN {scn} is beyond the database's CURRENT_SCN {current_scn}: offsets of another or a restored database?"
                )
            elif need - hz.scn < warn_margin_scn:
                row["severity"] = "WARN"
                parts.append(
                    f"{name} resumes at SCN {need}, only {need - hz.scn} SCNs after the oldest available redo "
                    f"(SCN {hz.scn}; warning margin {warn_margin_scn}): the next log purge would strand it"
                )
            else:
                row["severity"] = "OK"
        rows.append(row)
        worst = max(worst, row["severity"], key=order.__getitem__)
    md: dict[str, Any] = {
        "severity": worst,
        "horizon_scn": hz.scn,
        "logs_available": hz.logs,
        "current_scn": current_scn,
        "warn_margin_scn": warn_margin_scn,
        "connectors": rows,
    }
    if hz.gap:
        md["gap"] = hz.gap
    if parts:
        md["problem"] = "; ".join(parts)
    return worst == "OK", md
