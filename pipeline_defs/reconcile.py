"""Is the data in Redis right? A pure comparison of the sink's aggregate documents with Oracle's rows.

What a Redis key holds: `USER_AGGREGATE_EVENTS:<NAME>` is the COUNT of the *latest* 1-minute
window ksqlDB emitted for that NAME (each new window overwrites the key), with the window's start
and end in the document. So for every key the right answer is: the number of Oracle rows for that
NAME whose event time falls in [window start, window end), and that window should be the newest one
Oracle has events in for that NAME (otherwise the pipeline is behind).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
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


def to_epoch_ms(value: Any) -> int:
    """Oracle TIMESTAMP (naive, taken as UTC as the CDC connector emits it), aware datetime, or ms."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return int(value)


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _readable(name: str) -> bool:
    # a windowed key that was not re-keyed carries 8 raw bytes of window start: control characters
    return bool(name) and all(ch.isprintable() for ch in name)


def reconcile(
    redis_docs: Mapping[str, Any],
    oracle_events: Iterable[tuple[str, Any]],
    shape: AggregateShape,
) -> ReconcileReport:
    """Compare every Redis aggregate with the Oracle rows of the same NAME and window.

    `oracle_events` are (NAME, event time) pairs: every row since the oldest window in Redis, plus
    at least each NAME's newest row (so a NAME missing from Redis and a stale window are seen).
    """
    w = shape.window_ms
    counts: dict[str, Counter] = defaultdict(Counter)  # name -> window_start -> rows
    newest: dict[str, int] = {}
    total_oracle = 0
    for name, ts in oracle_events:
        ms = to_epoch_ms(ts)
        start = ms - (ms % w)
        counts[name][start] += 1
        newest[name] = max(newest.get(name, start), start)
        total_oracle += 1

    report = ReconcileReport(oracle_events=total_oracle)
    seen: set[str] = set()
    for key in sorted(redis_docs):
        doc = redis_docs[key]
        report.keys_checked += 1
        key_name = key[len(shape.key_prefix):] if key.startswith(shape.key_prefix) else key
        if not _readable(key_name):
            report.mismatches.append(Mismatch(key_name.encode("unicode_escape").decode(), "unreadable_key", key=key.encode("unicode_escape").decode()))
            continue
        if not isinstance(doc, Mapping):
            report.mismatches.append(Mismatch(key_name, "malformed", key=key))
            continue
        try:
            start = int(doc[shape.window_start_field])
            end = int(doc[shape.window_end_field])
            got = int(doc[shape.count_field])
        except (KeyError, TypeError, ValueError):
            report.mismatches.append(Mismatch(key_name, "malformed", key=key))
            continue
        name = str(doc.get(shape.name_field, key_name))
        seen.add(name)
        report.redis_events += got
        report.newest_window_end = max(report.newest_window_end or end, end)
        if name not in counts:
            report.mismatches.append(Mismatch(name, "not_in_oracle", key, start, end, got, 0))
            continue
        expected = sum(n for s, n in counts[name].items() if start <= s < end)
        if got != expected:
            report.mismatches.append(Mismatch(name, "count", key, start, end, got, expected))
        elif newest[name] >= end:
            latest = newest[name]
            report.mismatches.append(Mismatch(name, "behind", key, latest, latest + w, got, counts[name][latest]))
        else:
            report.matched += 1
    for name in sorted(set(counts) - seen):
        latest = newest[name]
        report.mismatches.append(Mismatch(name, "missing_in_redis", f"{shape.key_prefix}{name}", latest, latest + w,
                                          None, counts[name][latest]))
    return report


def freshness_lag_ms(report: ReconcileReport, now_ms: int) -> int | None:
    """How long ago the newest window in Redis closed; None when Redis holds no window at all."""
    if report.newest_window_end is None:
        return None
    return max(0, now_ms - report.newest_window_end)
