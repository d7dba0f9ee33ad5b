"""Software-defined assets built from the spec's lineage: one asset per Oracle object, connector,
topic, ksqlDB object and Redis keyspace, in one graph.

`CdcTranslator` turns a lineage node into an AssetSpec (the dagster-fivetran/sling pattern): key,
group per system, kinds, description, the node's facts as metadata and a code_version that is the
hash of the node's part of the spec, so an edited spec marks exactly the changed assets stale.
Materializing an asset provisions it idempotently (pipeline_defs/provision.py).
"""


import json
from typing import Any

import dagster as dg

from pipeline_defs import provision
from pipeline_defs.derive import Lineage, LineageNode
from pipeline_defs.spec import PipelineSpec
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.oracle import OracleResource
from resources.redaction import redact_mapping
from resources.redis_json import RedisResource

KINDS = {
    "oracle_role": {"oracle", "sql"}, "oracle_user": {"oracle", "sql"}, "oracle_table": {"oracle", "sql"},
    "source_connector": {"kafka", "connect"}, "sink_connector": {"kafka", "connect"},
    "kafka_topic": {"kafka"}, "ksql_stream": {"ksqldb"}, "ksql_table": {"ksqldb"}, "redis_keys": {"redis"},
}
DESCRIPTIONS = {
    "oracle_role": "Oracle CDC role {name} with every grant in the spec, plus the database's supplemental logging",
    "oracle_user": "Oracle CDC user {name}: tablespace, quota, roles and grants",
    "oracle_table": "Oracle table {name}: columns, primary key, SELECT for the CDC role, all-column supplemental logging, initial rows",
    "source_connector": "Kafka Connect source {name}: captures Oracle changes into Kafka",
    "sink_connector": "Kafka Connect sink {name}: writes the aggregate into Redis",
    "kafka_topic": "Kafka topic {name}",
    "ksql_stream": "ksqlDB stream {name}",
    "ksql_table": "ksqlDB table {name}",
    "redis_keys": "Redis aggregates {name}:<NAME> (JSON: the count of the latest window per NAME)",
}


def _metadata_value(v: Any) -> Any:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return dg.MetadataValue.json(json.loads(json.dumps(v, default=str)))


class CdcTranslator:
    """Lineage node -> AssetSpec. Subclass and override a method to change keys, groups or kinds."""

    def get_asset_key(self, node: LineageNode) -> dg.AssetKey:
        return dg.AssetKey(list(node.key))

    def get_group_name(self, node: LineageNode) -> str:
        return node.group

    def get_kinds(self, node: LineageNode) -> set[str]:
        return KINDS[node.kind]

    def get_description(self, node: LineageNode) -> str:
        return DESCRIPTIONS[node.kind].format(name=node.name)

    def get_metadata(self, node: LineageNode) -> dict[str, Any]:
        md = {k: v for k, v in redact_mapping(node.metadata).items() if v is not None}
        return {k: _metadata_value(v) for k, v in md.items()}

    def get_asset_spec(self, node: LineageNode, lineage: Lineage) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=self.get_asset_key(node),
            deps=[dg.AssetKey(list(d)) for d in lineage.deps(node.key)],
            description=self.get_description(node),
            group_name=self.get_group_name(node),
            kinds=self.get_kinds(node),
            metadata=self.get_metadata(node),
            code_version=node.code_version or None,
            tags={"cdc/kind": node.kind},
        )


def outcome_metadata(out: provision.Outcome) -> dict[str, Any]:
    """Action, the writes as markdown, and every number as a number so the UI plots it over time."""
    md: dict[str, Any] = {"action": out.action, "writes": out.writes}
    if out.changes:
        md["changes"] = dg.MetadataValue.md("\n".join(f"- `{c}`" if "\n" not in c else f"```sql\n{c}\n```" for c in out.changes))
    for k, v in redact_mapping(out.metadata).items():
        md[k] = _metadata_value(v)
    return md


def _spec_kwargs(aspec: dg.AssetSpec) -> dict[str, Any]:
    return dict(key=aspec.key, deps=list(aspec.deps), description=aspec.description, group_name=aspec.group_name,
                kinds=aspec.kinds, metadata=aspec.metadata, code_version=aspec.code_version, tags=aspec.tags)


def _log(context: dg.AssetExecutionContext, out: provision.Outcome) -> None:
    context.log.info(f"{out.node}: {out.action}" + (f" ({len(out.changes)} change(s))" if out.changes else ""))
    for c in out.changes:
        context.log.info(f"  {c.splitlines()[0]}")


def build_node_asset(spec: PipelineSpec, lineage: Lineage, node: LineageNode,
                     translator: CdcTranslator | None = None) -> dg.AssetsDefinition:
    kw = _spec_kwargs((translator or CdcTranslator()).get_asset_spec(node, lineage))
    kind = node.kind

    if kind.startswith("oracle_"):
        @dg.asset(**kw)
        def _oracle(context: dg.AssetExecutionContext, oracle: OracleResource) -> dg.MaterializeResult:
            with oracle.admin_client() as admin:
                out = provision.provision_oracle(spec, node, admin, user_password=oracle.password, dry_run=False)
            _log(context, out)
            return dg.MaterializeResult(metadata=outcome_metadata(out))
        return _oracle

    if kind in ("source_connector", "sink_connector"):
        @dg.asset(**kw, pool="kafka_connect")
        def _connector(context: dg.AssetExecutionContext, connect: KafkaConnectResource,
                       kafka: KafkaResource) -> dg.MaterializeResult:
            out = provision.provision_connector(spec, node, connect.get_client(), kafka.get_client(), dry_run=False)
            _log(context, out)
            return dg.MaterializeResult(metadata=outcome_metadata(out))
        return _connector

    if kind == "kafka_topic":
        from_ksql = any(lineage.node(d).kind.startswith("ksql_") for d in lineage.deps(node.key))

        @dg.asset(**kw)
        def _topic(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
            out = provision.provision_topic(spec, node, kafka.get_client(), produced_by_ksql=from_ksql, dry_run=False)
            _log(context, out)
            if out.action == "missing":
                raise dg.Failure(f"topic {node.name} does not exist: the ksqlDB query that writes it has not created it",
                                 metadata={"topic": node.name})
            return dg.MaterializeResult(metadata=outcome_metadata(out))
        return _topic

    if kind.startswith("ksql_"):
        @dg.asset(**kw)
        def _ksql(context: dg.AssetExecutionContext, ksqldb: KsqlDbResource) -> dg.MaterializeResult:
            client = ksqldb.get_client()
            try:
                out = provision.provision_ksql(spec, node, client, dry_run=False)
            finally:
                client.close()
            _log(context, out)
            return dg.MaterializeResult(metadata=outcome_metadata(out))
        return _ksql

    if kind == "redis_keys":
        sink = next(lineage.node(d).name for d in lineage.deps(node.key))

        @dg.asset(**kw)
        def _redis(context: dg.AssetExecutionContext, redis: RedisResource) -> dg.MaterializeResult:
            out = provision.observe_redis(spec, node, redis.get_client(), sink=sink)
            _log(context, out)
            return dg.MaterializeResult(metadata=outcome_metadata(out))
        return _redis

    raise ValueError(f"no asset builder for lineage node kind {kind!r}")


def build_assets(spec: PipelineSpec, lineage: Lineage, translator: CdcTranslator | None = None) -> list[dg.AssetsDefinition]:
    return [build_node_asset(spec, lineage, n, translator) for n in lineage.nodes]
