"""Kafka topics: the CDC topics the source connectors write and the aggregate topics the engine
writes. A topic written by a connector is created up front with the spec's partitions; one the
engine writes is created by the engine, and a missing one means its query never ran."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome, ProvisionFailure, would


@dataclass(frozen=True)
class TopicProps:
    name: str
    partitions: int
    replication: int
    created_by_engine: bool  # the engine creates it with its query; we only observe it
    avro_sides: tuple[str, ...] = ()  # "key"/"value" written as Avro: their subjects live in Schema Registry


def topic_key(topic: str) -> tuple[str, str]:
    return ("kafka", asset_key_component(topic))


def topic_node(props: TopicProps, facts: dict[str, Any], code_version: str) -> LineageNode:
    return LineageNode(
        key=topic_key(props.name),
        kind="kafka_topic",
        name=props.name,
        group="kafka",
        system="kafka",
        desired=props,
        metadata={"topic": props.name, **facts},
        code_version=code_version,
        description=f"Kafka topic {props.name}",
        kinds=frozenset({"kafka"}),
    )


class KafkaTopics(registry.System):
    name = "kafka"
    resource_keys = frozenset({"kafka"})

    def resources(self) -> dict[str, Any]:
        from resources import endpoints as ep
        from resources.kafka import KafkaResource
        from resources.schema_registry import SchemaRegistryResource

        # the registry is only reached by the checks of Avro topics (compose profile)
        return {
            "kafka": KafkaResource(bootstrap_servers=ep.KAFKA_BOOTSTRAP_SERVERS.get()),
            "schema_registry": SchemaRegistryResource(url=ep.SCHEMA_REGISTRY_URL.get()),
        }

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        from pipeline_defs.systems.kafka.schemas import schema_checks

        return schema_checks(node)

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        t: TopicProps = node.desired
        kafka = resources.kafka.get_client()
        info = kafka.describe_topic(t.name)
        changes: list[str] = []
        if info is None:
            if t.created_by_engine:
                return Outcome(t.name, "missing", [], {"exists": False})
            changes.append(f"create topic {t.name} ({t.partitions} partitions)")
            if not dry_run:
                kafka.create_topic(t.name, partitions=t.partitions, replication=t.replication)
                # the broker answers the create before its metadata cache lists the topic (seen under load)
                deadline = time.monotonic() + 15
                while (info := kafka.describe_topic(t.name)) is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                if info is None:
                    raise ProvisionFailure(f"topic {t.name} was created but the broker does not list it after 15 s")
        if info is None:
            return Outcome(t.name, "would_create", changes, {"exists": False})
        counts = kafka.topic_counts([t.name]).get(t.name)
        md = {
            "topic": t.name,
            "partitions": info.partitions,
            "replication": info.replication,
            "records": counts.records if counts else 0,
            "end_offset": counts.end_offset if counts else 0,
        }
        action = "created" if changes else ("observed" if t.created_by_engine else "unchanged")
        return Outcome(t.name, action if not dry_run else would(action), changes, md)


registry.register(KafkaTopics())
