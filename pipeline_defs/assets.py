"""Software-defined assets built from the lineage: one asset per node, in one graph.

The translator turns a node into an AssetSpec (the dagster-fivetran/sling pattern): key, group
per system, kinds, description, the node's facts as metadata and a code_version that is the hash
of the node's part of the spec, so an edited spec marks exactly the changed assets stale.
Materializing an asset asks the node's system to provision it idempotently.
"""

import json
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.core.outcome import Outcome, ProvisionFailure
from resources.redaction import redact_mapping


def metadata_value(v: Any) -> Any:
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
        return set(node.kinds)

    def get_description(self, node: LineageNode) -> str:
        return node.description

    def get_metadata(self, node: LineageNode) -> dict[str, Any]:
        md = {k: v for k, v in redact_mapping(node.metadata).items() if v is not None}
        return {k: metadata_value(v) for k, v in md.items()}

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


def outcome_metadata(out: Outcome) -> dict[str, Any]:
    """Action, the writes as markdown, and every number as a number so the UI plots it over time."""
    md: dict[str, Any] = {"action": out.action, "writes": out.writes}
    if out.changes:
        md["changes"] = dg.MetadataValue.md("\n".join(f"- `{c}`" if "\n" not in c else f"```sql\n{c}\n```" for c in out.changes))
    for k, v in redact_mapping(out.metadata).items():
        md[k] = metadata_value(v)
    return md


def _log(context: dg.AssetExecutionContext, out: Outcome) -> None:
    context.log.info(f"{out.node}: {out.action}" + (f" ({len(out.changes)} change(s))" if out.changes else ""))
    for c in out.changes:
        context.log.info(f"  {c.splitlines()[0]}")


def build_node_asset(lineage: Lineage, node: LineageNode, translator: CdcTranslator | None = None) -> dg.AssetsDefinition:
    aspec = (translator or CdcTranslator()).get_asset_spec(node, lineage)
    system = registry.system(node.system)

    @dg.asset(
        key=aspec.key,
        deps=list(aspec.deps),
        description=aspec.description,
        group_name=aspec.group_name,
        kinds=aspec.kinds,
        metadata=aspec.metadata,
        code_version=aspec.code_version,
        tags=aspec.tags,
        required_resource_keys=set(system.resource_keys),
        pool=system.pool,
    )
    def _provision(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        try:
            out = system.provision(node, lineage, context.resources, dry_run=False)
        except ProvisionFailure as e:
            raise dg.Failure(str(e), metadata={k: metadata_value(v) for k, v in redact_mapping(e.metadata).items()}) from None
        _log(context, out)
        if out.action == "missing":
            raise dg.Failure(
                f"{node.name} does not exist: {out.metadata.get('problem', 'the engine query that writes it has not created it')}",
                metadata={"object": node.name},
            )
        return dg.MaterializeResult(metadata=outcome_metadata(out))

    return _provision


def build_assets(lineage: Lineage, translator: CdcTranslator | None = None) -> list[dg.AssetsDefinition]:
    return [build_node_asset(lineage, n, translator) for n in lineage.nodes]
