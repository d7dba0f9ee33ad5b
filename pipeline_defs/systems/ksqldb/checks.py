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

    @dg.asset_check(asset=key, name="query_running", description="every persistent query writing this object is RUNNING")
    def query(ksqldb: KsqlDbResource) -> dg.AssetCheckResult:
        client = ksqldb.get_client()
        try:
            queries = [q for q in client.list_queries() if props.name in q.sinks]
        finally:
            client.close()
        if not queries:
            return dg.AssetCheckResult(passed=False, metadata={"problem": f"no persistent query writes {props.name}"})
        # a deltas stream has two writers (its CSAS and an INSERT INTO): every one must run
        down = [q for q in queries if not q.is_running]
        q = down[0] if down else queries[0]
        return dg.AssetCheckResult(
            passed=not down,
            metadata={
                "query_id": ", ".join(x.id for x in queries),
                "state": q.state or "UNKNOWN",
                "status_count": dg.MetadataValue.json(dict(q.status_count)),
            },
        )

    return [shape, query]
