"""The ksqlDB engine plug-in: its objects and aggregate topics in the lineage, their provisioning
and checks, the query-health sensor and the repair job."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome
from pipeline_defs.run_secrets import job_tags
from pipeline_defs.spec.fields import duration_ms
from pipeline_defs.spec.loader import spec_hash
from pipeline_defs.systems.kafka import TopicProps, topic_node
from pipeline_defs.systems.ksqldb import provision as kprov
from pipeline_defs.systems.ksqldb.provision import KsqlObjectProps
from pipeline_defs.systems.ksqldb.spec import KsqlDbEngine
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler
from pipeline_defs.systems.ksqldb.validate import cross_validate
from resources.errors import ResourceError
from resources.ksqldb import KsqlDbResource


class KsqlSelection(dg.Config):
    objects: list[str] = Field(default_factory=list, description="ksqlDB object names; empty = all")


class KsqlDbPlugin(registry.EnginePlugin):
    name = kind = "ksqldb"
    model = KsqlDbEngine
    resource_keys = frozenset({"ksqldb"})

    def resources(self) -> dict[str, Any]:
        from resources import endpoints as ep

        return {"ksqldb": KsqlDbResource(url=ep.KSQLDB_URL.get())}

    def cross_validate(self, spec: Any, tables: Mapping[str, registry.SourceTable]) -> registry.Problems:
        return cross_validate(spec, tables, registry.source_of(spec).wire_format(spec))

    def aggregates(self, spec: Any) -> list[registry.AggregateOutput]:
        c = KsqlCompiler(spec)
        out = []
        for o in c.order():
            if o.aggregate is None:
                continue
            a = o.aggregate
            stream = c.base_stream(o)
            _, vf = c.formats(o)
            out.append(
                registry.AggregateOutput(
                    name=o.name,
                    topic=c.output_topic(o),
                    source_table=stream.source.table,
                    group_by=a.group_by,
                    event_time=stream.timestamp or "",
                    window_ms=duration_ms(a.window.size),
                    grace_ms=duration_ms(a.window.grace),
                    name_field=a.value_key_column,
                    count_field=a.count_as,
                    window_start_field=a.window_start_as,
                    window_end_field=a.window_end_as,
                    key_field=None,
                    value_format=vf,
                )
            )
        return out

    def lineage(self, spec: Any, g: GraphBuilder, topics: Mapping[str, Key]) -> dict[str, Key]:
        c = KsqlCompiler(spec)
        props = c.properties()
        keys: dict[str, Key] = {}
        out: dict[str, Key] = {}
        for st in c.statements():
            o = c.engine.object(st.name)
            topic = c.output_topic(o)
            kf, vf = c.formats(o)
            node = LineageNode(
                ("ksqldb", asset_key_component(o.name)),
                f"ksql_{o.kind}",
                o.name,
                "ksqldb",
                "ksqldb",
                props_of(c, o.name),
                {
                    "object": o.name,
                    "kind": o.kind,
                    "topic": topic,
                    "key_format": kf,
                    "value_format": vf,
                    "statement": st.statement,
                    "properties": props,
                    "columns": [f"{col.name} {col.type}{' KEY' if col.key else ''}" for col in c.object_columns(o)],
                },
                spec_hash([st, props]),
                f"ksqlDB {o.kind} {o.name}",
                frozenset({"ksqldb"}),
            )
            if o.source is not None:
                upstream = topics[o.source.table]
            else:
                upstream = keys[o.aggregate.from_ if o.aggregate is not None else o.deltas.from_]
            keys[o.name] = g.add(node, upstream)
            if o.aggregate is not None:
                tp = TopicProps(
                    topic,
                    spec.kafka.partitions,
                    spec.kafka.replication_factor,
                    created_by_engine=True,
                    avro_sides=tuple(side for side, f in (("key", kf), ("value", vf)) if f == "AVRO"),
                )
                out[o.name] = g.add(
                    topic_node(
                        tp, {"producer": f"ksqlDB {o.name}", "key_format": kf, "value_format": vf}, spec_hash([topic, kf, vf, o.name])
                    ),
                    keys[o.name],
                )
        return out

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        client = resources.ksqldb.get_client()
        try:
            return kprov.provision_object(node.desired, client, dry_run=dry_run)
        finally:
            client.close()

    def rebuild_from_source(self, spec: Any, agg: registry.AggregateOutput, resources: Any) -> str:
        from pipeline_defs.systems.ksqldb.rebuild import rebuild_aggregate

        client = resources.ksqldb.get_client()
        try:
            return rebuild_aggregate(spec, agg, client, resources.kafka.get_client())
        finally:
            client.close()

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        from pipeline_defs.systems.ksqldb.checks import ksql_checks

        return ksql_checks(node, lineage)

    def jobs(self, spec: Any, lineage: Lineage) -> list:
        return [_repair_job(spec, lineage)]

    def sensors(self, spec: Any, lineage: Lineage) -> list:
        return [_health_sensor(spec)]


def props_of(c: KsqlCompiler, name: str) -> KsqlObjectProps:
    o = c.engine.object(name)
    kf, vf = c.formats(o)
    return KsqlObjectProps(
        o.name,
        o.kind,
        c.statement(o),
        c.properties(),
        tuple((col.name, col.type, bool(col.key)) for col in c.object_columns(o)),
        kf,
        vf,
        c.output_topic(o),
        o.aggregate.from_ if o.aggregate else o.deltas.from_ if o.deltas else None,
    )


def _repair_job(spec: Any, lineage: Lineage) -> dg.JobDefinition:
    nodes = {n.name: n for n in lineage.by_system("ksqldb")}

    @dg.op(
        description="Recreate the selected ksqlDB objects (and what they read) in dependency order; a query that is not RUNNING is dropped and created again."
    )
    def repair_ksql(context: dg.OpExecutionContext, config: KsqlSelection, ksqldb: KsqlDbResource) -> None:
        wanted = set(config.objects) or set(nodes)
        unknown = wanted - set(nodes)
        if unknown:
            raise dg.Failure(f"not in the spec: {', '.join(sorted(unknown))}")
        compiler = KsqlCompiler(spec)
        # include everything upstream of a wanted object, then walk in dependency order
        closure = set(wanted)
        for o in reversed(compiler.order()):  # upstream of upstream too (aggregate -> deltas -> stream)
            if o.name in closure and (o.aggregate or o.deltas):
                closure.add(o.aggregate.from_ if o.aggregate else o.deltas.from_)
        client = ksqldb.get_client()
        try:
            for obj in compiler.order():
                if obj.name not in closure:
                    continue
                if obj.aggregate is not None and obj.name in wanted:
                    q = next((q for q in client.list_queries() if obj.name in q.sinks), None)
                    if q is not None and not q.is_running:
                        context.log.warning(f"{obj.name}: query {q.id} is {q.state}; dropping and creating it again")
                        client.drop("TABLE" if obj.kind == "table" else "STREAM", obj.name, delete_topic=False)
                if obj.deltas is not None and obj.name in wanted:
                    closure |= _repair_deltas(context, client, compiler, nodes[obj.name].desired)
                out = kprov.provision_object(nodes[obj.name].desired, client, dry_run=False)
                context.log.info(f"{obj.name}: {out.action}")
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=dg.AssetKey(list(nodes[obj.name].key)),
                        metadata={"action": out.action, "query_state": out.metadata.get("query_state", "")},
                    )
                )
        finally:
            client.close()

    @dg.job(
        tags={"cdc/operation": "repair_ksql", **job_tags("repair_ksql_queries")},
        description="Recreate ksqlDB objects whose persistent query is missing or not RUNNING.",
    )
    def repair_ksql_queries():
        repair_ksql()

    return repair_ksql_queries


def _repair_deltas(context: Any, client: Any, compiler: KsqlCompiler, props: KsqlObjectProps) -> set[str]:
    """A deltas stream has two writers. A failed INSERT INTO is terminated and started again (the stream and
    its CSAS stay); a failed CSAS means recreating the stream, so the aggregates reading it are dropped first
    (ksqlDB refuses to drop a stream something reads) and its topic with it (the new queries rebuild it from
    the CDC topic). Returns the objects that must be created again after it."""
    writers = [q for q in client.list_queries() if props.name in q.sinks]
    inserts = [q for q in writers if kprov.is_insert(q.id)]
    if any(not kprov.is_insert(q.id) and q.is_running for q in writers):
        for q in inserts:
            if not q.is_running:
                context.log.warning(f"{props.name}: INSERT query {q.id} is {q.state}; terminating and starting it again")
                client.terminate(q.id)
        if not any(q.is_running for q in inserts):
            for statement in kprov.insert_statements(props):
                client.execute(statement, dict(props.properties))
        return set()
    readers = {o.name for o in compiler.engine.objects if o.aggregate is not None and o.aggregate.from_ == props.name}
    context.log.warning(f"{props.name}: its CSAS is missing or not RUNNING; recreating it and what reads it: {sorted(readers)}")
    for name in sorted(readers):
        client.drop("TABLE", name, delete_topic=False)
    for q in inserts:
        client.terminate(q.id)
    client.drop("STREAM", props.name, delete_topic=True)
    return readers


def _health_sensor(spec: Any, interval_seconds: int = 60) -> dg.SensorDefinition:
    # the objects persistent queries write, with how many writers each has (a deltas stream: CSAS + INSERT INTO)
    watched = {o.name: 2 if o.deltas is not None else 1 for o in spec.engine.objects if o.aggregate is not None or o.deltas is not None}
    aggregates = list(watched)

    @dg.sensor(
        name="ksqldb_health",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name="repair_ksql_queries",
        description="A persistent query that is missing or not RUNNING gets a run that recreates it in dependency order.",
    )
    def ksqldb_health(context: dg.SensorEvaluationContext, ksqldb: KsqlDbResource):
        client = ksqldb.get_client()
        try:
            queries = client.list_queries()
        except ResourceError as e:
            return dg.SkipReason(f"ksqlDB at {ksqldb.url} unreachable: {e}")
        finally:
            client.close()
        requests = []
        for name in aggregates:
            writers = [q for q in queries if name in q.sinks]
            down = [q for q in writers if not q.is_running]
            if len(writers) >= watched[name] and not down:
                continue
            q = down[0] if down else None
            state = "missing" if q is None else (q.state or "UNKNOWN")
            incident = f"{q.id if q else 'none'}:{state}"
            requests.append(
                dg.RunRequest(
                    run_key=f"ksql:{name}:{incident}",
                    job_name="repair_ksql_queries",
                    tags={"cdc/ksql_object": name, "cdc/reason": state},
                    run_config={"ops": {"repair_ksql": {"config": {"objects": [name]}}}},
                )
            )
        if not requests:
            return dg.SkipReason(f"{len(aggregates)} persistent quer{'y' if len(aggregates) == 1 else 'ies'} RUNNING")
        return requests

    return ksqldb_health
