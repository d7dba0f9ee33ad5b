"""KafkaResource against the real KRaft broker."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

pytestmark = pytest.mark.integration


def test_create_topic_counts_and_describe(kafka_client, unique):
    assert kafka_client.create_topic(unique, partitions=2, configs={"retention.ms": "3600000"}) == "created"
    assert kafka_client.create_topic(unique, partitions=2) == "unchanged"
    info = kafka_client.describe_topic(unique)
    assert info.partitions == 2 and info.replication == 1
    assert info.configs["retention.ms"] == "3600000"
    assert kafka_client.produce(unique, [(f"k{i}", f"v{i}") for i in range(7)]) == 7
    counts = kafka_client.topic_counts([unique])[unique]
    assert counts.records == 7 and set(counts.watermarks) == {0, 1}
    assert kafka_client.describe_topic(unique + "-missing") is None
    assert kafka_client.delete_topic(unique) is True


def test_consumer_group_lag(kafka_client, stack, unique):
    kafka_client.create_topic(unique)
    kafka_client.produce(unique, [(None, str(i)) for i in range(10)])
    group = f"connect-{unique}"
    c = Consumer({"bootstrap.servers": stack["KAFKA_BOOTSTRAP_SERVERS"], "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(unique, 0, 4)], asynchronous=False)
    c.close()
    lag = kafka_client.consumer_group_lag(group)
    assert lag.per_partition == {(unique, 0): 6}
    assert lag.total == 6


def test_sasl_password_never_in_errors(caplog):
    from resources.kafka import KafkaResource, KafkaResourceError

    res = KafkaResource(
        bootstrap_servers="127.0.0.1:1",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password="kafka-secret-pw-77",
        timeout_seconds=2,
    )
    assert "kafka-secret-pw-77" not in repr(res)
    with pytest.raises(KafkaResourceError) as e:
        res.get_client().list_topics()
    assert "127.0.0.1:1" in str(e.value)
    assert "kafka-secret-pw-77" not in str(e.value) and "kafka-secret-pw-77" not in caplog.text
