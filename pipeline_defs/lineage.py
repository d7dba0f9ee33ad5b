"""The lineage graph of a spec, assembled from the plug-ins: the source adds its database objects,
CDC connectors and topics; the engine its objects and aggregate topics; each sink its connector
and target. Nothing here names a system."""

from __future__ import annotations

from typing import Any

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import GraphBuilder, Lineage


def build_lineage(spec: Any) -> Lineage:
    g = GraphBuilder()
    topics = registry.source_of(spec).lineage(spec, g)
    engine = registry.engine_of(spec)
    agg_topics = engine.lineage(spec, g, topics)
    aggs = {a.name: a for a in engine.aggregates(spec)}
    for sink in spec.sinks:
        registry.sink_of(sink).lineage(spec, sink, aggs[sink.object], g, agg_topics[sink.object])
    return g.build()
