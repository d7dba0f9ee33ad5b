"""rebuild_redis: heal the DATA of a Redis sink, not just its connector.

For each selected sink: compare Redis with the source; if it differs, read the aggregate topic and
plan the replay (rebuild_decisions.plan_replay). When the topic holds the needed windows: stop the
sink (Connect STOPPED), delete the keys whose document is wrong and forget the sink's replay-guard
position of every key to repair (keys that are right keep theirs and are skipped), PATCH the sink's offsets back to
where the needed records start (KIP-875), resume, wait until the sink has committed the topic's end
offsets, compare again. When the topic lost them (deleted, cut by retention, never written): the
engine rebuilds the topic from the CDC topics (Flink: resubmitted from the earliest offsets without
state), provided those still hold their whole history; then the sink replays from the earliest
offset, every key's position forgotten (the new topic's offsets may start again at 0), so every key is written
again. Anything else is one incident naming the cause: the run fails, and the check's ERROR
evaluation carries the mismatch table.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import orjson
from pydantic import Field

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.run_secrets import job_tags
from pipeline_defs.systems.connect.offsets import sink_offset, stop_write_resume, wait_stopped, write_when_stopped
from pipeline_defs.systems.redis import rebuild_decisions as rd
from pipeline_defs.systems.redis.checks import DATA_CHECK_PREFIX, compare_settled, mismatch_table
from pipeline_defs.systems.redis.compare import CompareReport
from resources.errors import ResourceError

LAG_TIMEOUT_SECONDS = 300.0
ENGINE_TIMEOUT_SECONDS = 180.0


class RebuildConfig(dg.Config):
    sinks: list[str] = Field(default_factory=list, description="Redis sink connector names from the spec; empty = all")
    incident: str = Field(default="", description="set by the rebuild sensor when attempts are spent: fail at once with this text")


@dataclass
class SinkResult:
    sink: str
    action: str  # unchanged | replayed | engine_rebuilt | failed
    detail: list[str] = field(default_factory=list)
    report: CompareReport | None = None


# ---------------------------------------------------------------- reading


def compare(p: Any, resources: Any) -> tuple[CompareReport, dict[tuple[str, int], int]]:
    """The data check's comparison (rows still in flight are not wrong), also returning the source counts (the
    newest window per NAME is what a replay must deliver)."""
    return compare_settled(p, resources)


def needed_windows(report: CompareReport, counts: dict[tuple[str, int], int]) -> dict[str, int]:
    """{NAME: its newest window start in the source} for every NAME a replay can fix."""
    newest: dict[str, int] = {}
    for name, start in counts:
        newest[name] = max(start, newest.get(name, start))
    return {m.name: newest[m.name] for m in report.mismatches if m.problem in rd.REBUILDABLE and m.name in newest}


def scan_topic(kafka: Any, agg: registry.AggregateOutput) -> tuple[dict[int, tuple[int, int]] | None, list[rd.TopicRecord]]:
    """(watermarks or None when the topic is missing, every record with its NAME and window start).
    Reads the whole retained topic once; values are JSON with the aggregate's fields."""
    from confluent_kafka import TopicPartition

    counts = kafka.topic_counts([agg.topic]).get(agg.topic)
    if counts is None:
        return None, []
    marks = dict(counts.watermarks)
    out: list[rd.TopicRecord] = []
    c = kafka._consumer()  # no group subscription, no commits: a plain read
    try:
        todo = {p: hi for p, (lo, hi) in marks.items() if hi > lo}
        c.assign([TopicPartition(agg.topic, p, marks[p][0]) for p in todo])
        deadline = time.monotonic() + 120
        while todo and time.monotonic() < deadline:
            msg = c.poll(1.0)
            if msg is None or msg.error():
                continue
            p, off = msg.partition(), msg.offset()
            name = window = None
            if msg.value() is not None:
                try:
                    v = orjson.loads(msg.value())
                    name, window = v.get(agg.name_field), v.get(agg.window_start_field)
                except (orjson.JSONDecodeError, AttributeError):
                    pass
            out.append(rd.TopicRecord(p, off, None if name is None else str(name), window if isinstance(window, int) else None))
            if off >= todo.get(p, 0) - 1:
                todo.pop(p, None)
    finally:
        c.close()
    return marks, sorted(out, key=lambda r: (r.partition, r.offset))


def wait_lag_zero(kafka: Any, group: str, topic: str, timeout: float = LAG_TIMEOUT_SECONDS) -> int:
    """Seconds waited until the sink's group has committed the topic's end offsets (taken now)."""
    started = time.monotonic()
    targets = {p: hi for p, (_, hi) in (kafka.topic_counts([topic]).get(topic).watermarks.items())}
    while True:
        lag = kafka.consumer_group_lag(group).per_partition
        committed = {p: targets[p] - lag[(t, p)] for (t, p) in lag if t == topic and p in targets}
        if rd.lag_settled(committed, targets):
            return int(time.monotonic() - started)
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{group} did not reach the end of {topic} within {timeout:.0f}s (lag {sum(lag.values())})")
        time.sleep(1.0)


# ---------------------------------------------------------------- acting


def _clear_for_replay(redis: Any, report: CompareReport, offsets_key: str | None) -> list[str]:
    """Delete the documents a newer-window guard would keep, and forget the replay guard's position of every key
    the replay must write (missing ones too): the sink skips a record at or before a key's stored position, and
    a key that went wrong after its last record (deleted, corrupted, restored from an old backup) must take the
    replayed records again. Keys that are right keep their position, so the replay skips them: untouched."""
    keys = sorted({m.key for m in report.mismatches if m.problem in rd.DELETE_BEFORE_REPLAY and m.key})
    if keys:
        redis.r.delete(*keys)
    repaired = sorted({m.key for m in report.mismatches if m.problem in rd.REBUILDABLE and m.key})
    if offsets_key and repaired:
        redis.r.hdel(offsets_key, *repaired)
    return keys


def rebuild_sink(p: Any, connect: Any, kafka: Any, resources: Any, log: Any) -> SinkResult:
    res = SinkResult(p.sink, "unchanged")
    report, counts = compare(p, resources)
    if report.passed:
        res.report = report
        res.detail.append("Redis already matches the source")
        return res
    needed = needed_windows(report, counts)
    if not needed:
        res.action, res.report = "failed", report
        res.detail.append("no mismatch a replay can fix (" + ", ".join(sorted({m.problem for m in report.mismatches})) + ")")
        return res
    marks, records = scan_topic(kafka, p.agg)
    plan = rd.plan_replay(records, needed, marks, p.agg.topic)
    redis = resources.redis.get_client()
    if plan.possible:
        entries = [sink_offset(p.agg.topic, part, off) for part, off in sorted(plan.offsets.items())]
        deleted: list[str] = []

        def write() -> str:
            # while the sink is STOPPED: wrong documents out (a newer-window guard would keep them), then the offsets
            deleted.extend(_clear_for_replay(redis, report, p.offsets_key))
            return connect.alter_offsets(p.sink, entries)

        done = stop_write_resume(connect, p.sink, write)
        res.action = "replayed"
        res.detail.append(
            f"replayed {p.agg.topic} from "
            + ", ".join(f"p{e['partition']['kafka_partition']}:{e['offset']['kafka_offset']}" for e in entries)
            + f" for {len(needed)} NAME(s); deleted {len(deleted)} wrong key(s) first; {done['message']}"
        )
    else:
        log.warning(f"{p.sink}: {plan.cause}; rebuilding the topic from the engine")
        lost = _lost_windows(plan.missing)
        cause = rd.cdc_topics_complete(_cdc_watermarks(p, kafka))
        if cause:
            raise registry.CannotRebuild(
                f"{plan.cause}, and the engine could not rebuild it: {cause}; {lost}. A new snapshot "
                "of the source (reset the CDC connector's offsets) is needed first"
            )
        engine = registry.engine_of(p.spec)
        connect.stop(p.sink)  # nothing half-rebuilt reaches Redis
        wait_stopped(connect, p.sink)
        try:
            try:
                res.detail.append(engine.rebuild_from_source(p.spec, p.agg, resources))
            except (ResourceError, registry.CannotRebuild) as e:  # the engine is down or refused: a person fixes that first
                raise registry.CannotRebuild(f"{plan.cause}, and the engine could not rebuild it: {e}; {lost}") from None
            _wait_topic_has(kafka, p.agg, needed)
            _clear_for_replay(redis, report, p.offsets_key)
            if p.offsets_key:
                # the rebuilt topic's offsets may start again at 0 (a recreated topic): no stored position holds
                redis.r.delete(p.offsets_key)
            res.detail.append(write_when_stopped(lambda: connect.reset_offsets(p.sink), p.sink) or "sink offsets reset")
        finally:
            connect.resume(p.sink)
        res.action = "engine_rebuilt"
        res.detail.append(f"{plan.cause}: rebuilt by the engine, the sink replayed {p.agg.topic} from the earliest offset")
    waited = wait_lag_zero(kafka, f"connect-{p.sink}", p.agg.topic)
    res.detail.append(f"consumer lag reached zero after {waited}s")
    res.report, _ = compare(p, resources)
    if not res.report.passed:
        res.action = "failed"
    return res


def _lost_windows(missing: dict[str, int]) -> str:
    """What stays wrong in Redis: each NAME's newest window the topic no longer holds."""
    import datetime as dt

    def iso(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    shown = sorted(missing.items())[:20]
    more = f" and {len(missing) - len(shown)} more" if len(missing) > len(shown) else ""
    return "not rebuilt: the window of " + ", ".join(f"{n} starting {iso(w)}" for n, w in shown) + more


def _cdc_watermarks(p: Any, kafka: Any) -> dict[str, dict[int, tuple[int, int]] | None]:
    tables = {t.name: t for t in registry.source_of(p.spec).tables(p.spec)}
    topic = tables[p.agg.source_table].topic
    got = kafka.topic_counts([topic]).get(topic)
    return {topic: None if got is None else dict(got.watermarks)}


def _wait_topic_has(kafka: Any, agg: registry.AggregateOutput, needed: dict[str, int], timeout: float = ENGINE_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        marks, records = scan_topic(kafka, agg)
        plan = rd.plan_replay(records, needed, marks, agg.topic)
        if plan.possible:
            return
        if time.monotonic() > deadline:
            raise registry.CannotRebuild(f"the engine's rebuilt {agg.topic} still lacks {sorted(plan.missing)} after {timeout:.0f}s")
        time.sleep(2.0)


# ---------------------------------------------------------------- the job


def _evaluation(node: LineageNode, check: str, report: CompareReport, run_id: str, description: str) -> dg.AssetCheckEvaluation:
    md: dict[str, Any] = {
        "keys_checked": report.keys_checked,
        "matched": report.matched,
        "mismatches": len(report.mismatches),
        rd.REBUILD_MARK: run_id,
    }
    if report.mismatches:
        md["mismatch_table"] = mismatch_table(report.mismatches)
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(list(node.key)),
        check_name=check,
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=md,
        description=description,
    )


def rebuild_job(spec: Any, lineage: Lineage) -> dg.JobDefinition:
    nodes = {n.desired.sink: n for n in lineage.by_kind("redis_keys")}
    source, engine = registry.source_of(spec), registry.engine_of(spec)
    check = DATA_CHECK_PREFIX + source.kind

    @dg.op(
        description="Replay the selected Redis sinks until Redis matches the source again (see rebuild_redis).",
        required_resource_keys={"redis", "connect", "kafka", *source.resource_keys, *engine.resource_keys},
    )
    def rebuild(context: dg.OpExecutionContext, config: RebuildConfig) -> list:
        unknown = sorted(set(config.sinks) - set(nodes))
        if unknown:
            raise dg.Failure(f"not in the spec: {', '.join(unknown)} (Redis sinks: {', '.join(nodes)})")
        selected = config.sinks or list(nodes)
        if config.incident:
            context.log.error(config.incident)
            raise dg.Failure(config.incident, metadata={"sinks": ", ".join(selected)})
        connect = context.resources.connect.get_client()
        kafka = context.resources.kafka.get_client()
        failures, rows = [], []
        for sink in selected:
            node = nodes[sink]
            try:
                res = rebuild_sink(node.desired, connect, kafka, context.resources, context.log)
            except (registry.CannotRebuild, TimeoutError) as e:
                res = SinkResult(sink, "failed", [f"cannot rebuild: {e}"])
                res.report, _ = compare(node.desired, context.resources)
            for line in res.detail:
                context.log.info(f"{sink}: {line}")
            rows.append(dg.TableRecord({"sink": sink, "action": res.action, "detail": " | ".join(res.detail)}))
            if res.report is not None:
                what = f"after rebuild_redis ({res.action}): " + (
                    "Redis matches the source"
                    if res.report.passed
                    else f"{len(res.report.mismatches)} mismatch(es) remain: " + "; ".join(res.detail)
                )
                context.log_event(_evaluation(node, check, res.report, context.run_id, what))
            if res.action == "failed":
                failures.append(
                    {
                        "sink": sink,
                        "detail": " | ".join(res.detail),
                        "mismatches": [m.as_row() for m in (res.report.mismatches if res.report else [])],
                    }
                )
        context.add_output_metadata(
            {
                "sinks": dg.MetadataValue.table(
                    rows, schema=dg.TableSchema(columns=[dg.TableColumn("sink"), dg.TableColumn("action"), dg.TableColumn("detail")])
                )
            }
        )
        # the incident is raised by the next op: events logged by an op that raises are not kept
        return failures

    @dg.op(description="Fail loudly when a rebuild could not heal a sink: the cause and the mismatch table.")
    def raise_if_unhealed(context: dg.OpExecutionContext, failures: list) -> None:
        if not failures:
            return
        first = failures[0]
        md: dict[str, Any] = {"sink": first["sink"], "cause": first["detail"]}
        if first["mismatches"]:
            md["mismatch_table"] = _rows_table(first["mismatches"])
        what = (
            "rebuild_redis could not heal "
            + ", ".join(f["sink"] for f in failures)
            + ": "
            + first["detail"]
            + "; automatic rebuilds stopped until the data check passes again"
        )
        context.log.error(what)
        raise dg.Failure(what, metadata=md)

    @dg.job(
        tags={"cdc/operation": "rebuild_redis", **job_tags("rebuild_redis")},
        description="Heal the data of Redis sinks: stop, move offsets back (or rebuild the topic from the engine), "
        "resume, wait for zero lag, compare again (run config ops.rebuild.config.sinks).",
    )
    def rebuild_redis():
        raise_if_unhealed(rebuild())

    return rebuild_redis


def _rows_table(rows: list[dict]) -> dg.MetadataValue:
    cols = ["name", "problem", "key", "window_start", "window_end", "redis_count", "source_count"]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: ("" if r.get(c) is None else r[c]) for c in cols}) for r in rows[:200]],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "int" if c.endswith("count") else "string") for c in cols]),
    )
