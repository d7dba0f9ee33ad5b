"""The Kafka Streams semantics of the ksqlDB double's windowed COUNT (tests/doubles/ksql_windowed_count.py):
event-time windows, per-task stream time and grace, the record cache flushed per commit, and the
partition of windowed output. No Kafka needed: the double's Kafka-backed mode drives the same class."""

from __future__ import annotations

import pytest

from tests.doubles.ksql_windowed_count import (
    WindowedCount,
    default_grace_ms,
    murmur2,
    partition_for_key,
)

pytestmark = pytest.mark.unit

MINUTE = 60_000
BASE = 1_700_000_040_000  # minute-aligned event time, far from the wall clock
assert BASE % MINUTE == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _counts(updates) -> list[tuple[str, int, int]]:
    return [(u.group, u.start, u.count) for u in updates]


def test_murmur2_matches_kafka_utils_test_vectors():
    # apache/kafka 3.5.0 clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java testMurmur2
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def test_windowed_output_is_partitioned_by_the_base_key_only():
    # WindowedStreamPartitioner hashes serializeBaseKey(): every window of jdoe goes to one partition,
    # which hashing the whole windowed key (name + 8-byte start) would not do
    base = partition_for_key(b"jdoe", 6)
    whole = {partition_for_key(b"jdoe" + (BASE + i * MINUTE).to_bytes(8, "big"), 6) for i in range(10)}
    assert len(whole) > 1  # so the rule is observable
    assert 0 <= base < 6


def test_default_grace_is_24_hours_minus_the_window_size():
    assert default_grace_ms(MINUTE) == 24 * 3_600_000 - MINUTE  # TimeWindows.of(size), deprecated in 3.x
    assert default_grace_ms(25 * 3_600_000) == 0


def test_windows_follow_event_time_not_arrival_order_or_the_clock():
    """Rows inserted with explicit event times minutes in the past, arriving out of order across
    minute boundaries: each is counted in the window of its own event time."""
    clock = Clock()
    wc = WindowedCount(MINUTE, 2 * MINUTE, cache_max_bytes=0, clock=clock)
    arrivals = [
        ("jdoe", BASE + MINUTE + 59_999),  # last ms of window 1
        ("jdoe", BASE + 2 * MINUTE),  # first ms of window 2
        ("jdoe", BASE + 30_000),  # earlier event, later arrival: window 0, still within grace
        ("alice", BASE + MINUTE),
        ("jdoe", BASE + MINUTE + 1),
    ]
    for name, ts in arrivals:
        clock.now += 5  # wall-clock time passes; it does not matter
        counted, _ = wc.add(name, name.encode(), ts)
        assert counted
    assert wc.counts() == {("jdoe", BASE + MINUTE): 2, ("jdoe", BASE + 2 * MINUTE): 1, ("jdoe", BASE): 1, ("alice", BASE + MINUTE): 1}
    assert wc.window_of(BASE + MINUTE - 1) == (BASE, BASE + MINUTE)


def test_late_records_are_dropped_per_task_stream_time():
    wc = WindowedCount(MINUTE, MINUTE, cache_max_bytes=0)
    assert wc.add("jdoe", b"jdoe", BASE + 3 * MINUTE, task=0)[0]
    # window [BASE, BASE+60s) closed on task 0 at stream time BASE+180s - grace 60s
    assert wc.add("jdoe", b"jdoe", BASE + 1_000, task=0) == (False, [])
    # another task has its own stream time: the same event time still counts there
    assert wc.add("bob", b"bob", BASE + 1_000, task=1)[0]
    # close time BASE+120s: a window ending exactly then is closed (windowEnd > windowCloseTime to count)
    assert wc.add("jdoe", b"jdoe", BASE + MINUTE + 59_999, task=0) == (False, [])
    assert wc.add("jdoe", b"jdoe", BASE + 2 * MINUTE, task=0)[0]
    assert wc.dropped_late == 2 and wc.stream_time == {0: BASE + 3 * MINUTE, 1: BASE + 1_000}
    assert wc.counts() == {("jdoe", BASE + 3 * MINUTE): 1, ("bob", BASE): 1, ("jdoe", BASE + 2 * MINUTE): 1}


def test_updates_are_cached_and_emitted_once_per_commit_with_the_latest_count():
    clock = Clock()
    wc = WindowedCount(MINUTE, MINUTE, commit_interval_ms=2000, clock=clock)
    for ts in (BASE + 1_000, BASE + 2_000, BASE + 3_000):
        assert wc.add("jdoe", b"jdoe", ts) == (True, [])  # nothing forwarded per record
    wc.add("alice", b"alice", BASE + 4_000)
    wc.add("jdoe", b"jdoe", BASE + 5_000)
    assert wc.pending == 2 and wc.counts()[("jdoe", BASE)] == 4  # the store (pull queries) is current
    clock.now += 2.0
    assert not wc.flush_due()  # more than commit.interval.ms must have passed
    clock.now += 0.001
    assert wc.flush_due()
    updates = wc.commit()
    # one record per window, the latest count, in the order of each window's last update
    assert _counts(updates) == [("alice", BASE, 1), ("jdoe", BASE, 4)]
    assert updates[1].timestamp == BASE + 5_000 and updates[1].end == BASE + MINUTE
    assert wc.pending == 0 and not wc.flush_due() and wc.commit() == []


def test_cache_size_zero_forwards_every_update():
    wc = WindowedCount(MINUTE, MINUTE, cache_max_bytes=0)
    assert _counts(wc.add("jdoe", b"jdoe", BASE)[1]) == [("jdoe", BASE, 1)]
    assert _counts(wc.add("jdoe", b"jdoe", BASE + 1)[1]) == [("jdoe", BASE, 2)]
    assert wc.pending == 0


def test_a_full_cache_evicts_the_eldest_entry_and_flushes_every_dirty_one():
    # 4 threads share the cache: 600 bytes -> 150 per thread, room for one ~100-byte entry
    wc = WindowedCount(MINUTE, MINUTE, cache_max_bytes=600, stream_threads=4)
    assert wc.add("a", b"a", BASE) == (True, [])
    counted, flushed = wc.add("b", b"b", BASE)
    assert counted and _counts(flushed) == [("a", BASE, 1), ("b", BASE, 1)]
    assert wc.pending == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="size must be > 0"):
        WindowedCount(0, 0)
    with pytest.raises(ValueError, match="threads >= 1"):
        WindowedCount(MINUTE, 0, stream_threads=0)
