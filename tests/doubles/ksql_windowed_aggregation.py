"""Kafka-backed mode of the ksqlDB double: the windowed count aggregate the pipeline generates, run for real.

CREATE TABLE ... AS SELECT g, AS_VALUE(g) AS v, COUNT(*) AS c, WINDOWSTART AS s, WINDOWEND AS e
FROM <stream> WINDOW TUMBLING (SIZE .., GRACE PERIOD ..) GROUP BY g [EMIT CHANGES] with
KEY_FORMAT 'KAFKA' and VALUE_FORMAT 'JSON' (any subset/order of those projections; SUM(<INTEGER/BIGINT
column>) in place of COUNT(*)) creates the sink topic (PARTITIONS from WITH, else the source topic's count;
cleanup.policy delete) and starts a KafkaAggregation thread: it reads the stream's topic from
`auto.offset.reset` (streamsProperties or SET; default latest = the end offsets when the CREATE is
answered), deserializes JSON values with case-insensitive column names, takes event time from the
stream's TIMESTAMP column (BIGINT epoch ms) or the record timestamp, and runs the windowed count of
tests/doubles/ksql_windowed_count.py (whose docstring cites the ksqlDB 0.29 / Kafka Streams 3.5 source
of each rule): windows by event time; records whose window closed (window end <= the task's stream
time - grace; default grace 24 h - size) are dropped; updates are held in a record cache and produced
once per commit (commit.interval.ms, default 2000, and cache.max.bytes.buffering, default 10 MB, from
streamsProperties/SET or the server's streams_config; 0 = every update) with the latest count per
window; each record goes to the sink partition of murmur2(base key) -- every window of a key in one
partition. Key: UTF-8 group value + 8-byte big-endian window start; value JSON of the value columns;
timestamp the window's highest event time. A clean stop (DROP/TERMINATE) commits; fail_query() does
not. State is in memory, source offsets are not committed; records ksqlDB would skip (bad JSON, null
group, null/invalid timestamp) go to the aggregation's processing_log. No emission order across
windows or keys is promised: wait for a state (emitted_counts(), counts()) rather than a sequence.
The plan is validated and built by tests/doubles/ksql_query_plans.py.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from dataclasses import dataclass
from typing import Any

from tests.doubles.ksql_kafka_io import KafkaQuery, kafka_key_bytes
from tests.doubles.ksql_windowed_count import (
    DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_COMMIT_INTERVAL_MS,
    DEFAULT_STREAM_THREADS,
    WindowedCount,
    WindowUpdate,
    partition_for_key,
)

log = logging.getLogger(__name__)

_WINDOW_OUTPUTS = ("group", "count", "windowstart", "windowend")


@dataclass
class AggregationPlan:
    """What a Kafka-backed CTAS computes: COUNT(*) per group value per tumbling window."""

    query_id: str
    sink: str
    sink_topic: str
    source: str
    source_topic: str
    source_columns: dict[str, str]  # column -> SQL type (value columns of the stream)
    key_columns: dict[str, str]  # the stream's key columns (KAFKA format: one STRING/BIGINT/... key)
    group_column: str
    group_type: str
    timestamp_column: str | None  # None: the record timestamp (ROWTIME)
    size_ms: int
    grace_ms: int
    key_column: str  # the sink's key column (the group column)
    value_outputs: list[tuple[str, str]]  # (sink value column, one of _WINDOW_OUTPUTS)
    offset_reset: str  # earliest | latest
    consumer_group: str
    source_partitions: int = 1  # = the repartition topic's partitions (the aggregation's tasks)
    sink_partitions: int = 1
    group_is_key: bool = False  # GROUP BY the stream's key column: no repartition
    commit_interval_ms: int = DEFAULT_COMMIT_INTERVAL_MS
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    stream_threads: int = DEFAULT_STREAM_THREADS
    sum_column: str | None = None  # SUM(<column>) instead of COUNT(*)


class KafkaAggregation(KafkaQuery):
    """One running Kafka-backed persistent query: a consumer thread over the source topic, the windowed
    count of tests.doubles.ksql_windowed_count (event-time windows, per-task stream time, record cache
    flushed per commit), each forwarded update produced to the sink topic partition of its base key.

    Read by tests: consumed, emitted (records produced), dropped_late, processing_log (records skipped,
    with why), stream_time, error (why the thread died), running, rows() / counts() (the live store, as
    pull queries see it), emitted_counts() (the latest count produced per window: what a reader of the
    sink topic ends up with), wait()."""

    # librdkafka's default refresh is 5 min; the aggregation follows changes of its source topic within seconds
    consumer_settings = {"topic.metadata.refresh.interval.ms": 2000}

    def __init__(self, plan: AggregationPlan, bootstrap: str):
        super().__init__(plan, bootstrap)
        self.plan: AggregationPlan = plan
        self._count = WindowedCount(
            plan.size_ms,
            plan.grace_ms,
            commit_interval_ms=plan.commit_interval_ms,
            cache_max_bytes=plan.cache_max_bytes,
            stream_threads=plan.stream_threads,
        )
        self._emitted: dict[tuple[Any, int], int] = {}
        self._delivery_errors: list[str] = []

    def _source_partitions(self, count: int) -> None:
        self.plan.source_partitions = count

    def _transient_error(self, err: Any) -> None:
        log.warning("ksqlDB double %s: consumer error %s", self.plan.query_id, err)

    # -- the query ------------------------------------------------------------------------------

    def _run(self) -> None:
        consumer, producer = self._consumer, self._producer
        next_check = time.monotonic() + 1.0
        failed = False
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_check:
                    # librdkafka only logs that an assigned topic went away; Kafka Streams fails the
                    # application (MissingSourceTopicException). Whole-cluster metadata: a request
                    # naming the topic could auto-create it on this broker.
                    topic = consumer.list_topics(timeout=10).topics.get(self.plan.source_topic)
                    if topic is None or not topic.partitions:
                        raise RuntimeError(f"Missing source topic: {self.plan.source_topic}")
                    next_check = time.monotonic() + 1.0
                msgs = consumer.consume(num_messages=500, timeout=0.1)
                for m in msgs:
                    if self._is_record(m):
                        self._process(m)
                if self._count.flush_due():
                    with self._cond:
                        updates = self._count.commit()
                    self._produce(updates)
                with self._cond:
                    self._cond.notify_all()
        except BaseException as exc:  # the query goes to ERROR, as a failed Kafka Streams app does
            failed = True
            log.exception("ksqlDB double query %s failed", self.plan.query_id)
            self.error = exc
        finally:
            try:
                if not failed and self._commit_on_stop:  # a clean close commits: the cache is flushed
                    with self._cond:
                        updates = self._count.commit()
                    self._produce(updates)
                producer.flush(10)
            except Exception:  # pragma: no cover - best effort on the way out
                log.exception("ksqlDB double query %s: final commit failed", self.plan.query_id)
            consumer.close()
            # drop the producer now: a stopped query's librdkafka threads must not outlive the broker
            self._producer = producer = None
            with self._cond:
                self._cond.notify_all()

    def _produce(self, updates: list[WindowUpdate]) -> None:
        p = self.plan
        if not updates:
            return

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                self._delivery_errors.append(str(err))

        for u in updates:
            values = {"group": u.group, "count": u.count, "windowstart": u.start, "windowend": u.end}
            value = json.dumps({col: values[what] for col, what in p.value_outputs}, separators=(",", ":"))
            self._producer.produce(
                p.sink_topic,
                key=u.group_key + struct.pack(">q", u.start),
                value=value.encode(),
                # WindowedStreamPartitioner: murmur2 of the base key picks the partition, not librdkafka
                partition=partition_for_key(u.group_key, p.sink_partitions),
                timestamp=u.timestamp,
                on_delivery=delivered,
            )
        self._producer.flush(10)
        if self._delivery_errors:
            raise RuntimeError(f"producing to {p.sink_topic} failed: {self._delivery_errors[:3]}")
        with self._cond:
            self.emitted += len(updates)
            for u in updates:
                self._emitted[(u.group, u.start)] = u.count
            self._cond.notify_all()

    def _process(self, m: Any) -> None:
        p = self.plan
        row = self._decode(m, p.key_columns)
        if row is None:
            return
        group = row.get(p.group_column)
        if group is None:
            self._skip(
                m, f"Group-by column with index 0 resolved to null. The source row will be excluded from the table: {p.group_column}"
            )
            return
        if p.timestamp_column is not None:  # event time: the stream's TIMESTAMP column
            ts = row.get(p.timestamp_column)
            if ts is None:
                self._skip(m, f"Failed to extract timestamp from row: column {p.timestamp_column} is null")
                return
        else:  # event time: the Kafka record timestamp (ROWTIME)
            ts = m.timestamp()[1]
        if ts < 0:
            self._skip(m, f"Skipping record due to invalid timestamp {ts}")
            return
        group_key = kafka_key_bytes(group, p.group_type)
        # the aggregation task: the source partition, or after GROUP BY a value column the partition of
        # the repartition topic (as many partitions as the source), chosen by murmur2 of the group key
        task = m.partition() if p.group_is_key else partition_for_key(group_key, max(p.source_partitions, 1))
        with self._cond:
            amount = 1 if p.sum_column is None else int(row.get(p.sum_column) or 0)
            counted, updates = self._count.add(group, group_key, ts, task, amount)
            if not counted:
                start, end = self._count.window_of(ts)
                self.processing_log.append(
                    f"{m.topic()}[{m.partition()}]@{m.offset()}: record dropped, window [{start},{end}) closed "
                    f"(stream time {self._count.stream_time[task]}, grace {p.grace_ms})"
                )
        self._produce(updates)

    # -- state ----------------------------------------------------------------------------------

    @property
    def dropped_late(self) -> int:
        return self._count.dropped_late

    @property
    def stream_time(self) -> int:
        """The highest event time any task has observed (-1 before the first record)."""
        with self._cond:
            return max(self._count.stream_time.values(), default=-1)

    @property
    def pending(self) -> int:
        """Updated windows buffered in the record cache, not produced yet."""
        with self._cond:
            return self._count.pending

    def rows(self) -> list[dict[str, Any]]:
        """The table as a pull query sees it: key, WINDOWSTART, WINDOWEND, then the value columns."""
        p = self.plan
        windows = sorted(self.counts().items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
        out = []
        for (group, start), count in windows:
            values = {"group": group, "count": count, "windowstart": start, "windowend": start + p.size_ms}
            row = {p.key_column: group, "WINDOWSTART": start, "WINDOWEND": start + p.size_ms}
            row.update({col: values[what] for col, what in p.value_outputs})
            out.append(row)
        return out

    def counts(self) -> dict[tuple[Any, int], int]:
        """{(group value, window start ms): count} in the live store (updates not yet produced included)."""
        with self._cond:
            return self._count.counts()

    def emitted_counts(self) -> dict[tuple[Any, int], int]:
        """{(group value, window start ms): the latest count produced to the sink topic}."""
        with self._cond:
            return dict(self._emitted)


__all__ = ["AggregationPlan", "KafkaAggregation"]
