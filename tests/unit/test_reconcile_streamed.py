"""The data check's streamed comparison (compare_streamed, checks.compare_pass): the source's newest windows are
read first, the documents holding them are judged as they stream by and dropped, the others are kept and judged
after the read against a second source query. It must prove exactly what compare_with_source proves, and never
hold the keyspace."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline_defs.systems.redis import checks, compare
from pipeline_defs.systems.redis.compare import compare_streamed, compare_with_source
from tests.unit.reconcile_support import SHAPE, T0, W, doc, problems

pytestmark = pytest.mark.unit


def answer(rows, since):
    """SourcePlugin.source_counts over the source's rows: each NAME's newest window, plus every window starting at
    or after `since` (None: the newest only)."""
    newest = {}
    for name, start in rows:
        newest[name] = max(start, newest.get(name, start))
    return {(n, s): c for (n, s), c in rows.items() if s == newest[n] or (since is not None and s >= since)}


class Later:
    """The second source query: records the `since` it was asked for."""

    def __init__(self, rows):
        self.rows, self.calls = rows, []

    def __call__(self, since):
        self.calls.append(since)
        return answer(self.rows, since)


def verdict(report):
    return (
        [(m.name, m.problem, m.key, m.window_start, m.redis_count, m.source_count) for m in report.mismatches],
        report.matched,
        report.keys_checked,
        report.redis_events,
        report.newest_window_end,
    )


def test_documents_holding_the_newest_window_need_no_second_query():
    rows = {("a", T0 - W): 2, ("a", T0): 3, ("b", T0): 1}
    later = Later(rows)
    report, counts = compare_streamed({"K:a": doc("a", 3), "K:b": doc("b", 1)}, SHAPE, answer(rows, None), later)
    assert report.passed and report.matched == 2 and later.calls == []
    assert counts == {("a", T0): 3, ("b", T0): 1} and report.source_events == 4 == report.redis_events


def test_a_window_newer_than_the_first_query_is_deferred_not_wrong():
    # rows committed between the first source query and the Redis read: a's newer window, b's extra row, a new NAME
    before = {("a", T0): 3, ("b", T0): 1}
    after = {("a", T0): 3, ("a", T0 + W): 1, ("b", T0): 2, ("new", T0 + W): 1}
    later = Later(after)
    docs = {"K:a": doc("a", 1, T0 + W), "K:b": doc("b", 2), "K:new": doc("new", 1, T0 + W)}
    report, counts = compare_streamed(docs, SHAPE, answer(before, None), later)
    assert report.passed, problems(report)
    assert later.calls == [T0] and report.matched == 3 and report.keys_checked == 3
    assert counts == after  # the later query reached back to T0: every window since
    # the same documents judged against the first query alone would have failed
    assert problems(compare_with_source(docs, None, SHAPE, source_counts=answer(before, None))) == [
        ("a", "count"),
        ("b", "count"),
        ("new", "not_in_source"),
    ]


def test_deferred_documents_are_judged_like_compare_with_source():
    rows = {("a", T0 - 2 * W): 4, ("a", T0): 3, ("b", T0 - W): 2, ("b", T0): 1, ("c", T0): 5}
    docs = {
        "K:a": doc("a", 4, T0 - 2 * W),  # behind
        "K:b": doc("b", 9, T0 - W),  # wrong count of an older window
        "K:c": doc("c", 6),  # wrong count of the newest window
        "K:ghost": doc("ghost", 1),  # not in the source
    }
    later = Later(rows)
    report, _ = compare_streamed(docs, SHAPE, answer(rows, None), later)
    assert later.calls == [T0 - 2 * W]
    assert verdict(report) == verdict(compare_with_source(docs, None, SHAPE, source_counts=rows))
    assert problems(report) == [("a", "behind"), ("b", "count"), ("c", "count"), ("ghost", "not_in_source")]


def _scenario(rng: random.Random, n_names: int):
    """A source's rows and a Redis keyspace with every kind of difference, at random."""
    rows, docs = {}, []
    for i in range(n_names):
        name = f"n{i}"
        windows = sorted(rng.sample(range(6), rng.randint(1, 3)))
        for w in windows:
            rows[(name, T0 + w * W)] = rng.randint(1, 9)
        newest = T0 + windows[-1] * W
        kind = rng.choice(["ok"] * 6 + ["older", "newer", "count", "missing", "dup", "wrong_key", "bad", "malformed"])
        if kind == "missing":
            continue
        start = {"older": T0 + windows[0] * W, "newer": newest + W}.get(kind, newest)
        got = rows.get((name, start), 1) + (rng.choice([-1, 1]) if kind == "count" else 0)
        d = doc(name, got, start)
        if kind == "wrong_key":
            d["NAME"] = f"n{rng.randrange(n_names)}"
        elif kind == "bad":
            d["WINDOW_END"] += W
        elif kind == "malformed":
            d["EVENT_COUNT"] = "x"
        d["EXTRA"] = "dropped"
        docs.append((f"K:{name}", d))
        if kind == "dup":
            docs.append((f"K:{name}", dict(d)))
    for i in range(rng.randint(0, 3)):
        docs.append((f"K:ghost{i}", doc(f"ghost{i}", 1, T0 + rng.randrange(6) * W)))
    docs.append(("K:bad\x00key", doc("bad\x00key", 1)))
    rng.shuffle(docs)
    return rows, docs


@pytest.mark.parametrize("seed", range(40))
def test_streamed_proves_what_compare_with_source_proves(seed):
    rng = random.Random(seed)
    rows, docs = _scenario(rng, 60)
    report, _ = compare_streamed(iter(docs), SHAPE, answer(rows, None), Later(rows))
    assert verdict(report) == verdict(compare_with_source(iter(docs), None, SHAPE, source_counts=rows))
    # a settle pass: a floor read earlier (some rows not yet committed then), the same floor on both sides
    floor = {k: max(0, c - rng.randint(0, 2)) for k, c in rows.items() if rng.random() < 0.8}
    floor = {k: c for k, c in floor.items() if c}
    settled, _ = compare_streamed(iter(docs), SHAPE, answer(rows, None), Later(rows), floor_counts=floor)
    assert verdict(settled) == verdict(compare_with_source(iter(docs), None, SHAPE, source_counts=rows, floor_counts=floor))


_DEFER_LINE = next(i for i, line in enumerate(Path(compare.__file__).read_text().splitlines(), 1) if "defer.append((" in line)


def _held_when_the_source_is_asked_again(n: int, differs) -> tuple[int, int, int, object]:
    """Stream n documents (each with fields the check does not need) through compare_streamed; when it asks the
    source again, count the documents it holds (allocated where it keeps them) and their bytes; also the traced
    peak of the whole call above what existed before it. `differs(i)`: document i's count is off by one."""
    rows = {(f"user{i:09d}", T0): 1 + i % 5 for i in range(n)}
    newest = answer(rows, None)
    held = {}

    def keyspace():
        for i in range(n):
            got = 1 + i % 5 + (1 if differs(i) else 0)
            yield f"K:user{i:09d}", {**doc(f"user{i:09d}", got), "SINK_TS": i, "NOTE": "x" * 40}

    def later(since):
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, compare.__file__, _DEFER_LINE)])
        held["docs"] = sum(t.count for t in snap.statistics("lineno"))
        held["bytes"] = sum(t.size for t in snap.statistics("lineno"))
        return answer(rows, since)

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        report, _ = compare_streamed(keyspace(), SHAPE, newest, later)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return held.get("docs", 0), held.get("bytes", 0), peak, report


def test_a_100k_keyspace_is_never_held_only_the_documents_that_differ():
    n = 100_000
    docs, size, peak, report = _held_when_the_source_is_asked_again(n, lambda i: i % 200 == 0)
    assert report.keys_checked == n and report.matched == n - 500 and len(report.mismatches) == 500
    assert {m.problem for m in report.mismatches} == {"count"}
    # the 500 differing documents (a 4-field dict and a (key, dict) pair each, a pair may come from the tuple free
    # list tracemalloc does not see), under 0.25 MB, of 100k
    assert 500 <= docs <= 2 * 500 + 10 and size < 250_000, (docs, size)
    # the whole call: the NAMEs' index and source counts (a few tens of bytes per NAME), never the keyspace
    everything_differs = _held_when_the_source_is_asked_again(n, lambda i: True)
    assert everything_differs[0] >= n and everything_differs[1] > 10_000_000  # what the measure sees when all are held
    assert peak < everything_differs[2] - 10_000_000, (peak, everything_differs[2])


class _SourceBetween:
    """A source a row is committed to between the data check's first query and its Redis read."""

    kind = "fake"

    def __init__(self, before, after):
        self.before, self.after, self.calls = before, after, []

    def source_counts(self, spec, resources, agg, since):
        self.calls.append(since)
        return answer(self.before if since is None else self.after, since)


class _Redis:
    def __init__(self, docs):
        self.docs = docs

    def get_client(self):
        return self

    def iter_prefix(self, prefix):
        assert prefix == SHAPE.key_prefix
        return iter(self.docs.items())


def test_compare_pass_queries_the_source_before_and_after_one_read(monkeypatch):
    before = {("a", T0): 3}
    after = {("a", T0): 3, ("a", T0 + W): 1}
    src = _SourceBetween(before, after)
    monkeypatch.setattr(checks.registry, "source_of", lambda spec: src)
    p = SimpleNamespace(shape=SHAPE, spec=None, agg=None, settle_seconds=0)
    report, counts = checks.compare_pass(p, SimpleNamespace(redis=_Redis({"K:a": doc("a", 1, T0 + W)})))
    assert report.passed and src.calls == [None, T0 + W] and counts == {("a", T0): 3, ("a", T0 + W): 1}
    # nothing deferred: the newest windows alone, one query
    src = _SourceBetween(before, after)
    monkeypatch.setattr(checks.registry, "source_of", lambda spec: src)
    report, _ = checks.compare_pass(p, SimpleNamespace(redis=_Redis({"K:a": doc("a", 3)})))
    assert report.passed and src.calls == [None]
    # a lost row still fails: Redis short of both queries
    src = _SourceBetween(before, before)
    monkeypatch.setattr(checks.registry, "source_of", lambda spec: src)
    report, _ = checks.compare_pass(p, SimpleNamespace(redis=_Redis({"K:a": doc("a", 2)})))
    assert problems(report) == [("a", "count")] and src.calls == [None, T0]
