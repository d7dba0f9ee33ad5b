"""Connector jobs: re-register from the spec, restart, and the loud incident.

Every run that acts on a connector holds it alone: the sensor's runs carry the ``cdc/connector``
tag (the run coordinator allows one run per value), and a manual run, whose run config may name
any connector, checks before acting that no other queued or running run acts on it."""

import dagster as dg
from pydantic import Field

from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.core.outcome import Outcome, ProvisionFailure
from pipeline_defs.run_secrets import job_tags
from pipeline_defs.systems.connect.health import in_flight
from pipeline_defs.systems.connect.provision import apply_connector, connector_metadata, wait_for_connector
from resources.connect import KafkaConnectResource
from resources.kafka import KafkaResource


class ConnectorSelection(dg.Config):
    connectors: list[str] = Field(default_factory=list, description="connector names from the spec; empty = all")


class RestartConfig(ConnectorSelection):
    include_tasks: bool = True
    only_failed: bool = True


class IncidentConfig(dg.Config):
    connector: str
    reason: str
    restarts: int = 0
    trace: str = ""
    cause: str = "unknown"
    fix: str = ""


def outcomes_table(outcomes: list[Outcome]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({"object": o.node, "action": o.action, "changes": "; ".join(c.splitlines()[0] for c in o.changes)})
            for o in outcomes
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn("object"), dg.TableColumn("action"), dg.TableColumn("changes")]),
    )


def _selected(nodes: dict[str, LineageNode], wanted: list[str]) -> list[str]:
    unknown = sorted(set(wanted) - set(nodes))
    if unknown:
        raise dg.Failure(f"not in the spec: {', '.join(unknown)} (known connectors: {', '.join(nodes)})")
    return [n for n in nodes if not wanted or n in wanted]


def _free(context: dg.OpExecutionContext, names: list[str]) -> list[str]:
    """The selected connectors no other queued or running run acts on; the others are left alone."""
    out = []
    for name in names:
        if in_flight(context.instance, name, exclude_run_id=context.run_id):
            context.log.warning(f"{name}: another queued or running run acts on it; left alone by this run")
        else:
            out.append(name)
    return out


def connect_jobs(lineage: Lineage) -> list[dg.JobDefinition]:
    nodes = {n.name: n for n in lineage.by_system("connect")}

    @dg.op(description="Apply the spec's config to the selected connectors (create if missing, PUT only on a difference).")
    def reregister(context: dg.OpExecutionContext, config: ConnectorSelection, connect: KafkaConnectResource, kafka: KafkaResource) -> None:
        outcomes = []
        failures = []
        for name in _free(context, _selected(nodes, config.connectors)):
            node = nodes[name]
            try:
                out = apply_connector(node.desired, connect.get_client(), kafka.get_client(), dry_run=False)
            except ProvisionFailure as e:
                failures.append(str(e))
                out = Outcome(name, "failed", [], e.metadata)
            outcomes.append(out)
            context.log.info(f"{name}: {out.action}")
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=dg.AssetKey(list(node.key)),
                    metadata={"action": out.action, "writes": out.writes, "state": out.metadata.get("state", "UNKNOWN")},
                )
            )
        context.add_output_metadata({"connectors": outcomes_table(outcomes)})
        if failures:
            raise dg.Failure("\n".join(failures))

    @dg.job(
        tags={"cdc/operation": "reregister", **job_tags("reregister_connectors")},
        description="Re-register connectors from the spec (run config selects them).",
    )
    def reregister_connectors():
        reregister()

    @dg.op(description="Restart the selected connectors and their failed tasks.")
    def restart(context: dg.OpExecutionContext, config: RestartConfig, connect: KafkaConnectResource) -> None:
        client = connect.get_client()
        for name in _free(context, _selected(nodes, config.connectors)):
            body = client.restart(name, include_tasks=config.include_tasks, only_failed=config.only_failed)
            restarting = [f"task {t['id']}" for t in (body or {}).get("tasks", []) if t.get("state") == "RESTARTING"]
            if body and (body.get("connector") or {}).get("state") == "RESTARTING":
                restarting.insert(0, "connector")
            context.log.info(f"{name}: restart requested ({', '.join(restarting) or 'nothing was failed'})")
            md = connector_metadata(wait_for_connector(client, name, 20, after_restart=True))
            context.log.info(f"{name}: now {md['state']}")
            if md["state"] == "FAILED":
                raise dg.Failure(
                    f"{name} is still FAILED after the restart", metadata={"traces": dg.MetadataValue.json(md["failed_traces"])}
                )

    @dg.job(
        tags={"cdc/operation": "restart", **job_tags("restart_connectors")},
        description="Restart connectors (includeTasks/onlyFailed from run config).",
    )
    def restart_connectors():
        restart()

    @dg.op(description="Fail loudly with the connector's trace: restarts are spent and a person must act.")
    def raise_incident(context: dg.OpExecutionContext, config: IncidentConfig) -> None:
        from resources.redaction import env_secret_values, scrub

        trace = scrub(config.trace, env_secret_values())
        if config.reason == config.cause:  # raised at once: a restart cannot fix it
            what = f"connector {config.connector} failed: {config.cause}, which a restart cannot fix. {config.fix}"
        else:
            what = f"connector {config.connector} is still {config.reason} after {config.restarts} restart(s) (cause: {config.cause})"
        context.log.error(f"{what}; automatic restarts stopped")
        raise dg.Failure(
            what,
            metadata={
                "connector": config.connector,
                "restarts": config.restarts,
                "cause": config.cause,
                "fix": config.fix,
                "trace": dg.MetadataValue.md(f"```\n{trace}\n```"),
            },
        )

    @dg.job(
        tags={"cdc/operation": "incident", **job_tags("connector_incident")},
        description="Raised by connector_health when restarts are spent: a failed run with the trace.",
    )
    def connector_incident():
        raise_incident()

    return [reregister_connectors, restart_connectors, connector_incident]
