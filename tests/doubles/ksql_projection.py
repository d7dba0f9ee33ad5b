"""Kafka-backed mode of the ksqlDB double: a stateless persistent stream query, run for real.

``CREATE STREAM s WITH (...) AS SELECT <exprs> FROM <stream> [WHERE <cond>] EMIT CHANGES`` and
``INSERT INTO s SELECT ...`` over a key-less JSON stream: each source record is deserialized as the
aggregation does (JSON, case-insensitive field names, the declared column types), WHERE is applied,
the projections evaluated (tests/doubles/ksql_expr.py) and one JSON record produced per passing row,
right away (a stateless Kafka Streams topology has no record cache to wait for). The output record
has no key (key-less stream) and, as timestamp, the sink's TIMESTAMP column when the CSAS declares
one (create-stream-as-select.md: "the column will be used to set the timestamp on any records
emitted to Kafka"), otherwise the source record's ROWTIME (the source's TIMESTAMP column or the Kafka
record timestamp) -- ksqlDB's sink keeps the input timestamp. Downstream queries on the sink take
event time from the sink's own TIMESTAMP column, whatever the record timestamp.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.doubles.ksql_expr import Expr, evaluate, truth

log = logging.getLogger(__name__)


@dataclass
class ProjectionPlan:
    query_id: str
    sink: str
    sink_topic: str
    source: str
    source_topic: str
    source_columns: dict[str, str]  # value columns of the source stream -> SQL type
    source_timestamp: str | None  # the source stream's TIMESTAMP column (None: record timestamp)
    outputs: list[tuple[str, Expr]]  # (sink column, expression)
    where: Expr | None
    sink_timestamp: str | None  # the sink's TIMESTAMP column, when this query is its CSAS
    offset_reset: str
    consumer_group: str


class KafkaProjection:
    """A running stateless query; test-visible: consumed, emitted, processing_log, error, running."""

    def __init__(self, plan: ProjectionPlan, bootstrap: str):
        self.plan = plan
        self.bootstrap = bootstrap
        self.consumed = 0
        self.emitted = 0
        self.processing_log: list[str] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._consumer: Any = None
        self._producer: Any = None

    def start(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        p = self.plan
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "logger": log,
                "group.id": p.consumer_group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": p.offset_reset,
            }
        )
        try:
            md = consumer.list_topics(timeout=10)
            topic = md.topics.get(p.source_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise RuntimeError(f"Missing source topic: {p.source_topic}")
            assignment = []
            for part in sorted(topic.partitions):
                if p.offset_reset == "earliest":
                    offset = OFFSET_BEGINNING
                else:
                    _, offset = consumer.get_watermark_offsets(TopicPartition(p.source_topic, part), timeout=10, cached=False)
                assignment.append(TopicPartition(p.source_topic, part, offset))
            consumer.assign(assignment)
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer
        self._producer = Producer({"bootstrap.servers": self.bootstrap, "logger": log, "linger.ms": 0, "enable.idempotence": True})
        self._thread = threading.Thread(target=self._run, name=f"ksqldb-double-{p.query_id}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0, *, commit: bool = True) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, predicate: Callable[[KafkaProjection], bool], timeout: float = 30.0) -> bool:
        with self._cond:
            self._cond.wait_for(lambda: predicate(self) or self.error is not None or self._stop.is_set(), timeout)
            return predicate(self)

    def _run(self) -> None:
        from confluent_kafka import KafkaError

        consumer, producer = self._consumer, self._producer
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=0.1)
                out = []
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        if err.fatal() or err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
                            raise RuntimeError(f"consumer error on {self.plan.source_topic}: {err}")
                        continue
                    rec = self._process(m)
                    if rec is not None:
                        out.append(rec)
                for value, ts in out:
                    producer.produce(self.plan.sink_topic, key=None, value=value, timestamp=ts)
                if out:
                    producer.flush(10)
                with self._cond:
                    self.emitted += len(out)
                    self._cond.notify_all()
        except BaseException as exc:  # the query goes to ERROR, as a failed Kafka Streams app does
            log.exception("ksqlDB double query %s failed", self.plan.query_id)
            self.error = exc
        finally:
            try:
                producer.flush(10)
            except Exception:  # pragma: no cover - best effort on the way out
                pass
            consumer.close()
            self._producer = None
            with self._cond:
                self._cond.notify_all()

    def _skip(self, m: Any, why: str) -> None:
        with self._cond:
            self.processing_log.append(f"{m.topic()}[{m.partition()}]@{m.offset()}: {why}")

    def _process(self, m: Any) -> tuple[bytes, int] | None:
        from tests.doubles.ksqldb_server import _json_value

        p = self.plan
        with self._cond:
            self.consumed += 1
        raw = m.value()
        if raw is None:
            self._skip(m, "null value (tombstone) ignored")
            return None
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise ValueError(f"Can't convert type. sourceType: {type(obj).__name__}, requiredType: STRUCT")
            fields = {str(k).upper(): v for k, v in obj.items()}
            row = {c: _json_value(fields.get(c), t) for c, t in p.source_columns.items()}
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            self._skip(m, f"Failed to deserialize value from topic: {p.source_topic}. {exc}")
            return None
        rowtime = row.get(p.source_timestamp) if p.source_timestamp else m.timestamp()[1]
        if rowtime is None or rowtime < 0:
            self._skip(m, f"Failed to extract timestamp from row: {rowtime!r}")
            return None
        if p.where is not None and not truth(p.where, row):
            return None
        try:
            out = {col: evaluate(e, row) for col, e in p.outputs}
        except (ValueError, TypeError) as exc:
            self._skip(m, f"Error computing expression: {exc}")
            return None
        ts = out.get(p.sink_timestamp) if p.sink_timestamp else rowtime
        if ts is None or ts < 0:
            self._skip(m, f"Skipping record due to invalid timestamp {ts!r}")
            return None
        return json.dumps(out, separators=(",", ":")).encode(), int(ts)


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__ = ["KafkaProjection", "ProjectionPlan"]
