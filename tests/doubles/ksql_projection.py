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
The records are read by tests/doubles/ksql_kafka_io.py, as the windowed aggregate's are; the plan is
validated and built by tests/doubles/ksql_query_plans.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from tests.doubles.ksql_expr import Expr, evaluate, truth
from tests.doubles.ksql_kafka_io import KafkaQuery

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


class KafkaProjection(KafkaQuery):
    """A running stateless query; test-visible: consumed, emitted, processing_log, error, running."""

    def __init__(self, plan: ProjectionPlan, bootstrap: str):
        super().__init__(plan, bootstrap)
        self.plan: ProjectionPlan = plan

    def _run(self) -> None:
        consumer, producer = self._consumer, self._producer
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=0.1)
                out = []
                for m in msgs:
                    if not self._is_record(m):
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

    def _process(self, m: Any) -> tuple[bytes, int] | None:
        p = self.plan
        row = self._decode(m)
        if row is None:
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


__all__ = ["KafkaProjection", "ProjectionPlan"]
