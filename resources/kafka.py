"""Kafka itself (confluent-kafka): topics, record counts from watermarks, consumer-group lag, produce.

Counts come from low/high watermarks, never from consuming: cheap enough for every sensor tick.
"""

from __future__ import annotations

import contextlib
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
from resources.read_cache import ReadCache
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
        self._reads = ReadCache()

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
        transport = (
            isinstance(e, KafkaException)
            and e.args
            and isinstance(e.args[0], KafkaError)
            and e.args[0].code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN)
        )
        return (KafkaUnreachable if transport else KafkaResourceError)(text)

    def _consumer(self) -> Consumer:
        # no subscription and no commits: used only to read watermarks and committed offsets
        return Consumer({**self._conf, "group.id": "cdc-control-plane-probe", "enable.auto.commit": False})

    # ------------------------------------------------------------ topics

    def cached_reads(self) -> contextlib.AbstractContextManager[None]:
        """Within the block the topic metadata, the topics' configs and their watermarks are each read once for
        all topics (resources.read_cache); creating or deleting a topic clears them."""
        return self._reads.scope()

    def _metadata(self) -> Any:
        # Metadata of ALL topics: a request naming a topic makes a broker with auto.create.topics.enable
        # (the local stack's) create it, so even a dry run would leave the topic behind.
        def fetch() -> Any:
            try:
                return self._admin.list_topics(timeout=self.timeout)
            except KafkaException as e:
                raise self._err("list topics", e) from None

        return self._reads.get("metadata", fetch)

    def list_topics(self) -> dict[str, int]:
        return {name: len(t.partitions) for name, t in self._metadata().topics.items() if not t.error}

    def _topic_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """Non-default config values of the topics, in one DescribeConfigs request."""
        if not names:
            return {}
        futs = self._admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
        out = {}
        try:
            for res, fut in futs.items():
                entries = fut.result(timeout=self.timeout)
                out[res.name] = {k: v.value for k, v in entries.items() if not v.is_default and v.value is not None}
        except KafkaException as e:
            raise self._err(f"describe configs of {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}", e) from None
        return out

    def describe_topic(self, name: str) -> TopicInfo | None:
        t = self._metadata().topics.get(name)
        if t is None or (t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            return None
        if t.error is not None:
            raise KafkaResourceError(f"Kafka topic {name}: {t.error}")
        replication = max((len(p.replicas) for p in t.partitions.values()), default=0)
        if self._reads.active:
            every = self._reads.get("configs", lambda: self._topic_configs(sorted(self.list_topics())))
            configs = every[name] if name in every else self._topic_configs([name])[name]
        else:
            configs = self._topic_configs([name])[name]
        return TopicInfo(name, len(t.partitions), replication, configs)

    def create_topic(self, name: str, partitions: int = 1, replication: int = 1, configs: Mapping[str, str] | None = None) -> str:
        """'created' or 'unchanged' (it already existed; its settings are left as they are)."""
        self._reads.clear()
        fut = self._admin.create_topics(
            [
                NewTopic(
                    name, num_partitions=partitions, replication_factor=replication, config={k: str(v) for k, v in (configs or {}).items()}
                )
            ]
        )
        try:
            fut[name].result(timeout=self.timeout)
        except KafkaException as e:
            if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return "unchanged"
            raise self._err(f"create topic {name}", e) from None
        return "created"

    def delete_topic(self, name: str) -> bool:
        self._reads.clear()
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
        if self._reads.active:
            every = self._reads.get("watermarks", lambda: self._all_watermarks(sizes))
            return {t: TopicCounts(t, every[t]) for t in topics if t in every}
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

    def _all_watermarks(self, sizes: Mapping[str, int]) -> dict[str, dict[int, tuple[int, int]]]:
        """(low, high) of every partition of the topics, in two ListOffsets rounds (earliest, latest)."""
        from confluent_kafka.admin import OffsetSpec

        parts = [TopicPartition(t, p) for t, n in sizes.items() for p in range(n)]
        out: dict[str, dict[int, tuple[int, int]]] = {t: {} for t in sizes}
        if not parts:
            return out
        try:
            low = {
                (tp.topic, tp.partition): f.result().offset
                for tp, f in self._admin.list_offsets({tp: OffsetSpec.earliest() for tp in parts}, request_timeout=self.timeout).items()
            }
            high = {
                (tp.topic, tp.partition): f.result().offset
                for tp, f in self._admin.list_offsets({tp: OffsetSpec.latest() for tp in parts}, request_timeout=self.timeout).items()
            }
        except KafkaException as e:
            raise self._err("read watermarks", e) from None
        for (t, p), lo in low.items():
            out[t][p] = (lo, high[(t, p)])
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

    def produce(
        self, topic: str, records: Iterable[tuple[bytes | str | None, bytes | str | None]], headers: Mapping[str, str] | None = None
    ) -> int:
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
            raise KafkaUnreachable(
                f"Kafka at {self.bootstrap_servers}: produce to {topic}: no broker acknowledged "
                f"any of {n} record(s) within {self.timeout:.0f}s"
            )
        if errors or remaining:
            raise KafkaResourceError(
                scrub(f"Kafka produce to {topic}: {len(errors)} failed, {remaining} unsent: {errors[:3]}", self._secrets)
            )
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
        return (
            f"KafkaResource(bootstrap_servers={self.bootstrap_servers!r}, sasl_username={self.sasl_username!r}, "
            f"sasl_password={REDACTED if self.sasl_password else None})"
        )

    __str__ = __repr__
