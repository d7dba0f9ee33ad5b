"""The Redis sink plug-in: the sink connector and the Redis keys in the lineage, the data check
against the source, and the sensor that runs it when new aggregates arrive."""

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode, asset_key_component
from pipeline_defs.core.outcome import Outcome
from pipeline_defs.settings import settings
from pipeline_defs.spec.loader import spec_hash
from pipeline_defs.systems.connect.health import IN_FLIGHT
from pipeline_defs.systems.connect.props import ConnectorProps, connector_node
from pipeline_defs.systems.redis.compare import AggregateShape
from pipeline_defs.systems.redis.config import COMPATIBLE, key_prefix, keyspace, offsets_key, sink_config
from pipeline_defs.systems.redis.spec import RedisSink
from resources.errors import ResourceError
from resources.kafka import KafkaResource


@dataclass(frozen=True)
class RedisKeysProps:
    """The Redis side of one sink: where its documents live and what the data check compares."""

    spec: Any  # the validated spec: the source plug-in reads its rows through it
    sink: str
    agg: registry.AggregateOutput
    shape: AggregateShape
    expected_keys: tuple[str, ...]
    freshness_minutes: int
    settle_seconds: float = 5.0
    offsets_key: str | None = None  # the sink's replay guard (config.offsets_key)


def expected_group_values(spec: Any, agg: registry.AggregateOutput) -> list[str]:
    """Grouping values that must have a key once the demo rows went in: ``checks.expected_group_values``
    or every distinct value of the grouping column in the table's initial + demo rows. (The seed
    also checks jwick and jcena, who have no clickstream rows and so never get a key.)"""
    if spec.checks.expected_group_values is not None:
        return list(spec.checks.expected_group_values)
    return registry.source_of(spec).seed_values(spec, agg.source_table, agg.group_by)


class RedisSinkPlugin(registry.SinkPlugin):
    name = kind = "redis"
    model = RedisSink
    resource_keys = frozenset({"redis"})

    def resources(self) -> dict[str, Any]:
        from resources import endpoints as ep
        from resources.redis_json import RedisResource

        # an unset optional secret must not make every run fail config validation
        password = dg.EnvVar(ep.REDIS_PASSWORD_ENV) if ep.secret(ep.REDIS_PASSWORD_ENV) else None
        return {"redis": RedisResource(url=ep.REDIS_URL.get(), password=password)}

    def cross_validate(self, spec: Any, sink: RedisSink, index: int, agg: registry.AggregateOutput) -> registry.Problems:
        return [
            (f"sinks[{index}].config" + (f".{k}" if k.isidentifier() else f"[{k!r}]"), f"{k!r} is derived and cannot be overridden")
            for k in sink.config
            if k in ("name", "connector.class", "topics")
        ]

    def lineage(self, spec: Any, sink: RedisSink, agg: registry.AggregateOutput, g: GraphBuilder, topic: Key) -> None:
        cfg = sink_config(spec, sink, agg)
        props = ConnectorProps(sink.name, "sink", cfg, (agg.topic,), COMPATIBLE, initial_state=sink.initial_state)
        sk = g.add(
            connector_node(
                props,
                description=f"Kafka Connect sink {sink.name}: writes the aggregate into Redis",
                metadata={"topic": agg.topic},
                code_version=spec_hash(cfg),
            ),
            topic,
        )
        space = keyspace(sink, agg)
        prefix = key_prefix(sink, agg)
        values = expected_group_values(spec, agg)
        shape = AggregateShape(prefix, agg.name_field, agg.count_field, agg.window_start_field, agg.window_end_field, agg.window_ms)
        keys = tuple(prefix + v for v in values)
        g.add(
            LineageNode(
                ("redis", asset_key_component(space)),
                "redis_keys",
                space,
                "redis",
                "redis",
                RedisKeysProps(
                    spec, sink.name, agg, shape, keys, spec.checks.freshness_minutes, spec.checks.settle_seconds, offsets_key(sink, agg)
                ),
                {
                    "key_pattern": prefix + "*",
                    "command": sink.command,
                    "example_key": prefix + (values or ["<value>"])[0],
                    "expected_keys": list(keys),
                    "value_fields": [agg.name_field, agg.count_field, agg.window_start_field, agg.window_end_field],
                    "freshness_minutes": spec.checks.freshness_minutes,
                },
                spec_hash([space, sink.separator, cfg]),
                f"Redis aggregates {space}{sink.separator}<{agg.group_by}> (JSON: the count of the latest window per {agg.group_by})",
                frozenset({"redis"}),
            ),
            sk,
        )

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        p: RedisKeysProps = node.desired
        if dry_run:  # nothing to provision: the sink writes these keys; a plan need not scan them
            return Outcome(node.name, "observed", [], {"key_prefix": p.shape.key_prefix})
        docs = resources.redis.get_client().read_prefix(p.shape.key_prefix)
        counts = [d.get(p.shape.count_field) for d in docs.values() if isinstance(d, Mapping)]
        ends = [d.get(p.shape.window_end_field) for d in docs.values() if isinstance(d, Mapping)]
        md = {
            "keys": len(docs),
            "total_events": int(sum(c for c in counts if isinstance(c, int | float))),
            "key_prefix": p.shape.key_prefix,
        }
        if any(isinstance(e, int) for e in ends):
            md["newest_window_end_ms"] = max(e for e in ends if isinstance(e, int))
        return Outcome(node.name, "observed", [], md)

    def checks(self, node: LineageNode, lineage: Lineage) -> list:
        from pipeline_defs.systems.redis.checks import redis_checks
        from pipeline_defs.systems.redis.persistence import persistence_checks

        # one definition of data checks and one of persistence cover every keyspace (see redis_checks and
        # persistence_checks); they come with the first
        keyspaces = lineage.by_kind(node.kind)
        if node.key != keyspaces[0].key:
            return []
        return [*redis_checks(keyspaces), persistence_checks(keyspaces)]

    def data_check_names(self, spec: Any) -> set[str]:
        from pipeline_defs.systems.redis.checks import data_check_names

        return data_check_names(registry.source_of(spec).kind)

    def jobs(self, spec: Any, lineage: Lineage) -> list:
        from pipeline_defs.systems.redis.rebuild import rebuild_job

        return [rebuild_job(spec, lineage)]

    def sensors(self, spec: Any, lineage: Lineage) -> list:
        from pipeline_defs.systems.redis.rebuild_sensor import build_rebuild_sensor

        return [data_quality_sensor(lineage), build_rebuild_sensor(spec, lineage)]


def data_quality_sensor(
    lineage: Lineage,
    interval_seconds: int | None = None,
    min_run_interval_seconds: int | None = None,
    clock: Callable[[], float] = time.time,
) -> dg.SensorDefinition:
    gap = min_run_interval_seconds if min_run_interval_seconds is not None else settings().dq_min_interval_seconds
    interval_seconds = interval_seconds or settings().dq_interval_seconds
    props = [n.desired for n in lineage.by_kind("redis_keys")]
    topics = sorted({p.agg.topic for p in props})
    groups = [f"connect-{p.sink}" for p in props]

    @dg.sensor(
        name="data_quality_trigger",
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name="data_quality",
        description=f"When the aggregate topic or the sink's progress advances, run the data checks (at most every {gap}s).",
    )
    def data_quality_trigger(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        if context.instance.get_run_records(dg.RunsFilter(job_name="data_quality", statuses=IN_FLIGHT), limit=1):
            # one at a time: under load a run outlasts the spacing, and piled-up runs starve each other
            return dg.SkipReason("a data_quality run is queued or running")
        state = json.loads(context.cursor) if context.cursor else {}
        kc = kafka.get_client()
        try:
            ends = {t: c.end_offset for t, c in kc.topic_counts(topics).items()}
            committed = {g: sum(kc.consumer_group_lag(g).per_partition.values()) for g in groups}
        except ResourceError as e:
            return dg.SkipReason(f"Kafka unreachable: {e}")
        signature = json.dumps({"topics": ends, "sink_lag": committed}, sort_keys=True)
        now = clock()
        if signature == state.get("signature"):
            return dg.SkipReason("no new aggregates since the last data-quality run")
        if now - state.get("last_run", 0) < gap:
            return dg.SkipReason(f"aggregates advanced; next data-quality run allowed in {int(gap - (now - state.get('last_run', 0)))}s")
        context.update_cursor(json.dumps({"signature": signature, "last_run": now}))
        return dg.RunRequest(run_key=f"dq:{abs(hash(signature))}:{int(now)}", job_name="data_quality")

    return data_quality_trigger
