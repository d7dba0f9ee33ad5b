"""Jobs: provision everything, check the data, plan (dry run), re-register or restart connectors,
insert the seed's demo rows.

`reregister_connectors` and `restart_connectors` take the connectors from run config, so the
health sensor can request one run per incident; they carry the `cdc/connector` tag that the run
coordinator limits to one run per connector (compose/dagster.yaml), so a manual run and the
sensor never act on the same connector at once.
"""


from typing import Any

import dagster as dg
from pydantic import Field

from pipeline_defs import derive, oracle_sql, provision
from pipeline_defs.checks import DATA_CHECK_NAMES
from pipeline_defs.derive import Lineage
from pipeline_defs.spec import PipelineSpec
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.oracle import OracleResource

CONNECTOR_TAG = "cdc/connector"


class ConnectorSelection(dg.Config):
    connectors: list[str] = Field(default_factory=list, description="connector names from the spec; empty = all")


class IncidentConfig(dg.Config):
    connector: str
    reason: str
    restarts: int = 0
    trace: str = ""


class KsqlSelection(dg.Config):
    objects: list[str] = Field(default_factory=list, description="ksqlDB object names; empty = all")


class RestartConfig(ConnectorSelection):
    include_tasks: bool = True
    only_failed: bool = True


def _selected(spec: PipelineSpec, wanted: list[str]) -> list[str]:
    known = list(derive.connector_configs(spec))
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise dg.Failure(f"not in the spec: {', '.join(unknown)} (known connectors: {', '.join(known)})")
    return [n for n in known if not wanted or n in wanted]


def _report_table(outcomes: list[provision.Outcome]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord({"object": o.node, "action": o.action, "changes": "; ".join(c.splitlines()[0] for c in o.changes)})
                 for o in outcomes],
        schema=dg.TableSchema(columns=[dg.TableColumn("object"), dg.TableColumn("action"), dg.TableColumn("changes")]),
    )


def build_jobs(spec: PipelineSpec, lineage: Lineage, data_check_keys: list[dg.AssetCheckKey]) -> list:
    connector_nodes = {n.name: n for n in lineage.nodes if n.kind in ("source_connector", "sink_connector")}

    provision_pipeline = dg.define_asset_job(
        "provision_pipeline",
        selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*data_check_keys),
        description="Provision every hop in dependency order (create what is missing, update real differences, otherwise nothing) and check it; the Redis data checks run in data_quality.",
    )
    data_quality = dg.define_asset_job(
        "data_quality", selection=dg.AssetSelection.all_asset_checks(),
        description="Every asset check, nothing materialized: Oracle prerequisites, connector health and drift, ksqlDB queries, Redis against Oracle.",
    )

    @dg.op(description="Read every system and report what provisioning would change; writes nothing.")
    def plan_pipeline(context: dg.OpExecutionContext, oracle: OracleResource, connect: KafkaConnectResource,
                      kafka: KafkaResource, ksqldb: KsqlDbResource) -> dict[str, Any]:
        outcomes: list[provision.Outcome] = []
        ksql = ksqldb.get_client()
        try:
            with oracle.admin_client() as admin:
                for node in lineage.nodes:
                    if node.kind.startswith("oracle_"):
                        out = provision.provision_oracle(spec, node, admin, user_password=oracle.password, dry_run=True)
                    elif node.kind in ("source_connector", "sink_connector"):
                        out = provision.provision_connector(spec, node, connect.get_client(), kafka.get_client(), dry_run=True)
                    elif node.kind == "kafka_topic":
                        from_ksql = any(lineage.node(d).kind.startswith("ksql_") for d in lineage.deps(node.key))
                        out = provision.provision_topic(spec, node, kafka.get_client(), produced_by_ksql=from_ksql, dry_run=True)
                    elif node.kind.startswith("ksql_"):
                        out = provision.provision_ksql(spec, node, ksql, dry_run=True)
                    else:
                        continue
                    outcomes.append(out)
                    context.log.info(f"{node.name}: {out.action}" + "".join(f"\n  {c.splitlines()[0]}" for c in out.changes))
        finally:
            ksql.close()
        pending = [o for o in outcomes if o.action.startswith("would_")]
        summary = {"objects": len(outcomes), "would_change": len(pending),
                   "drift": [{"object": o.node, "action": o.action, "changes": o.changes} for o in pending]}
        context.add_output_metadata({"objects": len(outcomes), "would_change": len(pending), "plan": _report_table(outcomes)})
        return summary

    @dg.job(description="Report what provisioning would change (drift), writing nothing.")
    def plan():
        plan_pipeline()

    @dg.op(description="Apply the spec's config to the selected connectors (create if missing, PUT only on a difference).")
    def reregister(context: dg.OpExecutionContext, config: ConnectorSelection, connect: KafkaConnectResource,
                   kafka: KafkaResource) -> None:
        outcomes = []
        for name in _selected(spec, config.connectors):
            node = connector_nodes[name]
            out = provision.provision_connector(spec, node, connect.get_client(), kafka.get_client(), dry_run=False)
            outcomes.append(out)
            context.log.info(f"{name}: {out.action}")
            context.log_event(dg.AssetMaterialization(asset_key=dg.AssetKey(list(node.key)),
                                                      metadata={"action": out.action, "writes": out.writes,
                                                                "state": out.metadata.get("state", "UNKNOWN")}))
        context.add_output_metadata({"connectors": _report_table(outcomes)})

    @dg.job(tags={"cdc/operation": "reregister"}, description="Re-register connectors from the spec (run config selects them).")
    def reregister_connectors():
        reregister()

    @dg.op(description="Restart the selected connectors and their failed tasks.")
    def restart(context: dg.OpExecutionContext, config: RestartConfig, connect: KafkaConnectResource) -> None:
        client = connect.get_client()
        for name in _selected(spec, config.connectors):
            body = client.restart(name, include_tasks=config.include_tasks, only_failed=config.only_failed)
            restarting = [f"task {t['id']}" for t in (body or {}).get("tasks", []) if t.get("state") == "RESTARTING"]
            if body and (body.get("connector") or {}).get("state") == "RESTARTING":
                restarting.insert(0, "connector")
            context.log.info(f"{name}: restart requested ({', '.join(restarting) or 'nothing was failed'})")
            status = provision.wait_for_connector(client, name, 20, after_restart=True)
            md = provision.connector_metadata(status)
            context.log.info(f"{name}: now {md['state']}")
            if md["state"] == "FAILED":
                raise dg.Failure(f"{name} is still FAILED after the restart", metadata={"traces": dg.MetadataValue.json(md["failed_traces"])})

    @dg.job(tags={"cdc/operation": "restart"}, description="Restart connectors (includeTasks/onlyFailed from run config).")
    def restart_connectors():
        restart()

    @dg.op(description="Insert the spec's demo rows (the seed's later INSERTs); rows already there are left alone.")
    def insert_demo_rows(context: dg.OpExecutionContext, oracle: OracleResource) -> None:
        owner = spec.oracle.user.name
        applied = unchanged = 0
        with oracle.admin_client() as admin:
            for table in spec.oracle.tables:
                stmts = [oracle_sql.insert_statement(owner, table, row) for row in table.demo_rows]
                for r in admin.apply(stmts):
                    if str(r.outcome) == "applied":
                        applied += 1
                    else:
                        unchanged += 1
                if stmts:
                    context.log.info(f"{owner}.{table.name}: {len(stmts)} demo row(s)")
        context.add_output_metadata({"inserted": applied, "already_present": unchanged})

    @dg.job(description="Insert the seed's demo rows into Oracle (idempotent).")
    def seed_demo_events():
        insert_demo_rows()

    @dg.op(description="Fail loudly with the connector's trace: restarts are spent and a person must act.")
    def raise_incident(context: dg.OpExecutionContext, config: IncidentConfig) -> None:
        from resources.redaction import env_secret_values, scrub

        trace = scrub(config.trace, env_secret_values())
        context.log.error(f"{config.connector}: {config.reason} after {config.restarts} restart(s); automatic restarts stopped")
        raise dg.Failure(
            f"connector {config.connector} is still {config.reason} after {config.restarts} restart(s)",
            metadata={"connector": config.connector, "restarts": config.restarts,
                      "trace": dg.MetadataValue.md(f"```\n{trace}\n```")},
        )

    @dg.job(tags={"cdc/operation": "incident"}, description="Raised by connector_health when restarts are spent: a failed run with the trace.")
    def connector_incident():
        raise_incident()

    ksql_nodes = {n.name: n for n in lineage.nodes if n.kind.startswith("ksql_")}

    @dg.op(description="Recreate the selected ksqlDB objects (and what they read) in dependency order; a query that is not RUNNING is dropped and created again.")
    def repair_ksql(context: dg.OpExecutionContext, config: KsqlSelection, ksqldb: KsqlDbResource) -> None:
        from pipeline_defs.engines import engine_for

        wanted = set(config.objects) or set(ksql_nodes)
        unknown = wanted - set(ksql_nodes)
        if unknown:
            raise dg.Failure(f"not in the spec: {', '.join(sorted(unknown))}")
        # include everything upstream of a wanted object, then walk in the engine's dependency order
        closure = set(wanted)
        for o in spec.ksqldb.objects:
            if o.name in wanted and o.aggregate is not None:
                closure.add(o.aggregate.from_)
        client = ksqldb.get_client()
        try:
            for obj in engine_for(spec).order(spec):
                if obj.name not in closure:
                    continue
                node = ksql_nodes[obj.name]
                if obj.aggregate is not None and obj.name in wanted:
                    q = next((q for q in client.list_queries() if obj.name in q.sinks), None)
                    if q is not None and not q.is_running:
                        context.log.warning(f"{obj.name}: query {q.id} is {q.state}; dropping and creating it again")
                        client.drop("TABLE" if obj.kind == "table" else "STREAM", obj.name, delete_topic=False)
                out = provision.provision_ksql(spec, node, client, dry_run=False)
                context.log.info(f"{obj.name}: {out.action}")
                context.log_event(dg.AssetMaterialization(asset_key=dg.AssetKey(list(node.key)),
                                                          metadata={"action": out.action,
                                                                    "query_state": out.metadata.get("query_state", "")}))
        finally:
            client.close()

    @dg.job(tags={"cdc/operation": "repair_ksql"}, description="Recreate ksqlDB objects whose persistent query is missing or not RUNNING.")
    def repair_ksql_queries():
        repair_ksql()

    return [provision_pipeline, data_quality, plan, reregister_connectors, restart_connectors, seed_demo_events,
            connector_incident, repair_ksql_queries]


__all__ = ["build_jobs", "CONNECTOR_TAG", "DATA_CHECK_NAMES"]
