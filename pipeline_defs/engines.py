"""Stream-processing engines behind one small interface.

A :class:`StreamEngine` turns ``spec.ksqldb.objects`` into the statements that create them, in
dependency order, and names each object's output topic and columns. :class:`KsqlDbEngine` is the
only engine today; a Flink SQL engine would be another class with the same methods.

Every name that reaches a statement was validated by :mod:`pipeline_defs.spec` (identifiers,
topic names, formats and types come from allowlists or strict patterns), so no quote, semicolon
or comment can be smuggled in; string literals are still quoted with '' escaping.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

from pipeline_defs.sources import source_for
from pipeline_defs.spec import KsqlColumn, KsqlObject, PipelineSpec

__all__ = ["Statement", "StreamEngine", "KsqlDbEngine", "ENGINES", "engine_for"]


class Statement(NamedTuple):
    """One CREATE statement: (object name, kind 'stream'|'table', statement text ending in ';')."""

    name: str
    kind: str
    statement: str


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ksql_object(spec: PipelineSpec, obj: KsqlObject | str) -> KsqlObject:
    """The spec's stream-engine object by name (or the object itself); KeyError naming it otherwise."""
    if isinstance(obj, KsqlObject):
        return obj
    found = spec.ksqldb.object(obj)
    if found is None:
        raise KeyError(f"no ksqlDB object {obj!r} in the spec")
    return found


class StreamEngine(ABC):
    name: str

    @abstractmethod
    def statements(self, spec: PipelineSpec) -> list[Statement]:
        """CREATE statements for every object, each after the objects it reads."""

    @abstractmethod
    def output_topic(self, spec: PipelineSpec, obj: KsqlObject | str) -> str:
        """The Kafka topic an object reads (source objects) or writes (aggregates)."""

    @abstractmethod
    def object_columns(self, spec: PipelineSpec, obj: KsqlObject | str) -> list[KsqlColumn]:
        """The object's columns (declared for source objects, derived for aggregates)."""

    @abstractmethod
    def properties(self, spec: PipelineSpec) -> dict[str, str]:
        """Session properties to send with every statement."""


class KsqlDbEngine(StreamEngine):
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
    (see ``derive.sink_connector_configs``). The stream it reads declares event time
    (``TIMESTAMP='EVENTTIMESTAMP'``) so windows follow when the click happened, not when the record
    reached Kafka; ``GRACE PERIOD`` admits events that arrive up to that late.
    """

    name = "ksqldb"

    def _obj(self, spec: PipelineSpec, obj: KsqlObject | str) -> KsqlObject:
        return ksql_object(spec, obj)

    def formats(self, spec: PipelineSpec, obj: KsqlObject | str) -> tuple[str, str]:
        """(KEY_FORMAT, VALUE_FORMAT): explicit, else AVRO/AVRO for source.format avro and
        KAFKA/JSON for json."""
        o = self._obj(spec, obj)
        dk, dv = ("AVRO", "AVRO") if spec.source.format == "avro" else ("KAFKA", "JSON")
        return o.key_format or dk, o.value_format or dv

    def output_topic(self, spec: PipelineSpec, obj: KsqlObject | str) -> str:
        o = self._obj(spec, obj)
        if o.source is not None:
            return source_for(spec).topic_for(spec, o.source.table)
        return o.topic or o.name

    def object_columns(self, spec: PipelineSpec, obj: KsqlObject | str) -> list[KsqlColumn]:
        o = self._obj(spec, obj)
        if o.aggregate is None:
            return list(o.columns)
        a = o.aggregate
        src = spec.ksqldb.object(a.from_)
        gtype = next((c.type for c in src.columns if c.name == a.group_by), "STRING") if src else "STRING"
        return [
            KsqlColumn(name=a.group_by, type=gtype, key=True),
            KsqlColumn(name=a.value_key_column, type=gtype),
            KsqlColumn(name=a.count_as, type="BIGINT"),
            KsqlColumn(name=a.window_start_as, type="BIGINT"),
            KsqlColumn(name=a.window_end_as, type="BIGINT"),
        ]

    def properties(self, spec: PipelineSpec) -> dict[str, str]:
        return {
            k: ("true" if v is True else "false" if v is False else str(v))
            for k, v in spec.ksqldb.streams_properties.items()
        }

    def order(self, spec: PipelineSpec) -> list[KsqlObject]:
        """Objects in dependency order (an aggregate after the stream it reads), otherwise in
        spec order."""
        done: list[KsqlObject] = []
        names: set[str] = set()
        pending = list(spec.ksqldb.objects)
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

    def statement(self, spec: PipelineSpec, obj: KsqlObject | str) -> Statement:
        o = self._obj(spec, obj)
        kf, vf = self.formats(spec, o)
        topic = self.output_topic(spec, o)
        keyword = "TABLE" if o.kind == "table" else "STREAM"
        if o.aggregate is None:
            key_kw = "PRIMARY KEY" if o.kind == "table" else "KEY"
            cols = ",\n".join(f"  {c.name} {c.type}{' ' + key_kw if c.key else ''}" for c in o.columns)
            with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
            if o.timestamp:
                with_.append(f"TIMESTAMP={_lit(o.timestamp)}")
            text = (
                f"CREATE {keyword} IF NOT EXISTS {o.name} (\n{cols}\n) WITH (\n  "
                + ",\n  ".join(with_)
                + "\n);"
            )
            return Statement(o.name, o.kind, text)
        a = o.aggregate
        with_ = [f"KAFKA_TOPIC={_lit(topic)}", f"KEY_FORMAT={_lit(kf)}", f"VALUE_FORMAT={_lit(vf)}"]
        text = (
            f"CREATE TABLE IF NOT EXISTS {o.name} WITH (\n  "
            + ",\n  ".join(with_)
            + "\n) AS\nSELECT\n"
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
        return Statement(o.name, "table", text)

    def statements(self, spec: PipelineSpec) -> list[Statement]:
        return [self.statement(spec, o) for o in self.order(spec)]


ENGINES: dict[str, StreamEngine] = {"ksqldb": KsqlDbEngine()}


def engine_for(spec: PipelineSpec) -> KsqlDbEngine:
    """The stream engine of the spec (ksqlDB; the spec section is ``ksqldb``)."""
    return ENGINES["ksqldb"]  # type: ignore[return-value]
