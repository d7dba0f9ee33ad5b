"""Kafka Connect: every connector node (source or sink), whatever system it reads or writes."""

from __future__ import annotations

from typing import Any

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.core.outcome import Outcome


class KafkaConnect(registry.System):
    name = "connect"
    resource_keys = frozenset({"connect", "kafka"})
    pool = "kafka_connect"  # the worker rebalances on every write: one connector asset at a time

    def resources(self) -> dict[str, Any]:
        from resources import endpoints as ep
        from resources.connect import KafkaConnectResource

        return {"connect": KafkaConnectResource(url=ep.KAFKA_CONNECT_URL.get())}

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        from pipeline_defs.systems.connect.provision import apply_connector

        return apply_connector(node.desired, resources.connect.get_client(), resources.kafka.get_client(), dry_run=dry_run)

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        # one definition holds every connector's checks (see connectors_checks); it comes with the first
        from pipeline_defs.systems.connect.checks import connectors_checks

        nodes = lineage.by_system("connect")
        return [connectors_checks(nodes)] if nodes and node.key == nodes[0].key else []

    def jobs(self, spec: Any, lineage: Lineage) -> list:
        from pipeline_defs.systems.connect.jobs import connect_jobs
        from pipeline_defs.systems.connect.offset_jobs import offset_jobs

        return connect_jobs(lineage) + offset_jobs(lineage)

    def sensors(self, spec: Any, lineage: Lineage) -> list:
        from pipeline_defs.systems.connect.health import build_connector_health_sensor

        source = registry.source_of(spec)
        if not source.fault_resource_keys:
            return [build_connector_health_sensor(lineage)]
        return [
            build_connector_health_sensor(
                lineage,
                source_faults=lambda resources: source.connector_faults(spec, resources),
                fault_resource_keys=source.fault_resource_keys,
            )
        ]


registry.register(KafkaConnect())
