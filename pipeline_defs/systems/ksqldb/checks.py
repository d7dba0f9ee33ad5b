"""ksqlDB checks: the object matches the spec (kind, columns, formats, topic, event time, window),
and the persistent query that writes an aggregate is RUNNING."""

import dagster as dg

from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.systems.ksqldb import provision as kprov
from resources.ksqldb import KsqlDbResource


def ksql_checks(node: LineageNode, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(list(node.key))
    props: kprov.KsqlObjectProps = node.desired

    @dg.asset_check(asset=key, name="matches_spec", description="kind, columns, key, formats, topic, event time and window equal the spec")
    def shape(ksqldb: KsqlDbResource) -> dg.AssetCheckResult:
        client = ksqldb.get_client()
        try:
            desc = kprov.describe(client, props.name)
        finally:
            client.close()
        if desc is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": f"{props.name} does not exist"})
        diffs = kprov.drift(props, desc)
        return dg.AssetCheckResult(passed=not diffs, metadata={"differences": dg.MetadataValue.json(diffs)})

    if props.reads is None:
        return [shape]

    @dg.asset_check(asset=key, name="query_running", description="the persistent query writing this table is RUNNING")
    def query(ksqldb: KsqlDbResource) -> dg.AssetCheckResult:
        client = ksqldb.get_client()
        try:
            queries = [q for q in client.list_queries() if props.name in q.sinks]
        finally:
            client.close()
        if not queries:
            return dg.AssetCheckResult(passed=False, metadata={"problem": f"no persistent query writes {props.name}"})
        q = queries[0]
        return dg.AssetCheckResult(
            passed=q.is_running,
            metadata={"query_id": q.id, "state": q.state or "UNKNOWN", "status_count": dg.MetadataValue.json(dict(q.status_count))},
        )

    return [shape, query]
