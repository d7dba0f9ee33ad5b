"""The real Kafka topics behind the ksqlDB double's metastore in Kafka-backed mode.

CREATE checks and creates real topics, DROP ... DELETE TOPIC deletes them. A request only queues these
changes (Metastore.topic_ops) while its statements are validated; the server applies them once every
statement passed, so a rejected request leaves the cluster as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from tests.doubles.ksql_lexical import SqlError
from tests.doubles.ksql_metastore import Metastore

log = logging.getLogger(__name__)


class KafkaTopics:
    """The cluster at `bootstrap`, through one lazily created AdminClient."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self._admin: Any = None

    def _admin_client(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "logger": log})
        return self._admin

    def info(self, st: Metastore, topic: str) -> tuple[int, int] | None:
        """(partitions, replicas) of a topic as this request sees it: its own pending creates and
        deletes first, then the real cluster. None when it does not exist."""
        for op in reversed(st.topic_ops):
            if op[1] == topic:
                return (op[2], op[3]) if op[0] == "create" else None
        md = self._admin_client().list_topics(timeout=10)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return None
        return len(t.partitions), max((len(p.replicas) for p in t.partitions.values()), default=1)

    def apply(self, ops: list[tuple]) -> None:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        admin = self._admin_client() if ops else None
        for op in ops:
            if op[0] == "create":
                _, name, partitions, replicas, configs = op
                fut = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replicas, config=dict(configs))])
                try:
                    fut[name].result(timeout=15)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
            else:
                name = op[1]
                fut = admin.delete_topics([name], operation_timeout=15)
                try:
                    fut[name].result(timeout=15)
                except KafkaException as e:
                    if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise


def check_topic_matches(topic: str, have: tuple[int, int], partitions: int, replicas: int | None) -> None:
    # KafkaTopicClientImpl#validateTopicProperties
    if have[0] != partitions or (replicas is not None and have[1] != replicas):
        raise SqlError(
            f"A Kafka topic with the name '{topic}' already exists, with different partition/replica "
            f"configuration than required. KSQL expects {partitions} partitions (topic has {have[0]}), "
            f"{replicas if replicas is not None else have[1]} replication factor (topic has {have[1]})."
        )


def missing_topic_message(topic: str) -> str:
    # TopicCreateInjector#injectForCreateSource (it runs before CreateSourceFactory, whose
    # "Kafka topic does not exist: <topic>" a REST client therefore does not see); the real message
    # goes on with "For example: <the statement with PARTITIONS=2>", which the double leaves out.
    return (
        f"Topic '{topic}' does not exist. If you want to create a new topic for the "
        "stream/table please re-run the statement providing the required 'PARTITIONS' "
        "configuration in the WITH clause (and optionally 'REPLICAS')."
    )


__all__ = ["KafkaTopics", "check_topic_matches", "missing_topic_message"]
