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

    def object_columns(self, obj: KsqlObject | str) -> list[KsqlColumn]:
        o = self._obj(obj)
        if o.aggregate is None:
            return list(o.columns)
        a = o.aggregate
        src = self.engine.object(a.from_)
        gtype = next((c.type for c in src.columns if c.name == a.group_by), "STRING") if src else "STRING"
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
                dep = o.aggregate.from_ if o.aggregate else None
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
        if o.aggregate is None:
            key_kw = "PRIMARY KEY" if o.kind == "table" else "KEY"
            cols = ",\n".join(f"  {c.name} {c.type}{' ' + key_kw if c.key else ''}" for c in o.columns)
            with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
            if o.timestamp:
                with_.append(f"TIMESTAMP={_lit(o.timestamp)}")
            text = f"CREATE {keyword} IF NOT EXISTS {o.name} (\n{cols}\n) WITH (\n  " + ",\n  ".join(with_) + "\n);"
            return EngineStatement(o.name, o.kind, text)
        a = o.aggregate
        with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
        text = (
            f"CREATE TABLE IF NOT EXISTS {o.name} WITH (\n  " + ",\n  ".join(with_) + "\n) AS\nSELECT\n"
            f"  {a.group_by},\n"
            f"  AS_VALUE({a.group_by}) AS {a.value_key_column},\n"
            f"  COUNT(*) AS {a.count_as},\n"
            f"  WINDOWSTART AS {a.window_start_as},\n"
            f"  WINDOWEND AS {a.window_end_as}\n"
            f"FROM {a.from_}\n"
            f"WINDOW TUMBLING (SIZE {a.window.size}, GRACE PERIOD {a.window.grace})\n"
            f"GROUP BY {a.group_by}\n"
            "EMIT CHANGES;"
        )
        return EngineStatement(o.name, "table", text)

    def statements(self) -> list[EngineStatement]:
        return [self.statement(o) for o in self.order()]
