"""The Kafka I/O every Kafka-backed persistent query of the ksqlDB double shares.

KafkaQuery is the part of a running query that does not depend on what it computes: the consumer
assigned to every partition of the source topic at the offsets `auto.offset.reset` names, the idempotent
producer, the daemon thread, stop/wait, the processing log, and the decoding of a source record into a
row as ksqlDB's JSON and KAFKA formats do. The windowed aggregate (tests/doubles/ksql_windowed_aggregation.py)
and the stateless projection (tests/doubles/ksql_projection.py) subclass it, so both read records the same way.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import threading
from collections.abc import Callable
from typing import Any, Self

log = logging.getLogger(__name__)


class KafkaQuery:
    """A running query over `plan.source_topic`; test-visible: consumed, emitted, processing_log, error, running.

    Subclasses implement _run() (the thread's body)."""

    # consumer settings a subclass adds to the common ones
    consumer_settings: dict[str, Any] = {}

    def __init__(self, plan: Any, bootstrap: str):
        self.plan = plan
        self.bootstrap = bootstrap
        self.consumed = 0
        self.emitted = 0
        self.processing_log: list[str] = []
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._commit_on_stop = True
        self._thread: threading.Thread | None = None
        self._consumer: Any = None
        self._producer: Any = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Resolve the start offsets and assign the consumer synchronously (so `latest` means "after
        the CREATE was answered"), then run on a daemon thread."""
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
                **self.consumer_settings,
            }
        )
        try:
            md = consumer.list_topics(timeout=10)
            topic = md.topics.get(p.source_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise RuntimeError(f"Missing source topic: {p.source_topic}")
            self._source_partitions(len(topic.partitions))
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

    def _source_partitions(self, count: int) -> None:
        """Called by start() with the source topic's partition count, for queries that depend on it."""

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 15.0, *, commit: bool = True) -> None:
        """Stop the query. commit=True is a clean shutdown (Kafka Streams commits, flushing the cache);
        commit=False a crash (buffered updates are never produced)."""
        self._commit_on_stop = commit
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self, predicate: Callable[[Self], bool], timeout: float = 30.0) -> bool:
        """Block until predicate(self) holds (checked after every polled batch and every commit), the
        query stops or fails, or the timeout passes; returns predicate(self)."""
        with self._cond:
            self._cond.wait_for(lambda: predicate(self) or self.error is not None or self._stop.is_set(), timeout)
            return predicate(self)

    # -- records --------------------------------------------------------------------------------

    def _is_record(self, m: Any) -> bool:
        """True when a polled message carries a record; raises on the errors a Kafka Streams app dies of."""
        from confluent_kafka import KafkaError

        err = m.error()
        if err is None:
            return True
        if err.code() == KafkaError._PARTITION_EOF:
            return False
        if err.fatal() or err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
            raise RuntimeError(f"consumer error on {self.plan.source_topic}: {err}")
        self._transient_error(err)
        return False

    def _transient_error(self, err: Any) -> None:
        """A consumer error librdkafka recovers from by itself."""

    def _skip(self, m: Any, why: str) -> None:
        with self._cond:
            self.processing_log.append(f"{m.topic()}[{m.partition()}]@{m.offset()}: {why}")

    def _decode(self, m: Any, key_columns: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The row of a source record: the value columns (`plan.source_columns`) from its JSON value, and
        the one KAFKA-format key column if the stream has one. None (and a processing-log line) for a
        record ksqlDB would skip."""
        p = self.plan
        with self._cond:
            self.consumed += 1
        raw = m.value()
        if raw is None:  # a tombstone is no row of a stream
            self._skip(m, "null value (tombstone) ignored")
            return None
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict):
                raise ValueError(f"Can't convert type. sourceType: {type(obj).__name__}, requiredType: STRUCT")
            fields = {str(k).upper(): v for k, v in obj.items()}  # ksqlDB matches JSON fields case-insensitively
            row = {col: json_value(fields.get(col), sql_type) for col, sql_type in p.source_columns.items()}
            if key_columns:
                col, sql_type = next(iter(key_columns.items()))
                row[col] = kafka_key_value(m.key(), sql_type)
        except (ValueError, TypeError, UnicodeDecodeError, struct.error) as exc:
            self._skip(m, f"Failed to deserialize value from topic: {p.source_topic}. {exc}")
            return None
        return row


# The KAFKA format: Kafka's own serializers (StringSerializer, IntegerSerializer, LongSerializer, DoubleSerializer).
_KAFKA_KEY_FORMATS = {"INTEGER": ">i", "BIGINT": ">q", "DOUBLE": ">d"}
KAFKA_KEY_TYPES = ("STRING", *_KAFKA_KEY_FORMATS)


def kafka_key_bytes(value: Any, sql_type: str) -> bytes:
    if sql_type == "STRING":
        return str(value).encode("utf-8")
    return struct.pack(_KAFKA_KEY_FORMATS[sql_type], value)


def kafka_key_value(raw: bytes | None, sql_type: str) -> Any:
    if raw is None:
        return None
    if sql_type == "STRING":
        return raw.decode("utf-8")
    return struct.unpack(_KAFKA_KEY_FORMATS[sql_type], raw)[0]


def json_value(value: Any, sql_type: str) -> Any:
    """A JSON field as ksqlDB's JSON deserializer coerces it into a column type (ValueError if it can't)."""
    if value is None:
        return None
    base = sql_type.split("(")[0].split("<")[0]
    if base == "STRING":  # non-text JSON becomes its JSON text (JsonNode.toString())
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if base in ("BIGINT", "INTEGER", "TIMESTAMP"):
        if isinstance(value, bool):
            raise ValueError(f"Can't convert type. sourceType: BOOLEAN, requiredType: {base}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value.strip())
        raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: {base}")
    if base in ("DOUBLE", "DECIMAL"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: {base}")
        return float(value)
    if base == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"Can't convert type. sourceType: {type(value).__name__}, requiredType: BOOLEAN")
    return value


__all__ = ["KAFKA_KEY_TYPES", "KafkaQuery", "json_value", "kafka_key_bytes", "kafka_key_value"]
