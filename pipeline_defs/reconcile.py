"""Is the data in Redis right? A pure comparison of the sink's aggregate documents with Oracle's rows.

What a Redis key holds: `USER_AGGREGATE_EVENTS:<NAME>` is the COUNT of the *latest* 1-minute
window ksqlDB emitted for that NAME (each new window overwrites the key), with the window's start
and end in the document. So for every key the right answer is: the number of Oracle rows for that
NAME whose event time falls in [window start, window end), and that window should be the newest one
Oracle has events in for that NAME (otherwise the pipeline is behind).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AggregateShape:
    """Where the parts of a document live: derived from the spec, never hard-coded at call sites."""

    key_prefix: str  # "USER_AGGREGATE_EVENTS:"
    name_field: str  # "USER_NAME"
    count_field: str  # "EVENT_COUNT"
    window_start_field: str  # "WINDOW_START"
    window_end_field: str  # "WINDOW_END"
    window_ms: int  # 60000


@dataclass(frozen=True)
class Mismatch:
    name: str
    problem: str  # count | behind | missing_in_redis | not_in_oracle | unreadable_key | malformed
    key: str = ""
    window_start: int | None = None
    window_end: int | None = None
    redis_count: int | None = None
    oracle_count: int | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "name": self.name, "problem": self.problem, "key": self.key,
            "window_start": _iso(self.window_start), "window_end": _iso(self.window_end),
            "redis_count": self.redis_count, "oracle_count": self.oracle_count,
        }


@dataclass
class ReconcileReport:
    keys_checked: int = 0
    matched: int = 0
    redis_events: int = 0
    oracle_events: int = 0
    newest_window_end: int | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches


_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=dt.timezone.utc)
_MS = dt.timedelta(milliseconds=1)


def to_epoch_ms(value: Any) -> int:
    """Oracle TIMESTAMP (naive, taken as UTC as the CDC connector emits it), aware datetime, or ms."""
    if isinstance(value, dt.datetime):
        # timedelta floor-division: exact, and several times faster than datetime.timestamp()
        return (value - (_EPOCH if value.tzinfo is None else _EPOCH_UTC)) // _MS
    return int(value)


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")



def count_windows(oracle_events: Iterable[tuple[str, Any]], window_ms: int) -> dict[tuple[str, int], int]:
    """(NAME, event time) rows -> {(NAME, window start ms): rows}."""
    counts: dict[tuple[str, int], int] = {}
    for name, ts in oracle_events:
        ms = ts if type(ts) is int else to_epoch_ms(ts)
        k = (name, ms - ms % window_ms)
        counts[k] = counts.get(k, 0) + 1
    return counts


def reconcile(
    redis_docs: Mapping[str, Any],
    oracle_events: Iterable[tuple[str, Any]] | None,
    shape: AggregateShape,
    *,
    oracle_counts: Mapping[tuple[str, int], int] | None = None,
) -> ReconcileReport:
    """Compare every Redis aggregate with the Oracle rows of the same NAME and window.

    Oracle's side is either `oracle_events`, (NAME, event time) rows, or `oracle_counts`, rows
    already counted per (NAME, window start ms) (Oracle can GROUP BY, sparing the transfer). Either
    must cover every window since the oldest one in Redis plus each NAME's newest window, so a NAME
    missing from Redis and a stale window are seen.
    """
    w = shape.window_ms
    counts = oracle_counts if oracle_counts is not None else count_windows(oracle_events or (), w)
    newest: dict[str, int] = {}
    for name, start in counts:
        if newest.get(name, -1) < start:
            newest[name] = start
    total_oracle = sum(counts.values())

    report = ReconcileReport(oracle_events=total_oracle)
    mismatches = report.mismatches
    seen: set[str] = set()
    prefix = shape.key_prefix
    plen = len(prefix)
    nf, cf, sf, ef = shape.name_field, shape.count_field, shape.window_start_field, shape.window_end_field
    matched = redis_events = 0
    newest_end = None
    # the hot loop over every document: plain dict access, no ABC isinstance, locals only
    for key, doc in redis_docs.items():
        key_name = key[plen:] if key.startswith(prefix) else key
        if not (key_name and key_name.isprintable()):
            esc = key_name.encode("unicode_escape").decode()
            mismatches.append(Mismatch(esc, "unreadable_key", key=key.encode("unicode_escape").decode()))
            continue
        if type(doc) is not dict and not isinstance(doc, Mapping):
            mismatches.append(Mismatch(key_name, "malformed", key=key))
            continue
        try:
            start, end, got = int(doc[sf]), int(doc[ef]), int(doc[cf])
        except (KeyError, TypeError, ValueError):
            mismatches.append(Mismatch(key_name, "malformed", key=key))
            continue
        name = doc.get(nf, key_name)
        if type(name) is not str:
            name = str(name)
        seen.add(name)
        redis_events += got
        if newest_end is None or end > newest_end:
            newest_end = end
        latest = newest.get(name)
        if latest is None:
            mismatches.append(Mismatch(name, "not_in_oracle", key, start, end, got, 0))
            continue
        if end - start == w:
            expected = counts.get((name, start), 0)
        else:  # a document spanning several windows (a spec with another window size)
            expected = sum(counts.get((name, s), 0) for s in range(start - start % w, end, w))
        if got != expected:
            mismatches.append(Mismatch(name, "count", key, start, end, got, expected))
        elif latest >= end:
            mismatches.append(Mismatch(name, "behind", key, latest, latest + w, got, counts[(name, latest)]))
        else:
            matched += 1
    report.keys_checked = len(redis_docs)
    report.matched, report.redis_events, report.newest_window_end = matched, redis_events, newest_end
    for name in sorted(set(newest) - seen):
        latest = newest[name]
        mismatches.append(Mismatch(name, "missing_in_redis", f"{shape.key_prefix}{name}", latest, latest + w,
                                   None, counts[(name, latest)]))
    mismatches.sort(key=lambda m: (m.problem != "unreadable_key", m.name))
    return report


def freshness_lag_ms(report: ReconcileReport, now_ms: int) -> int | None:
    """How long ago the newest window in Redis closed; None when Redis holds no window at all."""
    if report.newest_window_end is None:
        return None
    return max(0, now_ms - report.newest_window_end)
