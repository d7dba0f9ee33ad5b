"""The ksqlDB engine's rules across fields, against the source's tables (neutral types)."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_defs.core.registry import Problems, SourceTable
from pipeline_defs.core.types import Neutral
from pipeline_defs.spec.fields import dupes

# neutral type -> ksqlDB column types that read what the connectors write for it
KSQL_TYPES_FOR: dict[Neutral, set[str]] = {
    Neutral.STRING: {"STRING", "VARCHAR"},
    Neutral.INT32: {"INT", "INTEGER", "BIGINT"},
    Neutral.INT64: {"BIGINT"},
    Neutral.FLOAT64: {"DOUBLE"},
    Neutral.TIMESTAMP: {"BIGINT", "TIMESTAMP"},  # epoch millis on the wire
    Neutral.BYTES: {"BYTES"},
    Neutral.BOOLEAN: {"BOOLEAN"},
    Neutral.DATE: {"DATE", "INT"},
}


def cross_validate(spec, tables: Mapping[str, SourceTable], fmt: str) -> Problems:
    problems: Problems = []
    objs = spec.engine.objects
    dupes(problems, objs, "engine.objects[{}].name", "ksqlDB object", key=lambda o: o.name)
    by_name = {o.name: o for o in objs}
    for oi, o in enumerate(objs):
        op = f"engine.objects[{oi}]"
        dupes(problems, o.columns, op + ".columns[{}].name", "column", key=lambda c: c.name)
        for attr in ("key_format", "value_format"):
            v = getattr(o, attr)
            if v == "AVRO" and fmt != "avro":
                problems.append((f"{op}.{attr}", "AVRO needs Schema Registry, i.e. source.format: avro"))
        if o.source is not None:
            if o.topic is not None:
                problems.append((f"{op}.topic", "only aggregates choose their topic; a source object reads its table's CDC topic"))
            t = tables.get(o.source.table)
            if t is None:
                problems.append((f"{op}.source.table", f"unknown table {o.source.table!r} (source.tables: {', '.join(tables)})"))
                continue
            if not t.captured:
                problems.append(
                    (f"{op}.source.table", f"table {t.name} is not captured by any source connector, so its CDC topic is never produced")
                )
            if not o.columns:
                problems.append((f"{op}.columns", "a source object needs its columns"))
            for ci_, col in enumerate(o.columns):
                oc = t.column(col.name)
                if oc is None:
                    problems.append((f"{op}.columns[{ci_}].name", f"table {t.name} has no column {col.name!r}"))
                    continue
                allowed = KSQL_TYPES_FOR.get(oc.type, set()) if oc.type is not None else set()
                if col.type not in allowed:
                    problems.append(
                        (
                            f"{op}.columns[{ci_}].type",
                            f"{col.type} does not fit source column {t.name}.{oc.name} {oc.native_type} "
                            + (
                                f"(allowed: {', '.join(sorted(allowed))})"
                                if allowed
                                else "(the connectors do not write this type in one engine-readable form)"
                            ),
                        )
                    )
            keys = [c.name for c in o.columns if c.key]
            if o.kind == "table" and not keys:
                problems.append((f"{op}.columns", "a ksqlDB table needs its primary key column(s) (key: true)"))
            if keys and keys != t.primary_key:
                problems.append(
                    (f"{op}.columns", f"key columns {keys} must be the primary key of {t.name} {t.primary_key} (the CDC record key)")
                )
            if fmt == "json" and len(keys) > 1:
                problems.append((f"{op}.columns", "format json (KEY_FORMAT KAFKA) supports one key column"))
            want_v = "AVRO" if fmt == "avro" else "JSON"
            want_k = "AVRO" if fmt == "avro" else "KAFKA"
            if o.value_format not in (None, want_v):
                problems.append((f"{op}.value_format", f"the connectors write {want_v} values (source.format {fmt})"))
            if o.key_format not in (None, want_k):
                problems.append((f"{op}.key_format", f"the connectors write {want_k} keys (source.format {fmt})"))
            if o.changes is not None:
                if o.kind != "stream":
                    problems.append((f"{op}.changes", "only a stream reads change records (a table keeps the latest row per key)"))
                for attr in ("op_type", "before"):
                    if any(c.name == getattr(o.changes, attr) for c in o.columns):
                        problems.append((f"{op}.changes.{attr}", f"{getattr(o.changes, attr)!r} is already a column of {o.name}"))
            if o.timestamp is not None:
                tc = next((c for c in o.columns if c.name == o.timestamp), None)
                if tc is None:
                    problems.append((f"{op}.timestamp", f"{o.timestamp!r} is not one of the object's columns"))
                elif tc.type not in ("BIGINT", "TIMESTAMP"):
                    problems.append((f"{op}.timestamp", f"the event-time column must be BIGINT (epoch millis) or TIMESTAMP, not {tc.type}"))
                elif tc.key:
                    problems.append((f"{op}.timestamp", "the event-time column must be a value column"))
        elif o.deltas is not None:
            d, dp = o.deltas, f"{op}.deltas"
            if o.kind != "stream":
                problems.append((f"{op}.kind", "deltas are a stream (+1/-1 per change)"))
            if o.columns or o.timestamp is not None or o.changes is not None:
                problems.append((op, "a deltas stream's columns and event time are derived; remove columns/timestamp/changes"))
            src = by_name.get(d.from_)
            if src is None:
                problems.append((f"{dp}.from", f"unknown ksqlDB object {d.from_!r} (objects: {', '.join(by_name)})"))
            elif src.source is None or src.kind != "stream":
                problems.append((f"{dp}.from", f"{d.from_} must be a stream over a CDC topic"))
            else:
                if src.changes is None:
                    problems.append(
                        (
                            f"{dp}.from",
                            f"{d.from_} declares no 'changes' (op type and before image), so updates and deletes cannot be told apart",
                        )
                    )
                if src.timestamp is None:
                    problems.append((f"{dp}.from", f"{d.from_} declares no event-time 'timestamp'; the deltas are windowed by it"))
                if not any(c.name == d.group_by for c in src.columns):
                    problems.append((f"{dp}.group_by", f"{d.from_} has no column {d.group_by!r}"))
                if d.delta_as in (d.group_by, src.timestamp):
                    problems.append((f"{dp}.delta_as", f"{d.delta_as!r} is already a column of the deltas stream"))
        else:
            a = o.aggregate
            ap = f"{op}.aggregate"
            if o.kind != "table":
                problems.append((f"{op}.kind", "an aggregate is a table (windowed COUNT ... GROUP BY)"))
            if o.columns:
                problems.append((f"{op}.columns", "an aggregate's columns are derived; remove them"))
            if o.timestamp is not None:
                problems.append((f"{op}.timestamp", "event time is declared on the stream the aggregate reads"))
            if o.value_format == "KAFKA":
                problems.append((f"{op}.value_format", "KAFKA cannot hold several value columns; use JSON or AVRO"))
            src = by_name.get(a.from_)
            if src is None:
                problems.append((f"{ap}.from", f"unknown ksqlDB object {a.from_!r} (objects: {', '.join(by_name)})"))
            elif src.kind != "stream":
                problems.append((f"{ap}.from", f"{a.from_} is a {src.kind}; a windowed aggregate reads a stream"))
            elif src.aggregate is not None:
                problems.append((f"{ap}.from", f"{a.from_} is itself an aggregate"))
            elif src.deltas is not None:
                if a.group_by != src.deltas.group_by:
                    problems.append((f"{ap}.group_by", f"{a.from_} carries {src.deltas.group_by!r}, not {a.group_by!r}"))
            else:
                if not any(c.name == a.group_by for c in src.columns):
                    problems.append((f"{ap}.group_by", f"{a.from_} has no column {a.group_by!r}"))
            names = [a.group_by, a.value_key_column, a.count_as, a.window_start_as, a.window_end_as]
            labels = ["group_by", "value_key_column", "count_as", "window_start_as", "window_end_as"]
            for i in range(1, len(names)):
                if names[i] in names[:i]:
                    problems.append(
                        (
                            f"{ap}.{labels[i]}",
                            f"{names[i]!r} is already used by {labels[names.index(names[i])]} (ksqlDB needs distinct column names)",
                        )
                    )
    # topics: one producer each
    topic_owner = {t.topic: "the CDC source of " + t.name for t in tables.values() if t.captured}
    for oi, o in enumerate(objs):
        if o.aggregate is not None or o.deltas is not None:
            topic = o.topic or o.name
            if topic in topic_owner:
                problems.append((f"engine.objects[{oi}].topic", f"topic {topic!r} is already written by {topic_owner[topic]}"))
            topic_owner[topic] = f"ksqlDB object {o.name}"
    return problems
