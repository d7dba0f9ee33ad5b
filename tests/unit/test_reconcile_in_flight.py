"""The data check under a running stream of inserts: rows committed while it reads are in flight, not wrong
(compare_with_source's floor_counts, and checks.compare_settled's second pass). Rows lost or counted twice
still fail it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline_defs.systems.redis import checks
from pipeline_defs.systems.redis.compare import compare_with_source
from tests.unit.reconcile_support import SHAPE, T0, W, doc, problems

pytestmark = pytest.mark.unit


def test_a_count_between_the_floor_and_the_later_read_is_in_flight():
    # 5 rows committed before the wait, 8 after it: Redis at 5, 6, 7 or 8 is right
    for got in (5, 6, 7, 8):
        report = compare_with_source({"K:a": doc("a", got)}, None, SHAPE, source_counts={("a", T0): 8}, floor_counts={("a", T0): 5})
        assert report.passed, (got, problems(report))
    # without the floor the same documents fail: the check judged in-flight rows as wrong
    assert problems(compare_with_source({"K:a": doc("a", 6)}, None, SHAPE, source_counts={("a", T0): 8})) == [("a", "count")]


def test_below_the_floor_is_lost_and_above_the_source_is_counted_twice():
    lost = compare_with_source({"K:a": doc("a", 4)}, None, SHAPE, source_counts={("a", T0): 8}, floor_counts={("a", T0): 5})
    twice = compare_with_source({"K:a": doc("a", 9)}, None, SHAPE, source_counts={("a", T0): 8}, floor_counts={("a", T0): 5})
    assert [(m.problem, m.redis_count, m.source_count) for m in lost.mismatches] == [("count", 4, 8)]
    assert [(m.problem, m.redis_count, m.source_count) for m in twice.mismatches] == [("count", 9, 8)]


def test_a_name_or_window_newer_than_the_floor_may_still_be_on_its_way():
    source = {("a", T0): 3, ("a", T0 + W): 2, ("new", T0 + W): 1}
    floor = {("a", T0): 3}
    # Redis still holds a's older window and has no key for "new": both committed after the floor was read
    report = compare_with_source({"K:a": doc("a", 3)}, None, SHAPE, source_counts=source, floor_counts=floor)
    assert report.passed, problems(report)
    # but a window or NAME the floor already had must be there
    floor2 = {("a", T0): 3, ("a", T0 + W): 1, ("new", T0 + W): 1}
    report = compare_with_source({"K:a": doc("a", 3)}, None, SHAPE, source_counts=source, floor_counts=floor2)
    assert problems(report) == [("a", "behind"), ("new", "missing_in_redis")]


def test_a_key_the_later_read_does_not_know_is_not_in_source():
    report = compare_with_source({"K:x": doc("x", 1)}, None, SHAPE, source_counts={}, floor_counts={})
    assert problems(report) == [("x", "not_in_source")]


class _Redis:
    def __init__(self, reads):
        self.reads = iter(reads)

    def get_client(self):
        return self

    def iter_prefix(self, prefix):
        return iter(next(self.reads).items())


def _answer(rows, since):
    """What SourcePlugin.source_counts returns from the source's rows: each NAME's newest window, plus every
    window starting at or after `since` (None: the newest only)."""
    newest = {}
    for name, start in rows:
        newest[name] = max(start, newest.get(name, start))
    return {(n, s): c for (n, s), c in rows.items() if s == newest[n] or (since is not None and s >= since)}


class _Source:
    """The source's state at each pass. The data check asks it for the newest windows (since=None) before it
    reads Redis, which starts a pass, and once more after the read (since=the oldest kept window) if it kept any
    document."""

    kind = "fake"

    def __init__(self, reads):
        self.reads = iter(reads)
        self.calls = []

    def source_counts(self, spec, resources, agg, since):
        self.calls.append(since)
        if since is None:
            self.rows = dict(next(self.reads))
        return _answer(self.rows, since)


def _settled(monkeypatch, redis_reads, source_reads, settle=5.0):
    src = _Source(source_reads)
    monkeypatch.setattr(checks.registry, "source_of", lambda spec: src)
    p = SimpleNamespace(shape=SHAPE, spec=None, agg=None, settle_seconds=settle)
    slept = []
    report, counts = checks.compare_settled(p, SimpleNamespace(redis=_Redis(redis_reads)), sleep=slept.append)
    return report, counts, slept


def test_compare_settled_reads_again_after_the_settle_time_with_the_first_counts_as_floor(monkeypatch):
    # first pass: Redis 5, source already 6 (a row in flight); after 5 s: Redis 7, source 8 (more in flight)
    report, counts, slept = _settled(monkeypatch, [{"K:a": doc("a", 5)}, {"K:a": doc("a", 7)}], [{("a", T0): 6}, {("a", T0): 8}])
    assert report.passed and slept == [5.0] and counts == {("a", T0): 8}


def test_compare_settled_fails_a_row_that_never_arrives(monkeypatch):
    report, _, slept = _settled(monkeypatch, [{"K:a": doc("a", 5)}, {"K:a": doc("a", 5)}], [{("a", T0): 6}, {("a", T0): 6}])
    assert slept == [5.0] and problems(report) == [("a", "count")]


def test_compare_settled_passes_at_once_without_waiting(monkeypatch):
    report, _, slept = _settled(monkeypatch, [{"K:a": doc("a", 6)}], [{("a", T0): 6}])
    assert report.passed and slept == []


def test_settle_zero_judges_the_first_pass(monkeypatch):
    report, _, slept = _settled(monkeypatch, [{"K:a": doc("a", 5)}], [{("a", T0): 6}], settle=0)
    assert problems(report) == [("a", "count")] and slept == []
