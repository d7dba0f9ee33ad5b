"""Jobs every pipeline has: provision everything, check the data, plan (dry run), insert the demo
rows. Each system adds its own (connector re-registration and restarts, engine repair, ...)."""

import contextlib
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage
from pipeline_defs.core.outcome import Outcome
from pipeline_defs.run_secrets import job_tags


def outcomes_table(outcomes: list[Outcome]) -> dg.MetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({"object": o.node, "action": o.action, "changes": "; ".join(c.splitlines()[0] for c in o.changes)})
            for o in outcomes
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn("object"), dg.TableColumn("action"), dg.TableColumn("changes")]),
    )


def _read_scopes(resources: Any, keys: set[str]) -> list[contextlib.AbstractContextManager]:
    """The cached_reads() scope of every client of the run's resources that offers one."""
    scopes = []
    for key in sorted(keys):
        res = getattr(resources, key, None)
        for getter in ("get_client", "get_jobs_client"):
            client = getattr(res, getter, None)
            scope = getattr(client(), "cached_reads", None) if callable(client) else None
            if scope is not None:
                scopes.append(scope())
    return scopes


def build_jobs(spec: Any, lineage: Lineage, data_check_keys: list[dg.AssetCheckKey]) -> list:
    systems = [registry.system(s) for s in lineage.systems()]
    source = registry.source_of(spec)
    provision_pipeline = dg.define_asset_job(
        "provision_pipeline",
        selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*data_check_keys),
        tags=job_tags("provision_pipeline"),
        description="Provision every hop in dependency order (create what is missing, update real differences, otherwise nothing) and check it; the Redis data checks run in data_quality.",
    )
    data_quality = dg.define_asset_job(
        "data_quality",
        selection=dg.AssetSelection.all_asset_checks(),
        tags=job_tags("data_quality"),
        description="Every asset check, nothing materialized: source prerequisites, connector health and drift, engine queries, Redis against the source.",
        # the checks are a few reads each: one process, not a Python subprocess per check step (on 2 busy cores
        # those imports made a run take minutes, longer than the trigger's spacing)
        executor_def=dg.in_process_executor,
    )

    @dg.op(
        description="Read every system and report what provisioning would change; writes nothing.",
        required_resource_keys={k for s in systems for k in s.resource_keys},
    )
    def plan_pipeline(context: dg.OpExecutionContext) -> dict[str, Any]:
        outcomes: list[Outcome] = []
        with contextlib.ExitStack() as reads:
            # one listing per system for the whole plan, not one read per object (resources.read_cache)
            for scope in _read_scopes(context.resources, {k for s in systems for k in s.resource_keys}):
                reads.enter_context(scope)
            for node in lineage.nodes:
                outcomes.append(registry.system(node.system).provision(node, lineage, context.resources, dry_run=True))
        # one log event for the whole plan: one per object costs an event-log write each (seconds at 1,000 objects)
        context.log.info("\n".join(f"{o.node}: {o.action}" + "".join(f"\n  {c.splitlines()[0]}" for c in o.changes) for o in outcomes))
        pending = [o for o in outcomes if o.action.startswith("would_")]
        summary = {
            "objects": len(outcomes),
            "would_change": len(pending),
            "drift": [{"object": o.node, "action": o.action, "changes": o.changes} for o in pending],
        }
        context.add_output_metadata({"objects": len(outcomes), "would_change": len(pending), "plan": outcomes_table(outcomes)})
        return summary

    @dg.job(tags=job_tags("plan"), description="Report what provisioning would change (drift), writing nothing.")
    def plan():
        plan_pipeline()

    @dg.op(
        description="Insert the spec's demo rows (the seed's later INSERTs); rows already there are left alone.",
        required_resource_keys=set(source.resource_keys),
    )
    def insert_demo_rows(context: dg.OpExecutionContext) -> None:
        counts = source.insert_demo_rows(spec, context.resources)
        context.log.info(f"demo rows: {counts}")
        context.add_output_metadata(counts)

    @dg.job(tags=job_tags("seed_demo_events"), description="Insert the seed's demo rows into the source database (idempotent).")
    def seed_demo_events():
        insert_demo_rows()

    own = [j for s in systems for j in s.jobs(spec, lineage)]
    return [provision_pipeline, data_quality, plan, seed_demo_events, *own]
