"""The plans of the persistent queries the ksqlDB double runs for real in Kafka-backed mode.

A CREATE ... AS SELECT or INSERT INTO is accepted in Kafka-backed mode only if the double can run it:
the windowed count (tests/doubles/ksql_windowed_aggregation.py) or the stateless projection
(tests/doubles/ksql_projection.py). These builders check the statement against those shapes, refuse
anything else with a SqlError that says what does run, and resolve the Kafka Streams settings
(streamsProperties / SET over the server's streams_config) the query runs with.
"""

from __future__ import annotations

import re
from typing import Any

from tests.doubles.ksql_expr import check_cond, parse_cond, parse_expr
from tests.doubles.ksql_kafka_io import KAFKA_KEY_TYPES
from tests.doubles.ksql_lexical import SqlError, ident
from tests.doubles.ksql_metastore import Source
from tests.doubles.ksql_projection import ProjectionPlan
from tests.doubles.ksql_statements import Column, CreateAs, Select
from tests.doubles.ksql_windowed_aggregation import AggregationPlan
from tests.doubles.ksql_windowed_count import (
    DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_COMMIT_INTERVAL_MS,
    DEFAULT_STREAM_THREADS,
    default_grace_ms,
)

_OFFSET_RESET_KEYS = ("auto.offset.reset", "ksql.streams.auto.offset.reset")


def _streams_int(props: dict[str, Any], name: str, default: int, minimum: int = 0) -> int:
    """A Kafka Streams setting from streamsProperties / SET, bare or with ksqlDB's `ksql.streams.` prefix."""
    raw = props.get(f"ksql.streams.{name}", props.get(name, default))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SqlError(f"Invalid value {raw} for configuration {name}: Not a number of type LONG") from None
    if value < minimum:
        raise SqlError(f"Invalid value {value} for configuration {name}: Value must be at least {minimum}")
    return value


def aggregation_plan(
    s: CreateAs,
    src: Source,
    columns: list[Column],
    key_fmt: str,
    value_fmt: str,
    topic: str,
    props: dict[str, Any],
    sink_partitions: int,
    streams_config: dict[str, Any],
) -> AggregationPlan:
    """Validate that a CTAS is the windowed count the Kafka-backed mode runs; query_id is filled
    in by the caller."""
    sel = s.select

    def refuse(why: str) -> SqlError:
        return SqlError(
            f"ksqlDB test double (Kafka-backed mode): {why}. It runs CREATE TABLE ... AS SELECT g, "
            "AS_VALUE(g) AS v, COUNT(*) AS c, WINDOWSTART AS s, WINDOWEND AS e FROM <stream> "
            "WINDOW TUMBLING (...) GROUP BY g only."
        )

    if s.kind != "TABLE" or src.kind != "STREAM":
        raise refuse("only CREATE TABLE ... AS SELECT over a STREAM runs")
    if sel.window is None or sel.window.type != "TUMBLING":
        raise refuse("only WINDOW TUMBLING aggregates run")
    if len(sel.group_by) != 1:
        raise refuse("GROUP BY exactly one column")
    if sel.where or sel.having or sel.partition_by:
        raise refuse("WHERE, HAVING and PARTITION BY are not simulated")
    if key_fmt != "KAFKA" or value_fmt != "JSON":
        raise refuse(f"KEY_FORMAT 'KAFKA' and VALUE_FORMAT 'JSON' only, not {key_fmt}/{value_fmt}")
    if src.value_format != "JSON" or src.key_format not in ("KAFKA", "NONE"):
        raise refuse(f"the source must be KEY_FORMAT 'KAFKA', VALUE_FORMAT 'JSON', not {src.key_format}/{src.value_format}")
    if len(src.key_columns) > 1 or any(c.type not in KAFKA_KEY_TYPES for c in src.key_columns):
        raise refuse(f"a KAFKA key holds one column of type {', '.join(KAFKA_KEY_TYPES)}")
    group = ident(sel.group_by[0].strip().split(".")[-1])
    by_name = {c.name: c for c in src.columns}
    if by_name[group].type not in KAFKA_KEY_TYPES:
        raise refuse(f"the GROUP BY column must be one of {', '.join(KAFKA_KEY_TYPES)} (KAFKA key format)")
    if src.timestamp and by_name[src.timestamp].type not in ("BIGINT", "TIMESTAMP"):
        raise refuse("the TIMESTAMP column must be BIGINT epoch millis (TIMESTAMP_FORMAT is not simulated)")
    outputs: list[tuple[str, str]] = []
    sum_column: str | None = None
    key_column = group
    for item, col in zip(sel.items, columns, strict=True):
        e = re.sub(r"\s+", "", item.expr).upper()
        g = group.upper()
        if col.key:
            if ident(item.expr.split(".")[-1]) != group:
                raise refuse(f"unsupported key projection {item.expr!r}")
            key_column = col.name
            continue
        what = {f"AS_VALUE({g})": "group", "COUNT(*)": "count", "WINDOWSTART": "windowstart", "WINDOWEND": "windowend"}.get(e)
        if sm := re.fullmatch(r"SUM\(([A-Z_][A-Z0-9_]*)\)", e):
            summed = ident(sm.group(1))
            if by_name.get(summed) is None or by_name[summed].type not in ("INTEGER", "BIGINT"):
                raise refuse(f"SUM over an INTEGER/BIGINT column of the stream only, not {item.expr!r}")
            if sum_column is not None and sum_column != summed:
                raise refuse("one SUM column per aggregate")
            what, sum_column = "count", summed
        if what is None:
            raise refuse(f"unsupported projection {item.expr!r}")
        outputs.append((col.name, what))
    reset = next((str(props[k]).lower() for k in _OFFSET_RESET_KEYS if k in props), "latest")
    if reset not in ("earliest", "latest"):
        raise SqlError(f"Invalid value {reset} for configuration auto.offset.reset: String must be one of: latest, earliest, none")
    streams = {**streams_config, **props}
    return AggregationPlan(
        query_id="",
        sink=s.name,
        sink_topic=topic,
        source=src.name,
        source_topic=src.topic,
        source_columns={c.name: c.type for c in src.value_columns},
        key_columns={c.name: c.type for c in src.key_columns},
        group_column=group,
        group_type=by_name[group].type,
        timestamp_column=src.timestamp or None,
        size_ms=sel.window.size_ms,
        grace_ms=sel.window.grace_ms if sel.window.grace_ms is not None else default_grace_ms(sel.window.size_ms),
        key_column=key_column,
        value_outputs=outputs,
        offset_reset=reset,
        consumer_group="",
        source_partitions=src.partitions,
        sink_partitions=sink_partitions,
        group_is_key=group in {c.name for c in src.key_columns},
        commit_interval_ms=_streams_int(streams, "commit.interval.ms", DEFAULT_COMMIT_INTERVAL_MS),
        cache_max_bytes=_streams_int(streams, "cache.max.bytes.buffering", DEFAULT_CACHE_MAX_BYTES),
        stream_threads=_streams_int(streams, "num.stream.threads", DEFAULT_STREAM_THREADS, minimum=1),
        sum_column=sum_column,
    )


def projection_plan(
    sel: Select, src: Source, columns: list[Column], value_fmt: str, topic: str, props: dict[str, Any], sink_ts: str | None
) -> ProjectionPlan:
    """Validate that a CSAS / INSERT INTO is the stateless projection the Kafka-backed mode runs."""
    if src.kind != "STREAM" or sel.window or sel.partition_by or sel.having:
        raise SqlError(
            "ksqlDB test double (Kafka-backed mode): stream projections run over a STREAM without WINDOW, PARTITION BY or HAVING only"
        )
    if src.key_columns or src.value_format != "JSON" or value_fmt != "JSON":
        raise SqlError("ksqlDB test double (Kafka-backed mode): stream projections run over key-less JSON streams into JSON only")
    types = {c.name: c.type for c in src.value_columns}
    outputs = []
    for item, col in zip(sel.items, columns, strict=True):
        if item.expr == "*":
            raise SqlError("ksqlDB test double (Kafka-backed mode): SELECT * is not simulated in stream projections")
        outputs.append((col.name, parse_expr(item.expr)))
    where = None
    if sel.where:
        where = parse_cond(sel.where)
        check_cond(where, types)
    reset = next((str(props[k]).lower() for k in _OFFSET_RESET_KEYS if k in props), "latest")
    return ProjectionPlan(
        query_id="",
        sink="",
        sink_topic=topic,
        source=src.name,
        source_topic=src.topic,
        source_columns=types,
        source_timestamp=src.timestamp or None,
        outputs=outputs,
        where=where,
        sink_timestamp=sink_ts,
        offset_reset=reset,
        consumer_group="",
    )


__all__ = ["aggregation_plan", "projection_plan"]
