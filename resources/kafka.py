"""Kafka itself (confluent-kafka): topics, record counts from watermarks, consumer-group lag, produce.

Counts come from low/high watermarks, never from consuming: cheap enough for every sensor tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from pydantic import Field

from resources._http import ClientOwner
from resources.endpoints import KAFKA_BOOTSTRAP_SERVERS
from resources.errors import ResourceError, Unreachable
from resources.redaction import REDACTED, scrub

log = logging.getLogger(__name__)


class KafkaResourceError(ResourceError):
    system = "Kafka"


class KafkaUnreachable(Unreachable, KafkaResourceError):
    pass


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    replication: int
    configs: dict[str, str]


@dataclass(frozen=True)
class TopicCounts:
    topic: str
    watermarks: dict[int, tuple[int, int]]  # partition -> (low, high)

    @property
    def records(self) -> int:
        return sum(high - low for low, high in self.watermarks.values())

    @property
    def end_offset(self) -> int:
        return sum(high for _, high in self.watermarks.values())


@dataclass(frozen=True)
class GroupLag:
    group: str
    per_partition: dict[tuple[str, int], int]  # (topic, partition) -> lag

    @property
    def total(self) -> int:
        return sum(self.per_partition.values())


class KafkaClient:
    def __init__(self, bootstrap_servers: str, *, extra: Mapping[str, Any] | None = None, timeout: float = 10.0):
        self.bootstrap_servers = bootstrap_servers
        self.timeout = timeout
        self._conf = {"bootstrap.servers": bootstrap_servers, **(extra or {})}
        self._secrets = {str(v) for k, v in self._conf.items() if "password" in k or "jaas" in k}
        # librdkafka writes its own log lines to stderr; route them through Python logging instead,
        # where the run's handlers (and their levels) apply
        self._conf["logger"] = logging.getLogger("resources.kafka.librdkafka")
        self._admin = AdminClient(dict(self._conf))
        self._closed = False

    # librdkafka's handles have no close(): dropping them frees their threads and sockets
    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _err(self, what: str, e: Exception) -> KafkaResourceError:
        text = scrub(f"Kafka at {self.bootstrap_servers}: {what}: {e}", self._secrets)
        transport = isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError) and \
            e.args[0].code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN)
        return (KafkaUnreachable if transport else KafkaResourceError)(text)

    def _consumer(self) -> Consumer:
        # no subscription and no commits: used only to read watermarks and committed offsets
        return Consumer({**self._conf, "group.id": "cdc-control-plane-probe", "enable.auto.commit": False})

    # ------------------------------------------------------------ topics

    def list_topics(self) -> dict[str, int]:
        try:
            md = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as e:
            raise self._err("list topics", e) from None
        return {name: len(t.partitions) for name, t in md.topics.items() if not t.error}

    def describe_topic(self, name: str) -> TopicInfo | None:
        try:
            md = self._admin.list_topics(topic=name, timeout=self.timeout)
        except KafkaException as e:
            raise self._err(f"describe {name}", e) from None
        t = md.topics.get(name)
        if t is None or (t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            return None
        if t.error is not None:
            raise KafkaResourceError(f"Kafka topic {name}: {t.error}")
        replication = max((len(p.replicas) for p in t.partitions.values()), default=0)
        fut = self._admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)])
        try:
            entries = next(iter(fut.values())).result(timeout=self.timeout)
        except KafkaException as e:
            raise self._err(f"describe configs of {name}", e) from None
        configs = {k: v.value for k, v in entries.items() if not v.is_default and v.value is not None}
        return TopicInfo(name, len(t.partitions), replication, configs)

    def create_topic(self, name: str, partitions: int = 1, replication: int = 1,
                     configs: Mapping[str, str] | None = None) -> str:
        """'created' or 'unchanged' (it already existed; its settings are left as they are)."""
        fut = self._admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replication,
                                                  config={k: str(v) for k, v in (configs or {}).items()})])
        try:
            fut[name].result(timeout=self.timeout)
        except KafkaException as e:
            if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return "unchanged"
            raise self._err(f"create topic {name}", e) from None
        return "created"

    def delete_topic(self, name: str) -> bool:
        fut = self._admin.delete_topics([name], operation_timeout=self.timeout)
        try:
            fut[name].result(timeout=self.timeout)
        except KafkaException as e:
            if e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return False
            raise self._err(f"delete topic {name}", e) from None
        return True

    def topic_counts(self, topics: Iterable[str]) -> dict[str, TopicCounts]:
        topics = list(topics)
        out: dict[str, TopicCounts] = {}
        if not topics:
            return out
        sizes = self.list_topics()
        c = self._consumer()
        try:
            for topic in topics:
                if topic not in sizes:
                    continue
                marks = {}
                for p in range(sizes[topic]):
                    low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=self.timeout, cached=False)
                    marks[p] = (low, high)
                out[topic] = TopicCounts(topic, marks)
        except KafkaException as e:
            raise self._err("read watermarks", e) from None
        finally:
            c.close()
        return out

    def consumer_group_lag(self, group: str) -> GroupLag:
        """Lag of every partition the group has committed offsets for (e.g. a sink's connect-<name>)."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        fut = self._admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        try:
            committed = fut[group].result(timeout=self.timeout).topic_partitions or []
        except KafkaException as e:
            raise self._err(f"committed offsets of group {group}", e) from None
        lag: dict[tuple[str, int], int] = {}
        c = self._consumer()
        try:
            for tp in committed:
                if tp.offset < 0:
                    continue
                _, high = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=self.timeout, cached=False)
                lag[(tp.topic, tp.partition)] = max(0, high - tp.offset)
        except KafkaException as e:
            raise self._err(f"watermarks for group {group}", e) from None
        finally:
            c.close()
        return GroupLag(group, lag)

    def produce(self, topic: str, records: Iterable[tuple[bytes | str | None, bytes | str | None]],
                headers: Mapping[str, str] | None = None) -> int:
        """Produce (key, value) pairs and wait for every delivery; returns how many were acknowledged."""
        p = Producer({**self._conf, "linger.ms": 5, "enable.idempotence": True})
        errors: list[str] = []
        delivered = 0

        def on_delivery(err, _msg):
            nonlocal delivered
            if err is not None:
                errors.append(str(err))
            else:
                delivered += 1

        n = 0
        for key, value in records:
            p.produce(topic, key=key, value=value, headers=dict(headers or {}), on_delivery=on_delivery)
            n += 1
            if n % 10000 == 0:
                p.poll(0)
        remaining = p.flush(self.timeout)
        if n and remaining == n and not errors:
            raise KafkaUnreachable(f"Kafka at {self.bootstrap_servers}: produce to {topic}: no broker acknowledged "
                                   f"any of {n} record(s) within {self.timeout:.0f}s")
        if errors or remaining:
            raise KafkaResourceError(scrub(f"Kafka produce to {topic}: {len(errors)} failed, {remaining} unsent: "
                                           f"{errors[:3]}", self._secrets))
        return delivered


class KafkaResource(ClientOwner):
    """The Kafka cluster the CDC topics live on."""

    bootstrap_servers: str = Field(default=KAFKA_BOOTSTRAP_SERVERS.default, description="env KAFKA_BOOTSTRAP_SERVERS")
    security_protocol: str | None = Field(default=None, description="e.g. SASL_SSL")
    sasl_mechanism: str | None = Field(default=None, description="e.g. PLAIN or SCRAM-SHA-512")
    sasl_username: str | None = Field(default=None)
    sasl_password: str | None = Field(default=None, description="pass dagster.EnvVar")
    timeout_seconds: float = Field(default=10.0)

    def get_client(self) -> KafkaClient:
        """The client this resource owns for the execution (closed at teardown, or by `with`)."""
        return self._owned_client()

    def _new_client(self, kind: str) -> KafkaClient:
        extra: dict[str, Any] = {}
        if self.security_protocol:
            extra["security.protocol"] = self.security_protocol
        if self.sasl_mechanism:
            extra["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            extra["sasl.username"] = self.sasl_username
            extra["sasl.password"] = self.sasl_password or ""
        return KafkaClient(self.bootstrap_servers, extra=extra, timeout=self.timeout_seconds)

    def __repr__(self) -> str:
        return (f"KafkaResource(bootstrap_servers={self.bootstrap_servers!r}, sasl_username={self.sasl_username!r}, "
                f"sasl_password={REDACTED if self.sasl_password else None})")

    __str__ = __repr__
