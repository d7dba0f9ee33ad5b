"""The reconciliation comparison on its own: no servers, no Dagster."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_defs.reconcile import AggregateShape, freshness_lag_ms, reconcile, to_epoch_ms

pytestmark = pytest.mark.unit

SHAPE = AggregateShape("USER_AGGREGATE_EVENTS:", "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", 60_000)
T0 = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 0, 0))  # a window boundary


def doc(name, count, start=T0):
    return {"USER_NAME": name, "EVENT_COUNT": count, "WINDOW_START": start, "WINDOW_END": start + 60_000}


def events(name, n, start=T0, step_ms=1000):
    return [(name, dt.datetime.fromtimestamp((start + i * step_ms) / 1000, tz=dt.timezone.utc)) for i in range(n)]


def test_correct_data_passes():
    redis = {"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3), "USER_AGGREGATE_EVENTS:rsmith": doc("rsmith", 2)}
    report = reconcile(redis, events("jdoe", 3) + events("rsmith", 2), SHAPE)
    assert report.passed and report.matched == 2
    assert report.redis_events == 5 and report.oracle_events == 5
    assert report.newest_window_end == T0 + 60_000


def test_wrong_count_names_the_name_and_window():
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 7)}, events("jdoe", 3), SHAPE)
    assert not report.passed
    [m] = report.mismatches
    assert (m.name, m.problem, m.redis_count, m.oracle_count) == ("jdoe", "count", 7, 3)
    assert m.as_row()["window_start"] == "2026-11-24T10:00:00Z"
    assert m.as_row()["window_end"] == "2026-11-24T10:01:00Z"


def test_only_rows_of_the_same_window_count():
    # 2 rows in the previous minute, 3 in the current: Redis holds the current window's 3
    rows = events("jdoe", 2, start=T0 - 60_000) + events("jdoe", 3)
    assert reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3)}, rows, SHAPE).passed


def test_stale_window_is_behind():
    rows = events("jdoe", 3) + events("jdoe", 1, start=T0 + 60_000)
    [m] = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3)}, rows, SHAPE).mismatches
    assert m.problem == "behind" and m.window_start == T0 + 60_000 and m.oracle_count == 1


def test_missing_and_unexpected_names():
    report = reconcile({"USER_AGGREGATE_EVENTS:ghost": doc("ghost", 1)}, events("amary", 2), SHAPE)
    problems = {(m.name, m.problem) for m in report.mismatches}
    assert problems == {("ghost", "not_in_oracle"), ("amary", "missing_in_redis")}


def test_unreadable_windowed_key_is_flagged():
    raw_key = "USER_AGGREGATE_EVENTS:jdoe\x00\x00\x01\x9a\xb2\x11\x00\x00"
    report = reconcile({raw_key: doc("jdoe", 3)}, events("jdoe", 3), SHAPE)
    problems = [m.problem for m in report.mismatches]
    assert "unreadable_key" in problems and "missing_in_redis" in problems


def test_malformed_document():
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": {"EVENT_COUNT": "x"}}, events("jdoe", 1), SHAPE)
    assert [m.problem for m in report.mismatches] == ["malformed", "missing_in_redis"]


def test_freshness_lag():
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3)}, events("jdoe", 3), SHAPE)
    assert freshness_lag_ms(report, T0 + 90_000) == 30_000
    assert freshness_lag_ms(reconcile({}, [], SHAPE), T0) is None
