"""The Redis-vs-source comparison (pipeline_defs/systems/redis/compare.py) on its own: no servers, no Dagster."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_defs.systems.redis.compare import AggregateShape, compare_with_source, count_windows, freshness_lag_ms, to_epoch_ms

pytestmark = pytest.mark.unit

SHAPE = AggregateShape("USER_AGGREGATE_EVENTS:", "USER_NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", 60_000)
T0 = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 0, 0))  # a window boundary


def reconcile(docs, rows, shape):
    return compare_with_source(docs, rows, shape)


def doc(name, count, start=T0):
    return {"USER_NAME": name, "EVENT_COUNT": count, "WINDOW_START": start, "WINDOW_END": start + 60_000}


def events(name, n, start=T0, step_ms=1000):
    return [(name, dt.datetime.fromtimestamp((start + i * step_ms) / 1000, tz=dt.UTC)) for i in range(n)]


def test_correct_data_passes():
    redis = {"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3), "USER_AGGREGATE_EVENTS:rsmith": doc("rsmith", 2)}
    report = reconcile(redis, events("jdoe", 3) + events("rsmith", 2), SHAPE)
    assert report.passed and report.matched == 2
    assert report.redis_events == 5 and report.source_events == 5
    assert report.newest_window_end == T0 + 60_000


def test_wrong_count_names_the_name_and_window():
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 7)}, events("jdoe", 3), SHAPE)
    assert not report.passed
    [m] = report.mismatches
    assert (m.name, m.problem, m.redis_count, m.source_count) == ("jdoe", "count", 7, 3)
    assert m.as_row()["window_start"] == "2026-11-24T10:00:00Z"
    assert m.as_row()["window_end"] == "2026-11-24T10:01:00Z"


def test_only_rows_of_the_same_window_count():
    # 2 rows in the previous minute, 3 in the current: Redis holds the current window's 3
    rows = events("jdoe", 2, start=T0 - 60_000) + events("jdoe", 3)
    assert reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3)}, rows, SHAPE).passed


def test_stale_window_is_behind():
    rows = events("jdoe", 3) + events("jdoe", 1, start=T0 + 60_000)
    [m] = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3)}, rows, SHAPE).mismatches
    assert m.problem == "behind" and m.window_start == T0 + 60_000 and m.source_count == 1


def test_missing_and_unexpected_names():
    report = reconcile({"USER_AGGREGATE_EVENTS:ghost": doc("ghost", 1)}, events("amary", 2), SHAPE)
    problems = {(m.name, m.problem) for m in report.mismatches}
    assert problems == {("ghost", "not_in_source"), ("amary", "missing_in_redis")}


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


def test_not_in_source_carries_zero_source_rows():
    [m] = reconcile({"USER_AGGREGATE_EVENTS:ghost": doc("ghost", 4)}, [], SHAPE).mismatches
    assert (m.name, m.problem, m.key, m.redis_count, m.source_count) == ("ghost", "not_in_source", "USER_AGGREGATE_EVENTS:ghost", 4, 0)


def test_document_under_another_names_key_is_wrong_key():
    # rsmith's document stored under jdoe's key: the counts may even agree, the key does not
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": doc("rsmith", 3)}, events("jdoe", 3) + events("rsmith", 3), SHAPE)
    problems = sorted((m.name, m.problem) for m in report.mismatches)
    assert problems == [("jdoe", "missing_in_redis"), ("jdoe", "wrong_key"), ("rsmith", "missing_in_redis")]
    wrong = next(m for m in report.mismatches if m.problem == "wrong_key")
    assert (wrong.key, wrong.redis_count, wrong.source_count) == ("USER_AGGREGATE_EVENTS:jdoe", 3, None)
    assert report.matched == 0 and report.redis_events == 0


def test_document_without_the_name_field_is_wrong_key():
    d = doc("jdoe", 3)
    del d["USER_NAME"]
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": d}, events("jdoe", 3), SHAPE)
    assert [(m.name, m.problem) for m in report.mismatches] == [("jdoe", "wrong_key"), ("jdoe", "missing_in_redis")]


def test_window_spanning_several_windows_is_bad_window():
    d = {"USER_NAME": "jdoe", "EVENT_COUNT": 3, "WINDOW_START": T0, "WINDOW_END": T0 + 120_000}
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": d}, events("jdoe", 3), SHAPE)
    problems = [(m.name, m.problem) for m in report.mismatches]
    assert problems == [("jdoe", "bad_window"), ("jdoe", "missing_in_redis")]
    bad = report.mismatches[0]
    assert (bad.window_start, bad.window_end, bad.redis_count) == (T0, T0 + 120_000, 3)


def test_window_not_aligned_to_the_size_is_bad_window():
    start = T0 + 15_000  # one minute long, but not on a minute boundary
    d = {"USER_NAME": "jdoe", "EVENT_COUNT": 3, "WINDOW_START": start, "WINDOW_END": start + 60_000}
    report = reconcile({"USER_AGGREGATE_EVENTS:jdoe": d}, events("jdoe", 3), SHAPE)
    assert [(m.name, m.problem) for m in report.mismatches] == [("jdoe", "bad_window"), ("jdoe", "missing_in_redis")]
    assert report.mismatches[0].window_start == start


def test_precounted_source_rows_give_the_same_report():
    rows = events("jdoe", 2, start=T0 - 60_000) + events("jdoe", 3) + events("rsmith", 5)
    docs = {"USER_AGGREGATE_EVENTS:jdoe": doc("jdoe", 3), "USER_AGGREGATE_EVENTS:rsmith": doc("rsmith", 4)}
    from_rows = reconcile(docs, rows, SHAPE)
    from_counts = compare_with_source(docs, None, SHAPE, source_counts=count_windows(rows, 60_000))
    assert from_rows == from_counts
    assert [(m.name, m.problem, m.redis_count, m.source_count) for m in from_counts.mismatches] == [("rsmith", "count", 4, 5)]


def test_a_stream_of_pairs_compares_like_the_mapping_and_counts_a_repeated_key_once():
    # RedisJsonClient.iter_prefix streams (key, doc) pairs; SCAN may hand out a key twice while Redis rehashes
    pairs = [
        ("USER_AGGREGATE_EVENTS:jdoe", doc("jdoe", 3)),
        ("USER_AGGREGATE_EVENTS:rsmith", doc("rsmith", 1)),
        ("USER_AGGREGATE_EVENTS:jdoe", doc("jdoe", 3)),
        ("USER_AGGREGATE_EVENTS:ghost", doc("ghost", 1)),
        ("USER_AGGREGATE_EVENTS:ghost", doc("ghost", 1)),
    ]
    rows = events("jdoe", 3) + events("rsmith", 2) + events("amary", 1)
    streamed = compare_with_source(iter(pairs), rows, SHAPE)
    mapped = compare_with_source(dict(pairs), rows, SHAPE)
    assert (
        [(m.name, m.problem) for m in streamed.mismatches]
        == [(m.name, m.problem) for m in mapped.mismatches]
        == [("amary", "missing_in_redis"), ("ghost", "not_in_source"), ("rsmith", "count")]
    )
    assert streamed.redis_events == mapped.redis_events == 5
    assert streamed.matched == mapped.matched == 1
    assert streamed.keys_checked == 5 and mapped.keys_checked == 3  # every pair read, each NAME counted once
