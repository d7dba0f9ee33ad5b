"""Is the data in Redis right? A pure comparison of the sink's aggregate documents with the
source database's rows, whatever the database.

What a Redis key holds: `USER_AGGREGATE_EVENTS:<NAME>` is the COUNT of the *latest* 1-minute
window the engine emitted for that NAME, with the window's start and end in the document. So for
every key the right answer is: the key is exactly keyspace + separator + NAME of its document; the
window is one whole window of the spec's size; the count is the number of source rows for that
NAME whose event time falls in [window start, window end); that window is the newest one the source
has rows in for that NAME (otherwise the pipeline is behind); and the source has rows for that NAME
at all. Every NAME with rows has a key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    problem: str  # count | behind | missing_in_redis | not_in_source | wrong_key | bad_window | unreadable_key | malformed
    key: str = ""
    window_start: int | None = None
    window_end: int | None = None
    redis_count: int | None = None
    source_count: int | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "problem": self.problem,
            "key": self.key,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "redis_count": self.redis_count,
            "source_count": self.source_count,
        }


@dataclass
class CompareReport:
    keys_checked: int = 0
    matched: int = 0
    redis_events: int = 0
    source_events: int = 0
    newest_window_end: int | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches


_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
_UNSEEN: Any = object()  # index.get default: a NAME the source has no rows for


def to_epoch_ms(value: Any) -> int:
    """A database TIMESTAMP (naive, taken as UTC as the CDC connectors emit it), aware datetime, or ms."""
    if isinstance(value, dt.datetime):
        # timedelta floor-division: exact, and several times faster than datetime.timestamp()
        return (value - (_EPOCH if value.tzinfo is None else _EPOCH_UTC)) // _MS
    return int(value)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (restored after, if it was on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def count_windows(source_events: Iterable[tuple[str, Any]], window_ms: int) -> dict[tuple[str, int], int]:
    """(NAME, event time) rows -> {(NAME, window start ms): rows}."""
    counts: dict[tuple[str, int], int] = {}
    for name, ts in source_events:
        ms = ts if type(ts) is int else to_epoch_ms(ts)
        k = (name, ms - ms % window_ms)
        counts[k] = counts.get(k, 0) + 1
    return counts


def compare_with_source(
    redis_docs: Mapping[str, Any] | Iterable[tuple[str, Any]],
    source_events: Iterable[tuple[str, Any]] | None,
    shape: AggregateShape,
    *,
    source_counts: Mapping[tuple[str, int], int] | None = None,
    floor_counts: Mapping[tuple[str, int], int] | None = None,
) -> CompareReport:
    """Compare every Redis aggregate with the source rows of the same NAME and window.

    The source's side is either `source_events`, (NAME, event time) rows, or `source_counts`, rows
    already counted per (NAME, window start ms) (the database can GROUP BY, sparing the transfer). Either
    must cover every window since the oldest one in Redis plus each NAME's newest window, so a NAME
    missing from Redis and a stale window are seen.

    `floor_counts`: the source's counts read BEFORE Redis was (a settle period earlier), the source side read
    after it. Rows committed in between may or may not have reached Redis yet, so a count is right when it lies
    between the two (below the floor: rows lost; above the source: rows counted twice), a NAME is missing or
    behind only by the floor's newest window, and unknown only to the later read. None: the source side alone
    (a count must equal it).

    `redis_docs` is a mapping or an iterable of (key, document) pairs, e.g. RedisJsonClient.iter_prefix: each
    document is compared as it arrives and dropped, so a streamed read never holds the keyspace (but the source
    side must then reach back to the oldest window in Redis before the read: see compare_streamed).
    """
    w = shape.window_ms
    counts = source_counts if source_counts is not None else count_windows(source_events or (), w)
    index, total_source = _newest_index(counts)
    report = CompareReport(source_events=total_source)
    floor_newest = _newest_starts(floor_counts)
    _judge(redis_docs, counts, index, shape, floor_counts, floor_newest, report, None)
    return _finish(report, index, floor_newest, shape)


def compare_streamed(
    redis_docs: Mapping[str, Any] | Iterable[tuple[str, Any]],
    shape: AggregateShape,
    newest_counts: Mapping[tuple[str, int], int],
    later_counts: Callable[[int | None], Mapping[tuple[str, int], int]],
    *,
    floor_counts: Mapping[tuple[str, int], int] | None = None,
) -> tuple[CompareReport, dict[tuple[str, int], int]]:
    """compare_with_source over ONE streamed read of Redis, holding only the NAMEs' newest windows and the
    documents that differ from them: the source is asked first for each NAME's newest window (`newest_counts`,
    read BEFORE Redis), a document holding exactly that window and count (within the floor in a settle pass) is
    judged as it streams by and dropped, and every other one is kept (cut to the shape's four fields) for later:
    an older window, a NAME the source did not have yet, a count that differs, or a window newer than the
    source's newest (a row committed between that query and the read). After the stream, only if anything was
    kept, `later_counts(oldest kept window start)` (read AFTER Redis, as compare_with_source expects: every window
    since then plus each NAME's newest) judges the kept documents and the NAMEs missing from Redis, exactly as
    compare_with_source would have (nothing kept: the NAMEs missing are those of the first read). A match against
    the earlier read stays a match against the later one: a NAME's newest window only gains rows. Returns the
    report and the source counts used (the newest ones updated by the later read), which a settle pass takes as
    its floor; `source_events` is their total (the rows of the windows compared, not of the whole table).
    """
    index, total_source = _newest_index(newest_counts)
    report = CompareReport(source_events=total_source)
    floor_newest = _newest_starts(floor_counts)
    deferred: list[tuple[str, Any]] = []
    _judge(redis_docs, newest_counts, index, shape, floor_counts, floor_newest, report, deferred)
    if not deferred:
        return _finish(report, index, floor_newest, shape), dict(newest_counts) if type(newest_counts) is not dict else newest_counts
    sf = shape.window_start_field
    later = later_counts(min(doc[sf] for _, doc in deferred))
    index2, _ = _newest_index(later)
    for name, entry in index.items():  # NAMEs already judged in the stream are seen
        if entry is None:
            index2[name] = None
    del index
    _judge(deferred, later, index2, shape, floor_counts, floor_newest, report, None)
    del deferred
    # the counts to return: the later read, plus the older newest windows it did not reach back to
    counts = dict(later) if type(later) is not dict else later
    for k, c in newest_counts.items():
        counts.setdefault(k, c)
    report.source_events = sum(counts.values())
    return _finish(report, index2, floor_newest, shape), counts


def _newest_index(counts: Mapping[tuple[str, int], int]) -> tuple[dict[str, tuple[int, int] | None], int]:
    """Per NAME: (newest window start, its count), and the total of all counts."""
    index: dict[str, tuple[int, int] | None] = {}
    get = index.get
    total = 0
    for k, c in counts.items():
        total += c
        cur = get(k[0])
        if cur is None or cur[0] < k[1]:
            index[k[0]] = (k[1], c)
    return index, total


def _newest_starts(floor_counts: Mapping[tuple[str, int], int] | None) -> dict[str, int] | None:
    if floor_counts is None:
        return None
    newest: dict[str, int] = {}
    for name, start in floor_counts:
        if newest.get(name, -1) < start:
            newest[name] = start
    return newest


def _judge(
    redis_docs: Mapping[str, Any] | Iterable[tuple[str, Any]],
    counts: Mapping[tuple[str, int], int],
    index: dict[str, Any],
    shape: AggregateShape,
    floor_counts: Mapping[tuple[str, int], int] | None,
    floor_newest: dict[str, int] | None,
    report: CompareReport,
    defer: list[tuple[str, Any]] | None,
) -> None:
    """Judge each document against `index`/`counts`, adding to `report`. With `defer` (a list), a document
    whose verdict needs more than its NAME's newest window in `index` (anything but a plain match) is appended
    there, cut to the shape's four fields, instead of judged; its NAME is left unseen."""
    w = shape.window_ms
    get = index.get
    mismatches = report.mismatches
    prefix = shape.key_prefix
    plen = len(prefix)
    # with a printable prefix, "the NAME part of a prefixed key is printable" is the whole key's isprintable(),
    # and "the key is prefix + NAME" is a length and an endswith: no slice per document
    fast_keys = prefix.isprintable()
    nf, cf, sf, ef = shape.name_field, shape.count_field, shape.window_start_field, shape.window_end_field
    settle = floor_newest is not None
    floor_get = floor_counts.get if floor_counts is not None else None
    fn_get = floor_newest.get if floor_newest is not None else None
    matched = redis_events = keys = 0
    newest_end = report.newest_window_end
    unseen = _UNSEEN
    items = redis_docs.items() if isinstance(redis_docs, Mapping) else redis_docs
    # the hot loop over every document: plain dict access, no ABC isinstance, no allocation, locals only
    # the documents are acyclic and freed by reference counting as the loop drops them; left on, the cyclic
    # collector would walk its young generation every 700 allocations (a third of the CPU of a 1M read)
    with collector_paused():
        for key, doc in items:
            keys += 1
            if fast_keys and type(key) is str and len(key) > plen and key.startswith(prefix) and key.isprintable():
                key_name = None  # cut from the key only when a mismatch names it
            else:
                key_name = key[plen:] if key.startswith(prefix) else key
                if not (key_name and key_name.isprintable()):
                    esc = key_name.encode("unicode_escape").decode()
                    mismatches.append(Mismatch(esc, "unreadable_key", key=key.encode("unicode_escape").decode()))
                    continue
            if type(doc) is not dict and not isinstance(doc, Mapping):
                mismatches.append(Mismatch(key_name or key[plen:], "malformed", key=key))
                continue
            try:
                start, end, got = doc[sf], doc[ef], doc[cf]
                if type(start) is not int or type(end) is not int or type(got) is not int:
                    start, end, got = int(start), int(end), int(got)
            except (KeyError, TypeError, ValueError):
                mismatches.append(Mismatch(key_name or key[plen:], "malformed", key=key))
                continue
            name = doc.get(nf)
            if type(name) is not str:
                name = "" if name is None else str(name)
            # a document under another NAME's key, or a key the sink garbled
            if (name != key_name) if key_name is not None else (len(key) - plen != len(name) or not key.endswith(name)):
                mismatches.append(Mismatch(key_name or key[plen:], "wrong_key", key, start, end, got, None))
                continue
            if end - start != w or start % w:
                mismatches.append(Mismatch(name, "bad_window", key, start, end, got, None))
                continue
            # A NAME's index entry becomes None once seen (a store into an existing slot: the index doubles as the
            # set of seen NAMEs, without a million more strings). A NAME seen again is a key SCAN returned twice
            # while Redis rehashed: counted once.
            entry = get(name, unseen)
            if entry is None:
                continue
            if defer is not None and (
                entry is unseen
                or start != entry[0]
                or ((got > entry[1] or got < floor_get((name, start), 0) or fn_get(name, -1) >= end) if settle else got != entry[1])
            ):
                # judged after the stream, against the source read after Redis; the int fields are kept as read
                keys -= 1
                defer.append((key, {nf: name, cf: got, sf: start, ef: end}))
                continue
            index[name] = None
            redis_events += got
            if newest_end is None or end > newest_end:
                newest_end = end
            if entry is unseen:
                mismatches.append(Mismatch(name, "not_in_source", key, start, end, got, 0))
                continue
            latest, latest_count = entry
            if settle:  # a settle pass: between the floor and the later source read
                expected = latest_count if start == latest else counts.get((name, start), 0)
                if got > expected or got < min(floor_get((name, start), 0), expected):
                    mismatches.append(Mismatch(name, "count", key, start, end, got, expected))
                elif fn_get(name, -1) >= end:
                    mismatches.append(Mismatch(name, "behind", key, latest, latest + w, got, latest_count))
                else:
                    matched += 1
            elif start == latest:
                if got == latest_count:
                    matched += 1
                else:
                    mismatches.append(Mismatch(name, "count", key, start, end, got, latest_count))
            else:
                expected = counts.get((name, start), 0)
                if got != expected:
                    mismatches.append(Mismatch(name, "count", key, start, end, got, expected))
                elif latest >= end:
                    mismatches.append(Mismatch(name, "behind", key, latest, latest + w, got, latest_count))
                else:
                    matched += 1
    report.keys_checked += keys
    report.matched += matched
    report.redis_events += redis_events
    report.newest_window_end = newest_end


def _finish(report: CompareReport, index: dict[str, Any], floor_newest: dict[str, int] | None, shape: AggregateShape) -> CompareReport:
    """Every NAME the source has (the floor too, in a settle pass) that no document held is missing; mismatches
    in a stable order."""
    w = shape.window_ms
    mismatches = report.mismatches
    missing = (n for n, v in index.items() if v is not None and v is not _UNSEEN)
    for name in sorted(missing if floor_newest is None else (n for n in missing if n in floor_newest)):
        latest, latest_count = index[name]
        mismatches.append(Mismatch(name, "missing_in_redis", f"{shape.key_prefix}{name}", latest, latest + w, None, latest_count))
    mismatches.sort(key=lambda m: (m.problem != "unreadable_key", m.name))
    return report


def freshness_lag_ms(report: CompareReport, now_ms: int) -> int | None:
    """How long ago the newest window in Redis closed; None when Redis holds no window at all."""
    if report.newest_window_end is None:
        return None
    return max(0, now_ms - report.newest_window_end)
