"""Jobs over connector offsets: connector_offsets (list), alter_connector_offsets (stop, PATCH,
resume), reset_connector_offsets (stop, DELETE, resume). Results are metadata tables of the
offsets before and after; no offset value is secret (topic names, positions, LSNs)."""

import dagster as dg

from pipeline_defs.core.nodes import Lineage
from pipeline_defs.run_secrets import job_tags
from pipeline_defs.systems.connect import offsets as off
from pipeline_defs.systems.connect.jobs import _free, _selected
from pipeline_defs.systems.connect.offsets import AlterOffsetsConfig, OffsetsSelection, ResetOffsetsConfig
from resources.connect import KafkaConnectResource


def _rows(name: str, offsets: list[dict]) -> list[dict[str, str]]:
    return [{"connector": name, **r} for r in off.offset_rows(offsets)]


def offset_jobs(lineage: Lineage) -> list[dg.JobDefinition]:
    nodes = {n.name: n for n in lineage.by_system("connect")}

    @dg.op(
        description="List the selected connectors' offsets (sink: next offset per topic partition; source: the "
        "connector's own position, e.g. Debezium's LSN)."
    )
    def list_offsets(context: dg.OpExecutionContext, config: OffsetsSelection, connect: KafkaConnectResource) -> None:
        client = connect.get_client()
        rows: list[dict[str, str]] = []
        for name in _selected(nodes, config.connectors):
            got = client.offsets(name)
            context.log.info(f"{name}: {len(got)} partition(s)")
            rows += _rows(name, got)
        context.add_output_metadata({"offsets": off.offsets_table(rows), "partitions": len(rows)})

    @dg.job(
        tags={"cdc/operation": "offsets", **job_tags("connector_offsets")},
        description="List connector offsets (GET /connectors/<name>/offsets).",
    )
    def connector_offsets():
        list_offsets()

    @dg.op(description="Stop the connector, PATCH its offsets to the given positions, resume it (unless it was STOPPED).")
    def alter_offsets(context: dg.OpExecutionContext, config: AlterOffsetsConfig, connect: KafkaConnectResource) -> None:
        name = _selected(nodes, [config.connector])[0]
        try:
            entries = off.validate_entries(config.offsets, nodes[name].desired.role)
        except ValueError as e:
            raise dg.Failure(f"alter_connector_offsets for {name}: {e}") from None
        if not _free(context, [name]):
            raise dg.Failure(f"{name}: another queued or running run acts on it; offsets left alone")
        client = connect.get_client()
        before = client.offsets(name)
        done = off.alter_offsets(client, name, entries)
        after = client.offsets(name)
        context.log.info(f"{name}: offsets altered ({done['message']}); resumed={done['resumed']}")
        context.add_output_metadata(
            {
                "before": off.offsets_table(_rows(name, before)),
                "after": off.offsets_table(_rows(name, after)),
                "state_before": done["state_before"],
                "resumed": done["resumed"],
                "worker_message": done["message"],
            }
        )

    @dg.job(
        tags={"cdc/operation": "alter_offsets", **job_tags("alter_connector_offsets")},
        description="Move a connector to given offsets: stop, PATCH /offsets, resume.",
    )
    def alter_connector_offsets():
        alter_offsets()

    @dg.op(
        description="Stop each selected connector, DELETE its offsets, resume it (unless it was STOPPED): a sink "
        "re-reads its topics from the earliest offset, a source starts over (a new snapshot)."
    )
    def reset_offsets(context: dg.OpExecutionContext, config: ResetOffsetsConfig, connect: KafkaConnectResource) -> None:
        if not config.connectors:
            raise dg.Failure("reset_connector_offsets: name the connectors to reset (ops.reset_offsets.config.connectors)")
        client = connect.get_client()
        rows_before: list[dict[str, str]] = []
        rows_after: list[dict[str, str]] = []
        for name in _free(context, _selected(nodes, config.connectors)):
            rows_before += _rows(name, client.offsets(name))
            done = off.reset_offsets(client, name)
            rows_after += _rows(name, client.offsets(name))
            context.log.info(f"{name}: offsets reset ({done['message']}); resumed={done['resumed']}")
        context.add_output_metadata({"before": off.offsets_table(rows_before), "after": off.offsets_table(rows_after)})

    @dg.job(
        tags={"cdc/operation": "reset_offsets", **job_tags("reset_connector_offsets")},
        description="Reset connector offsets: stop, DELETE /offsets, resume.",
    )
    def reset_connector_offsets():
        reset_offsets()

    return [connector_offsets, alter_connector_offsets, reset_connector_offsets]
