"""ksqlDB statements compiled from the spec's engine objects, in dependency order.

Every name that reaches a statement was validated by the spec (identifiers, topic names, formats
and types come from allowlists or strict patterns), so no quote, semicolon or comment can be
smuggled in; string literals are still quoted with '' escaping.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pipeline_defs.systems.ksqldb.spec import KsqlColumn, KsqlDbEngine, KsqlObject


class EngineStatement(NamedTuple):
    """One CREATE statement: (object name, kind 'stream'|'table', statement text ending in ';')."""

    name: str
    kind: str
    statement: str


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class KsqlCompiler:
    """ksqlDB. Statements use ``CREATE ... IF NOT EXISTS`` so a re-run is a no-op (ksqlDB answers
    with a warning entity for an existing object).

    The aggregate (e.g. USER_AGGREGATE_EVENTS) is::

        CREATE TABLE IF NOT EXISTS USER_AGGREGATE_EVENTS WITH (KAFKA_TOPIC='USER_AGGREGATE_EVENTS',
          KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO') AS
        SELECT NAME, AS_VALUE(NAME) AS USER_NAME, COUNT(*) AS EVENT_COUNT,
               WINDOWSTART AS WINDOW_START, WINDOWEND AS WINDOW_END
        FROM POC_CLICKSTREAM_STREAM
        WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE)
        GROUP BY NAME EMIT CHANGES;

    Why the extra value columns: the Kafka key of a windowed table is the grouping key followed by
    8 bytes of window start, which the Redis sink would turn into an unreadable Redis key. The
    value therefore carries the grouping key under another name (``AS_VALUE``; ksqlDB refuses a
    value column named like the key column) plus the window bounds, and the sink re-keys from it
    (see the Redis sink package). The stream it reads declares event time
    (``TIMESTAMP='EVENTTIMESTAMP'``) so windows follow when the click happened, not when the record
    reached Kafka; ``GRACE PERIOD`` admits events that arrive up to that late.
    """

    def __init__(self, spec: Any):
        from pipeline_defs.core import registry

        self.spec = spec
        self.engine: KsqlDbEngine = spec.engine
        self.source = registry.source_of(spec)
        self.tables = {t.name: t for t in self.source.tables(spec)}
        self.fmt = self.source.wire_format(spec)

    def _obj(self, obj: KsqlObject | str) -> KsqlObject:
        if isinstance(obj, KsqlObject):
            return obj
        found = self.engine.object(obj)
        if found is None:
            raise KeyError(f"no ksqlDB object {obj!r} in the spec")
        return found

    def formats(self, obj: KsqlObject | str) -> tuple[str, str]:
        """(KEY_FORMAT, VALUE_FORMAT): explicit, else AVRO/AVRO for source.format avro and
        KAFKA/JSON for json."""
        o = self._obj(obj)
        dk, dv = ("AVRO", "AVRO") if self.fmt == "avro" else ("KAFKA", "JSON")
        return o.key_format or dk, o.value_format or dv

    def output_topic(self, obj: KsqlObject | str) -> str:
        o = self._obj(obj)
        if o.source is not None:
            return self.tables[o.source.table].topic
        return o.topic or o.name

    def base_stream(self, obj: KsqlObject | str) -> KsqlObject:
        """The stream over a CDC topic that an object's rows come from (itself, or through an
        aggregate and a deltas stream)."""
        o = self._obj(obj)
        while o.source is None:
            o = self._obj(o.aggregate.from_ if o.aggregate is not None else o.deltas.from_)
        return o

    def _column_type(self, stream: KsqlObject, name: str) -> str:
        return next((c.type for c in stream.columns if c.name == name), "STRING")

    def before_fields(self, stream: KsqlObject) -> list[str]:
        """The before-image fields the deltas streams over ``stream`` read: their group column and
        the event-time column, in that order."""
        out: list[str] = []
        for o in self.engine.objects:
            if o.deltas is not None and o.deltas.from_ == stream.name:
                for f in (o.deltas.group_by, stream.timestamp):
                    if f and f not in out:
                        out.append(f)
        return out

    def object_columns(self, obj: KsqlObject | str) -> list[KsqlColumn]:
        o = self._obj(obj)
        if o.source is not None:
            cols = list(o.columns)
            if o.changes is not None:
                struct = ", ".join(f"{f} {self._column_type(o, f)}" for f in self.before_fields(o))
                # the STRUCT type is derived here, never from the spec (whose column types are an allowlist)
                before = KsqlColumn.model_construct(name=o.changes.before, type=f"STRUCT<{struct}>", key=False)
                cols += [KsqlColumn(name=o.changes.op_type, type="STRING"), before]
            return cols
        base = self.base_stream(o)
        if o.deltas is not None:
            d = o.deltas
            return [
                KsqlColumn(name=d.group_by, type=self._column_type(base, d.group_by)),
                KsqlColumn(name=base.timestamp, type=self._column_type(base, base.timestamp)),
                KsqlColumn(name=d.delta_as, type="BIGINT"),
            ]
        a = o.aggregate
        gtype = self._column_type(base, a.group_by)
        return [
            KsqlColumn(name=a.group_by, type=gtype, key=True),
            KsqlColumn(name=a.value_key_column, type=gtype),
            KsqlColumn(name=a.count_as, type="BIGINT"),
            KsqlColumn(name=a.window_start_as, type="BIGINT"),
            KsqlColumn(name=a.window_end_as, type="BIGINT"),
        ]

    def properties(self) -> dict[str, str]:
        return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in self.engine.streams_properties.items()}

    def order(self) -> list[KsqlObject]:
        """Objects in dependency order (an aggregate after the stream it reads), otherwise in
        spec order."""
        done: list[KsqlObject] = []
        names: set[str] = set()
        pending = list(self.engine.objects)
        while pending:
            progressed = False
            for o in list(pending):
                dep = o.aggregate.from_ if o.aggregate else o.deltas.from_ if o.deltas else None
                if dep is None or dep in names:
                    done.append(o)
                    names.add(o.name)
                    pending.remove(o)
                    progressed = True
            if not progressed:  # unreachable for a validated spec
                raise ValueError(f"ksqlDB objects with unresolved dependencies: {[o.name for o in pending]}")
        return done

    def statement(self, obj: KsqlObject | str) -> EngineStatement:
        o = self._obj(obj)
        kf, vf = self.formats(o)
        topic = self.output_topic(o)
        keyword = "TABLE" if o.kind == "table" else "STREAM"
        if o.source is not None:
            key_kw = "PRIMARY KEY" if o.kind == "table" else "KEY"
            cols = ",\n".join(f"  {c.name} {c.type}{' ' + key_kw if c.key else ''}" for c in self.object_columns(o))
            with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
            if o.timestamp:
                with_.append(f"TIMESTAMP={_lit(o.timestamp)}")
            text = f"CREATE {keyword} IF NOT EXISTS {o.name} (\n{cols}\n) WITH (\n  " + ",\n  ".join(with_) + "\n);"
            return EngineStatement(o.name, o.kind, text)
        if o.deltas is not None:
            return EngineStatement(o.name, "stream", self._deltas_statements(o, vf, topic))
        a = o.aggregate
        frm = self._obj(a.from_)
        count = f"SUM({frm.deltas.delta_as})" if frm.deltas is not None else "COUNT(*)"
        with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
        text = (
            f"CREATE TABLE IF NOT EXISTS {o.name} WITH (\n  " + ",\n  ".join(with_) + "\n) AS\nSELECT\n"
            f"  {a.group_by},\n"
            f"  AS_VALUE({a.group_by}) AS {a.value_key_column},\n"
            f"  {count} AS {a.count_as},\n"
            f"  WINDOWSTART AS {a.window_start_as},\n"
            f"  WINDOWEND AS {a.window_end_as}\n"
            f"FROM {a.from_}\n"
            f"WINDOW TUMBLING (SIZE {a.window.size}, GRACE PERIOD {a.window.grace})\n"
            f"GROUP BY {a.group_by}\n"
            "EMIT CHANGES;"
        )
        return EngineStatement(o.name, "table", text)

    def _deltas_statements(self, o: KsqlObject, vf: str, topic: str) -> str:
        """Two persistent queries into one stream: the CSAS turns every change record into +1 at the
        row's own group value and event time (-1 for a delete, whose record carries the deleted row);
        the INSERT INTO takes 1 away at an update's before-image. ksqlDB 0.29 constructs (confluentinc/ksql,
        docs/developer-guide/ksqldb-reference/ and the grammar ksqldb-parser/.../parser/SqlBase.g4): CSAS with
        ``TIMESTAMP`` (create-stream-as-select.md: the event time of downstream queries and of the records it
        writes), ``INSERT INTO ... SELECT`` (insert-into.md: an existing stream, the same schema), ``CASE WHEN``
        (SqlBase.g4 ``#searchedCase``), ``CAST`` (``#cast``; ``-1`` is ``number: MINUS? INTEGER_VALUE``), the
        struct dereference ``->`` (operators.md "STRUCT dereference", ``#dereference``), ``SUM``
        (aggregate-functions.md). SUM is order-independent, so a retraction and an addition may reach the
        aggregate in any order (INSERT INTO output is not timestamp-ordered with other writers, insert-into.md).
        The key-less stream is partitioned like its source; the aggregate repartitions by group."""
        d = o.deltas
        src = self._obj(d.from_)
        ch = src.changes
        ts = src.timestamp
        with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"VALUE_FORMAT={_lit(vf)}", f"TIMESTAMP={_lit(ts)}"]
        csas = (
            f"CREATE STREAM IF NOT EXISTS {o.name} WITH (\n  " + ",\n  ".join(with_) + "\n) AS\nSELECT\n"
            f"  {d.group_by},\n"
            f"  {ts},\n"
            f"  CASE WHEN {ch.op_type} = {_lit(ch.delete_value)} THEN CAST(-1 AS BIGINT) ELSE CAST(1 AS BIGINT) END AS {d.delta_as}\n"
            f"FROM {src.name}\n"
            "EMIT CHANGES;"
        )
        insert = (
            f"INSERT INTO {o.name}\nSELECT\n"
            f"  {ch.before}->{d.group_by} AS {d.group_by},\n"
            f"  {ch.before}->{ts} AS {ts},\n"
            f"  CAST(-1 AS BIGINT) AS {d.delta_as}\n"
            f"FROM {src.name}\n"
            f"WHERE {ch.op_type} = {_lit(ch.update_value)}\n"
            "EMIT CHANGES;"
        )
        return csas + "\n" + insert

    def statements(self) -> list[EngineStatement]:
        return [self.statement(o) for o in self.order()]
