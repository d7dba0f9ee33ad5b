"""The pipeline spec as one pydantic model, assembled from the registered plug-ins.

``source``, ``engine`` and each ``sinks[]`` entry are discriminated unions on ``kind``: their
members are the spec models the system packages register (pipeline_defs/core/registry.py). The
rest is shared by every profile.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, create_model

from pipeline_defs.core import registry
from pipeline_defs.spec.fields import Model, SafeText

Problems = list[tuple[str, str]]


class Endpoints(Model):
    """Addresses as the Kafka Connect worker sees them (they go into connector configs).
    Defaults are the seed's compose service names."""

    kafka_bootstrap_servers: SafeText = "broker:29092"
    schema_registry_url: SafeText = "http://schema-registry:8081"
    redis_uri: SafeText = "redis://redis:6379"


class KafkaSettings(Model):
    """Replication factor / partitions for topics the connectors create (single broker: 1)."""

    replication_factor: int = Field(1, ge=1, le=32)
    partitions: int = Field(1, ge=1, le=10_000)


class Checks(Model):
    freshness_minutes: int = Field(10, ge=1, le=10_080)
    # rows committed while the data check reads are in flight, not wrong: a check that finds differences
    # reads again after this many seconds and judges Redis against the source counts read before that wait
    # (at least) and after it (at most). Must exceed the pipeline's commit -> Redis latency (p99 ~0.2 s).
    settle_seconds: float = Field(5.0, ge=0, le=600)
    # grouping values whose Redis keys must exist after the demo rows went in (e.g. [jdoe]);
    # None = every value of the grouping column in the aggregated table's initial + demo rows
    expected_group_values: list[str] | None = None


class PipelineSpecBase(Model):
    """The fields every profile shares; :func:`spec_model` adds the unions."""

    version: Literal[1] = 1
    endpoints: Endpoints = Endpoints()
    kafka: KafkaSettings = KafkaSettings()
    checks: Checks = Checks()


PipelineSpec = PipelineSpecBase  # for annotations: every spec is one of these
_cache: dict[int, type[PipelineSpecBase]] = {}


def _tagged(models: list[type]) -> Any:
    """A union discriminated by ``kind``; one member needs no discriminator (its Literal checks it)."""
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007 - members known at run time


def spec_model() -> type[PipelineSpecBase]:
    """The spec model for the plug-ins registered now (rebuilt when the registry changes)."""
    import pipeline_defs.systems  # noqa: F401 - registers every system package

    v = registry.version()
    if v not in _cache:
        if not (registry.SOURCES and registry.ENGINES and registry.SINKS):
            raise RuntimeError("no source, engine or sink plug-in is registered")
        src, eng, snk = (_tagged([p.model for p in plugins.values()]) for plugins in (registry.SOURCES, registry.ENGINES, registry.SINKS))
        _cache.clear()
        _cache[v] = create_model(
            "PipelineSpec",
            __base__=PipelineSpecBase,
            source=(src, ...),
            engine=(eng, ...),
            sinks=(list[snk], []),
        )
    return _cache[v]


def cross_validate(spec: Any) -> Problems:
    """Rules across sections: the plug-ins' own (the engine's include one producer per topic),
    then what ties them together (sinks read aggregates, one connector per name, unique asset keys)."""
    source = registry.source_of(spec)
    problems = list(source.cross_validate(spec))
    if problems:
        return problems  # the engine's rules read the source's tables; they must be sound first
    tables = {t.name: t for t in source.tables(spec)}
    engine = registry.engine_of(spec)
    problems += engine.cross_validate(spec, tables)
    if problems:
        return problems
    aggs = {a.name: a for a in engine.aggregates(spec)}
    names = {n: p for p, n in source.connector_names(spec)}
    redis_targets: dict[str, str] = {}
    for si, s in enumerate(spec.sinks):
        if s.name in names:
            problems.append((f"sinks[{si}].name", f"duplicate connector name {s.name!r} (also at {names[s.name]})"))
        names[s.name] = f"sinks[{si}].name"
        a = aggs.get(s.object)
        if a is None:
            problems.append(
                (
                    f"sinks[{si}].object",
                    f"{s.object!r} is not an aggregate of the engine "
                    f"(aggregates: {', '.join(aggs) or 'none'}): nothing produces the topic it would read",
                )
            )
            continue
        if a.topic in redis_targets:
            problems.append((f"sinks[{si}].object", f"topic {a.topic!r} is already written to Redis by sink {redis_targets[a.topic]!r}"))
        redis_targets[a.topic] = s.name
        problems += registry.sink_of(s).cross_validate(spec, s, si, a)
    if spec.checks.expected_group_values is not None and not spec.sinks:
        problems.append(("checks.expected_group_values", "there is no sink to write these keys"))
    if problems:
        return problems
    from collections import Counter

    from pipeline_defs.lineage import build_lineage

    dup = sorted(k for k, n in Counter(n.key for n in build_lineage(spec).nodes).items() if n > 1)
    if dup:
        problems.append(("", f"asset keys collide after sanitising names: {[list(k) for k in dup]}"))
    return problems
