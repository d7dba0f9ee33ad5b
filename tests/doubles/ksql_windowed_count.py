"""The Kafka Streams semantics the ksqlDB double's windowed COUNT follows, without any Kafka I/O.

ksqlDB 0.29 runs `... WINDOW TUMBLING (...) GROUP BY g` on Kafka Streams (Confluent 7.5 = Apache Kafka
3.5). Sources read for each rule (confluentinc/ksql tag v0.29.0 = 518dbfe; apache/kafka tag 3.5.0 = c97b88d):

- Event time: the window of a record is [ts - ts % size, + size) for the record's timestamp, which is
  the stream's TIMESTAMP column when it has one, else the Kafka record timestamp
  (KStreamWindowAggregate.java:109-114, TimeWindows.windowsFor). Nothing here looks at the wall clock.
- Grace: without GRACE PERIOD ksqlDB calls the deprecated TimeWindows.of(size)
  (StreamAggregateBuilder.java:331), whose grace is max(24 h - size, 0) (TimeWindows.java:156-161).
  A record is dropped when its window end <= observed stream time - grace, stream time being the
  highest timestamp this *task* has seen (KStreamWindowAggregate.java:110-121,
  AbstractKStreamTimeWindowAggregateProcessor.java:174). A GROUP BY on a value column repartitions
  by the group key, so the task is the repartition partition of the group key.
- Emission: ksqlDB materializes the aggregate with Materialized.as(name) (MaterializedFactory.java:37-42),
  whose caching is on by default (Materialized.java:64), so KStreamWindowAggregate does not forward per
  record (TimestampedTupleForwarder.java:56-63): updates sit in the record cache, one entry per
  (key, window), and are forwarded when the cache is flushed -- at every commit, i.e. when more than
  commit.interval.ms has passed (StreamThread.java:1113-1121), ksqlDB's default 2000 ms
  (KsqlConfig.java:1598-1602, KsqlConstants.java:40-41) -- or when the cache outgrows
  cache.max.bytes.buffering (ksqlDB default 10 000 000, divided among num.stream.threads, default 4:
  KafkaStreams.java:1230-1234), which evicts the eldest entry (ThreadCache.java:291-305) and, when that
  entry is dirty, flushes every dirty entry with it (NamedCache.java:243-255, 119-).
  A flush emits dirty entries in the order of their last update (NamedCache.java:186-190). With
  cache.max.bytes.buffering=0 every update is forwarded. Several updates of one window between two
  commits therefore produce ONE output record with the latest count; no emission order is promised
  across windows or keys beyond that.
- Output: the record timestamp is the highest event time in the window (KStreamWindowAggregate.java:
  128-133); the key is the KAFKA-format group value + 8-byte big-endian window start
  (TimeWindowedSerializer); the partition is chosen from the *base key* only: the windowed serde
  (GenericKeySerDe.java:115-117, TimeWindowedSerde) makes StreamSinkNode use WindowedStreamPartitioner
  (StreamSinkNode.java:60-65), which hashes serializeBaseKey() with the producer's murmur2
  (WindowedStreamPartitioner.java:44-50, BuiltInPartitioner.java:327-329). So all windows of one key land
  in one partition.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DAY_MS = 24 * 3_600_000
DEFAULT_COMMIT_INTERVAL_MS = 2000  # ksqlDB's KsqlConstants.defaultCommitIntervalMsConfig
DEFAULT_CACHE_MAX_BYTES = 10_000_000  # ksqlDB's KsqlConstants.defaultCacheMaxBytesBufferingConfig
DEFAULT_STREAM_THREADS = 4  # ksqlDB's KsqlConstants.defaultNumberOfStreamsThreads


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (a signed 32-bit int), the hash of the Java producer's default partitioner."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail, rest = length % 4, length - length % 4
    if tail == 3:
        h ^= data[rest + 2] << 16
    if tail >= 2:
        h ^= data[rest + 1] << 8
    if tail >= 1:
        h ^= data[rest]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    """BuiltInPartitioner.partitionForKey: toPositive(murmur2(key)) % partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def default_grace_ms(size_ms: int) -> int:
    """TimeWindows.of(size) (what ksqlDB 0.29 calls without GRACE PERIOD): max(24 h - size, 0)."""
    return max(DAY_MS - size_ms, 0)


@dataclass(frozen=True)
class WindowUpdate:
    """One aggregate row as forwarded downstream: (group, window start) -> count, with its timestamp."""

    group: Any
    group_key: bytes  # the KAFKA-format bytes of the group value (the base key)
    start: int
    end: int
    count: int
    timestamp: int  # the highest event time in the window


class WindowedCount:
    """COUNT(*) per group value per tumbling event-time window, behind a Kafka Streams record cache.

    add() applies one record and returns what must be forwarded right away (nothing, unless the cache is
    off or overflowed); flush_due()/flush() implement the commit. counts() is the store as interactive
    (pull) queries see it: the cache is read through, so it is always current."""

    def __init__(
        self,
        size_ms: int,
        grace_ms: int,
        *,
        commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS,
        cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
        stream_threads: int = DEFAULT_STREAM_THREADS,
        clock: Callable[[], float] = time.monotonic,
    ):
        if size_ms <= 0 or grace_ms < 0 or commit_interval_ms < 0 or cache_max_bytes < 0 or stream_threads < 1:
            raise ValueError("size must be > 0; grace, commit interval and cache size >= 0; threads >= 1")
        self.size_ms, self.grace_ms = size_ms, grace_ms
        self.commit_interval_ms = commit_interval_ms
        self.thread_cache_bytes = cache_max_bytes // stream_threads  # ThreadCache: the total split per thread
        self._clock = clock
        self._last_commit = clock()
        self.stream_time: dict[int, int] = {}  # task -> observed stream time
        self._windows: dict[tuple[Any, int], list[int]] = {}  # (group, start) -> [count, max event time]
        self._keys: dict[Any, bytes] = {}
        self._dirty: OrderedDict[tuple[Any, int], None] = OrderedDict()  # in order of last update
        self._cached: OrderedDict[tuple[Any, int], int] = OrderedDict()  # LRU order -> estimated bytes
        self._cached_bytes = 0
        self.dropped_late = 0

    def window_of(self, ts: int) -> tuple[int, int]:
        start = ts - ts % self.size_ms
        return start, start + self.size_ms

    def add(self, group: Any, group_key: bytes, ts: int, task: int = 0, amount: int = 1) -> tuple[bool, list[WindowUpdate]]:
        """Apply one record with event time `ts` on `task`: COUNT(*) adds 1, SUM(x) adds x (`amount`; a
        NULL x adds 0 -- ksqlDB's SumKudaf skips nulls but the record still updates the window).
        Returns (counted, updates to forward now)."""
        start, end = self.window_of(ts)
        observed = max(self.stream_time.get(task, -1), ts)
        self.stream_time[task] = observed
        if end <= observed - self.grace_ms:  # windowEnd > windowCloseTime, else the record is skipped
            self.dropped_late += 1
            return False, []
        w = self._windows.setdefault((group, start), [0, ts])
        w[0] += amount
        w[1] = max(w[1], ts)
        self._keys[group] = group_key
        if self.thread_cache_bytes == 0:  # no cache: KStreamWindowAggregate forwards every update
            return True, [self._update((group, start))]
        self._dirty.pop((group, start), None)
        self._dirty[(group, start)] = None
        self._cached_bytes -= self._cached.pop((group, start), 0)
        # LRUCacheEntry + LRUNode: key (group + 8-byte start + 4-byte seqnum) and value bytes plus
        # ~70 bytes of bookkeeping; the value is the serialized count row (estimated at 16 bytes)
        size = len(group_key) + 12 + 16 + 70
        self._cached[(group, start)] = size
        self._cached_bytes += size
        if self._cached_bytes > self.thread_cache_bytes:
            return True, self._evict()
        return True, []

    def _evict(self) -> list[WindowUpdate]:
        """ThreadCache.maybeEvict: evict the eldest entries; a dirty one flushes every dirty entry."""
        out: list[WindowUpdate] = []
        while self._cached and self._cached_bytes > self.thread_cache_bytes:
            eldest, size = self._cached.popitem(last=False)
            self._cached_bytes -= size
            if eldest in self._dirty:
                del self._dirty[eldest]
                out.append(self._update(eldest))
                out.extend(self.flush())
        return out

    def flush_due(self) -> bool:
        """True when more than commit.interval.ms passed since the last commit (StreamThread.maybeCommit)."""
        return (self._clock() - self._last_commit) * 1000 > self.commit_interval_ms

    def commit(self) -> list[WindowUpdate]:
        """A commit: flush the cache (dirty entries in order of their last update) and restart the interval."""
        self._last_commit = self._clock()
        return self.flush()

    def flush(self) -> list[WindowUpdate]:
        out = [self._update(k) for k in self._dirty]
        self._dirty.clear()
        return out

    @property
    def pending(self) -> int:
        """Updated windows not forwarded yet."""
        return len(self._dirty)

    def _update(self, k: tuple[Any, int]) -> WindowUpdate:
        group, start = k
        count, ts = self._windows[k]
        return WindowUpdate(group, self._keys[group], start, start + self.size_ms, count, ts)

    def counts(self) -> dict[tuple[Any, int], int]:
        """{(group value, window start ms): count} -- the live store."""
        return {k: v[0] for k, v in self._windows.items()}


__all__ = [
    "DEFAULT_CACHE_MAX_BYTES",
    "DEFAULT_COMMIT_INTERVAL_MS",
    "WindowUpdate",
    "WindowedCount",
    "default_grace_ms",
    "murmur2",
    "partition_for_key",
]
