"""The Flink SQL engine plug-in: one job per aggregate in the lineage, its provisioning (statement
hash = identity; savepoint path on a compatible change), the job check, the health sensor that
resubmits a missing or failed job from its latest checkpoint with the connectors' backoff and
incident rules, and the repair job."""

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome, ProvisionFailure
from pipeline_defs.run_secrets import job_tags
from pipeline_defs.spec.fields import duration_ms
from pipeline_defs.spec.loader import spec_hash
from pipeline_defs.systems.flink import sql as fsql
from pipeline_defs.systems.flink.decisions import jobs_of
from pipeline_defs.systems.flink.jobs import SCHEDULING, job_health, job_state, provision_job
from pipeline_defs.systems.flink.spec import FlinkEngine
from pipeline_defs.systems.kafka import TopicProps, topic_node
from resources.errors import ResourceError
from resources.flink import FlinkResource
from resources.flink_rest import FlinkError


def _resolver(spec: Any) -> fsql.SourceResolver:
    tables = {t.name: t for t in registry.source_of(spec).tables(spec)}

    def resolve(name: str) -> fsql.SourceTable:
        t = tables.get(name)
        if t is None or not t.captured:
            raise fsql.CompileError(f"table {name} is not a captured table of the source")
        return fsql.SourceTable(
            t.topic, tuple(fsql.SourceColumn(c.name, c.type) for c in t.columns if c.type is not None), tuple(t.primary_key)
        )

    return resolve


def compiled(spec: Any) -> list[fsql.FlinkJob]:
    return fsql.compile_jobs(spec.engine, _resolver(spec), spec.endpoints.kafka_bootstrap_servers)


class RepairSelection(dg.Config):
    objects: list[str] = Field(default_factory=list, description="Flink aggregate names; empty = all")


class FlinkPlugin(registry.EnginePlugin):
    name = kind = "flink"
    model = FlinkEngine
    resource_keys = frozenset({"flink"})

    def resources(self) -> dict[str, Any]:
        return {"flink": FlinkResource()}

    def cross_validate(self, spec: Any, tables: Mapping[str, registry.SourceTable]) -> registry.Problems:
        problems = []
        for i, o in enumerate(spec.engine.objects):
            if o.source is not None and (o.source.table not in tables or not tables[o.source.table].captured):
                problems.append(
                    (
                        f"engine.objects[{i}].source.table",
                        f"{o.source.table!r} is not a captured table of the source ({', '.join(t for t in tables if tables[t].captured)})",
                    )
                )
        if problems:
            return problems
        # a column that is not there is reported at the field that names it, not at the aggregate compiled from it
        columns = {
            o.name: [c.name for c in o.columns] or [c.name for c in tables[o.source.table].columns]
            for o in spec.engine.objects
            if o.source is not None
        }
        for i, o in enumerate(spec.engine.objects):
            if o.source is not None:
                for field, col in [("timestamp", o.timestamp), *((f"key[{k}]", c) for k, c in enumerate(o.key))]:
                    if col is not None and col not in columns[o.name]:
                        problems.append(
                            (f"engine.objects[{i}].{field}", f"{col!r} is not a column of {o.name} ({', '.join(columns[o.name])})")
                        )
            elif o.aggregate.from_ in columns and o.aggregate.group_by not in columns[o.aggregate.from_]:
                problems.append(
                    (
                        f"engine.objects[{i}].aggregate.group_by",
                        f"{o.aggregate.group_by!r} is not a column of {o.aggregate.from_} ({', '.join(columns[o.aggregate.from_])})",
                    )
                )
        if problems:
            return problems
        resolve = _resolver(spec)  # once: it derives every source table's columns
        for i, o in enumerate(spec.engine.objects):
            if o.aggregate is None:
                continue
            try:
                fsql.compile_job(spec.engine, o.name, resolve, spec.endpoints.kafka_bootstrap_servers)
            except fsql.CompileError as e:
                problems.append((f"engine.objects[{i}]", str(e)))
        return problems

    def aggregates(self, spec: Any) -> list[registry.AggregateOutput]:
        out = []
        for o in spec.engine.objects:
            if o.aggregate is None:
                continue
            a, src = o.aggregate, spec.engine.object(o.aggregate.from_)
            out.append(
                registry.AggregateOutput(
                    name=o.name,
                    topic=o.output_topic,
                    source_table=src.source.table,
                    group_by=a.group_by,
                    event_time=src.timestamp or "",
                    window_ms=duration_ms(a.window.size),
                    grace_ms=duration_ms(a.window.grace),
                    name_field=a.group_by,
                    count_field=a.count_as,
                    window_start_field=a.window_start_as,
                    window_end_field=a.window_end_as,
                    key_field=a.group_by,
                    value_format="JSON",
                )
            )
        return out

    def lineage(self, spec: Any, g: GraphBuilder, topics: Mapping[str, Key]) -> dict[str, Key]:
        out: dict[str, Key] = {}
        for job in compiled(spec):
            src = spec.engine.object(spec.engine.object(job.object_name).aggregate.from_)
            key = g.add(
                LineageNode(
                    ("flink", asset_key_component(job.object_name)),
                    "flink_job",
                    job.object_name,
                    "flink",
                    "flink",
                    job,
                    {
                        "job_name": job.name,
                        "statement_hash": job.hash,
                        "statement": job.sql,
                        "properties": dict(job.properties),
                        "output_topic": job.output_topic,
                        "state_shape": dict(job.shape),
                    },
                    job.hash,
                    f"Flink SQL job {job.object_name}: the windowed COUNT, updated on every change",
                    frozenset({"flink"}),
                ),
                topics[src.source.table],
            )
            # Flink's upsert-kafka sink never creates its topic (it leans on the broker's auto-creation, with the
            # broker's partition count, and only on its first write): the control plane creates it with the spec's
            # settings, so an aggregate with no input yet is not reported missing
            tp = TopicProps(job.output_topic, spec.kafka.partitions, spec.kafka.replication_factor, created_by_engine=False)
            out[job.object_name] = g.add(
                topic_node(
                    tp,
                    {"producer": f"Flink job {job.object_name}", "key_format": "json", "value_format": "json"},
                    spec_hash([job.output_topic, job.object_name]),
                ),
                key,
            )
        return out

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        flink = resources.flink
        gateway, jobs = flink.get_gateway_client(), flink.get_jobs_client()
        try:
            out = provision_job(node.desired, gateway, jobs, dry_run=dry_run, savepoint_dir=None)
        except FlinkError as e:
            # a statement the gateway failed says what, not where: name both endpoints
            raise ProvisionFailure(
                f"{node.name}: {e} (Flink SQL Gateway {gateway.base_url}, JobManager {jobs.base_url})",
                {"gateway_url": gateway.base_url, "rest_url": jobs.base_url},
            ) from None
        state = out.metadata.get("state")
        if not dry_run and out.action in ("created", "updated") and state not in (None, "RUNNING"):
            hint = " (its tasks have no free task slot: every slot of the TaskManagers is taken)" if state == SCHEDULING else ""
            raise ProvisionFailure(
                f"{node.name}: job {out.metadata.get('job_id')} is {state}, not RUNNING, after the wait{hint}; "
                f"see {jobs.base_url}/#/job/running/{out.metadata.get('job_id')}/exceptions",
                {k: v for k, v in out.metadata.items() if k != "statement"},
            )
        return out

    def rebuild_from_source(self, spec: Any, agg: registry.AggregateOutput, resources: Any) -> str:
        from pipeline_defs.systems.flink.rebuild import rebuild_job

        job = next(j for j in compiled(spec) if j.object_name == agg.name)
        return rebuild_job(job, resources.flink.get_gateway_client(), resources.flink.get_jobs_client())

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        # one definition holds every job's job_running, from one job overview (one op and one read, not one per
        # aggregate: Dagster builds an op per definition, which dominated loading a 200-aggregate spec); it comes
        # with the first job node
        nodes = lineage.by_kind(node.kind)
        if node.key != nodes[0].key:
            return []
        by_key: dict[dg.AssetKey, fsql.FlinkJob] = {dg.AssetKey(list(n.key)): n.desired for n in nodes}

        @dg.multi_asset_check(
            specs=[
                dg.AssetCheckSpec(
                    "job_running", asset=k, description="the job is RUNNING with the spec's statement hash (its name embeds the hash)"
                )
                for k in by_key
            ],
            name="flink_jobs_running",
            can_subset=True,
        )
        def jobs_running(context, flink: FlinkResource):
            client = flink.get_jobs_client()
            overview = client.overview()
            for k in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
                passed, md = _job_running(client, overview, by_key[k.asset_key])
                yield dg.AssetCheckResult(asset_key=k.asset_key, check_name=k.name, passed=passed, metadata=md)

        return [jobs_running]

    def jobs(self, spec: Any, lineage: Lineage) -> list:
        return [_repair_job(lineage)]

    def sensors(self, spec: Any, lineage: Lineage) -> list:
        return [flink_health_sensor(lineage)]


def _repair_job(lineage: Lineage) -> dg.JobDefinition:
    nodes = {n.name: n for n in lineage.by_system("flink")}

    @dg.op(description="Resubmit the selected Flink jobs that are missing, FAILED or CANCELED, from their latest retained checkpoint.")
    def repair_flink(context: dg.OpExecutionContext, config: RepairSelection, flink: FlinkResource) -> None:
        unknown = sorted(set(config.objects) - set(nodes))
        if unknown:
            raise dg.Failure(f"not in the spec: {', '.join(unknown)} (Flink jobs: {', '.join(nodes)})")
        for name in config.objects or list(nodes):
            decision, out = job_health(nodes[name].desired, flink.get_gateway_client(), flink.get_jobs_client(), dry_run=False)
            context.log.info(f"{name}: {decision.action} ({decision.reason}) -> {out.action}")
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=dg.AssetKey(list(nodes[name].key)),
                    metadata={
                        "action": out.action,
                        "reason": decision.reason,
                        "job_id": str(out.metadata.get("job_id", "")),
                        "restore_from": str(out.metadata.get("restore_from") or ""),
                    },
                )
            )

    @dg.job(
        tags={"cdc/operation": "repair_flink", **job_tags("repair_flink_jobs")},
        description="Resubmit missing or failed Flink jobs from their latest checkpoint.",
    )
    def repair_flink_jobs():
        repair_flink()

    return repair_flink_jobs


def flink_health_sensor(
    lineage: Lineage, interval_seconds: int | None = None, clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    from pipeline_defs.systems.connect.healing import HealthPolicy

    policy = HealthPolicy.from_env()
    interval_seconds = interval_seconds or policy.interval_seconds  # CDC_HEALTH_INTERVAL_SECONDS, like connector_health
    nodes = {n.name: n for n in lineage.by_system("flink")}

    @dg.sensor(
        name="flink_health",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name="repair_flink_jobs",
        description="A missing, FAILED or CANCELED Flink job is resubmitted from its latest checkpoint, with the "
        "connectors' backoff; past the last attempt the incident is raised as a failed check.",
    )
    def flink_health(context: dg.SensorEvaluationContext, flink: FlinkResource):
        memory: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
        try:
            overview = flink.get_jobs_client().overview()
        except ResourceError as e:
            return dg.SkipReason(f"Flink at {flink.rest_url or 'FLINK_REST_URL'} unreachable: {e}")
        from pipeline_defs.systems.flink.decisions import health_decision

        requests, events, notes = [], [], []
        now = clock()
        for name, node in nodes.items():
            job: fsql.FlinkJob = node.desired
            d = health_decision(job, jobs_of(overview, name), {})
            mem = memory.setdefault(name, {"attempts": 0, "last": None})
            if d.action != "resubmit":
                if d.action == "ok":
                    memory[name] = {"attempts": 0, "last": None}
                continue
            waited = (now - mem["last"]) / 60 if mem["last"] else None
            if waited is not None and waited < policy.wait_minutes(mem["attempts"]):
                notes.append(f"{name}: backoff")
                continue
            if mem["attempts"] >= policy.max_restarts:
                if not mem.get("raised"):
                    mem["raised"] = True
                    events.append(
                        dg.AssetCheckEvaluation(
                            asset_key=dg.AssetKey(list(node.key)),
                            check_name="job_running",
                            passed=False,
                            severity=dg.AssetCheckSeverity.ERROR,
                            metadata={"attempts": mem["attempts"], "reason": d.reason},
                            description=f"{name}: still not running after {mem['attempts']} resubmissions; stopped, needs a person",
                        )
                    )
                continue
            mem["attempts"] += 1
            mem["last"] = now
            requests.append(
                dg.RunRequest(
                    run_key=f"flink:{name}:{d.job_id or 'none'}:{mem['attempts']}",
                    job_name="repair_flink_jobs",
                    tags={"cdc/flink_job": name, "cdc/reason": d.reason[:200]},
                    run_config={"ops": {"repair_flink": {"config": {"objects": [name]}}}},
                )
            )
        return dg.SensorResult(
            run_requests=requests,
            asset_events=events,
            cursor=json.dumps(memory),
            skip_reason=None if requests or events else ("; ".join(notes) or "every Flink job RUNNING"),
        )

    return flink_health


def _job_running(client: Any, overview: Any, job: fsql.FlinkJob) -> tuple[bool, dict[str, Any]]:
    """(passed, metadata) of one aggregate's job in the JobManager's overview."""
    mine = jobs_of(overview, job.object_name)
    running = [j for j in mine if j.state == "RUNNING"]
    exact = [j for j in running if j.name == job.name]
    md: dict[str, Any] = {
        "expected_job_name": job.name,
        "statement_hash": job.hash,
        "jobs": dg.MetadataValue.json([{"id": j.jid, "name": j.name, "state": j.state} for j in mine[:10]]),
    }
    if exact:
        state = job_state(client.job(exact[0].jid))
        if state == "RUNNING":
            return True, {**md, "job_id": exact[0].jid}
        return False, {
            **md,
            "job_id": exact[0].jid,
            "problem": f"job {exact[0].jid} is RUNNING but not all its tasks are (no free task slot?)",
        }
    why = (
        f"a job of another statement runs ({running[0].name})"
        if running
        else f"no job is RUNNING (latest: {mine[0].state})"
        if mine
        else "no job of this aggregate exists"
    )
    return False, {**md, "problem": why}
