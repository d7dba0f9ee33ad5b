"""The plug-in registry: every external system is one package that registers itself here.

The generic layers (spec assembly, lineage, assets, checks, jobs, sensors) ask this registry and
never name a system. A package registers

* a :class:`System` for the lineage nodes it provisions and checks (``node.system`` is its name);
* a :class:`SourcePlugin` / :class:`EnginePlugin` / :class:`SinkPlugin` when it is one of the
  spec's union members (``source.kind``, ``engine.kind``, ``sinks[].kind``); those are Systems too.

``pipeline_defs/systems/__init__.py`` imports every package; a new system is one package plus
one import line there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline_defs.core.nodes import GraphBuilder, Key, Lineage, LineageNode
from pipeline_defs.core.outcome import Outcome
from pipeline_defs.core.types import Neutral

if TYPE_CHECKING:
    import dagster as dg
    from pydantic import BaseModel

Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: Neutral | None  # None: the source's type has no engine-neutral reading
    primary_key: bool = False
    native_type: str = ""


@dataclass(frozen=True)
class SourceTable:
    """A captured table as every engine sees it, whatever the database."""

    name: str
    qualified: str  # as the database names it in SQL, e.g. C##MYUSER.POC_CLICKSTREAM
    topic: str  # the CDC topic its changes land in
    columns: tuple[SourceColumn, ...]
    captured: bool = True  # a CDC connector writes its topic

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str) -> SourceColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class AggregateOutput:
    """What an engine's windowed COUNT writes: the topic and the fields of each record, so a sink
    can key Redis by the group value and the data check can compare it with the source."""

    name: str  # engine object name
    topic: str
    source_table: str  # the source table whose rows are counted
    group_by: str  # grouping column in the source table
    event_time: str  # event-time column in the source table
    window_ms: int
    grace_ms: int
    name_field: str  # value field that holds the group value
    count_field: str
    window_start_field: str
    window_end_field: str
    key_field: str | None  # a field of a JSON record key that holds the group value; None: take it from the value
    value_format: str  # AVRO | JSON


class System(ABC):
    """Provisions and checks the lineage nodes whose ``system`` is :attr:`name`."""

    name: str
    resource_keys: frozenset[str] = frozenset()  # the Dagster resources its nodes need
    pool: str | None = None  # a Dagster concurrency pool its assets share (one writer at a time)

    def provision(self, node: LineageNode, lineage: Lineage, resources: Any, *, dry_run: bool) -> Outcome:
        """Read actual -> compare with ``node.desired`` -> act only on a difference. ``dry_run``
        takes the same path without the act (the plan job)."""
        return Outcome(node.name, "observed")

    def checks(self, node: LineageNode, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
        return []

    def resources(self) -> dict[str, Any]:
        """The Dagster resources this system's nodes use, keyed as in :attr:`resource_keys`."""
        return {}

    def data_check_names(self, spec: Any) -> set[str]:
        """Names of its checks that judge the data, not the provisioning (run by data_quality)."""
        return set()

    def jobs(self, spec: Any, lineage: Lineage) -> list[Any]:
        """Jobs only this system has (repair, incident, ...)."""
        return []

    def sensors(self, spec: Any, lineage: Lineage) -> list[Any]:
        """Health probes that request this system's repair jobs."""
        return []


class SourcePlugin(System):
    """A source database: its spec member, its tables, topics and lineage up to the CDC topics."""

    kind: str
    model: type[BaseModel]

    @abstractmethod
    def cross_validate(self, spec: Any) -> Problems: ...

    @abstractmethod
    def connector_names(self, spec: Any) -> list[tuple[str, str]]:
        """(spec path, name) of every CDC connector it declares."""

    @abstractmethod
    def tables(self, spec: Any) -> list[SourceTable]:
        """Captured tables, each with its CDC topic and neutral column types."""

    @abstractmethod
    def lineage(self, spec: Any, g: GraphBuilder) -> dict[str, Key]:
        """Add the database objects, the CDC source connectors and their topics; return
        {table name: key of its CDC topic node}."""

    @abstractmethod
    def wire_format(self, spec: Any) -> str:
        """'avro' or 'json': how the CDC connectors write keys and values."""

    @abstractmethod
    def source_counts(self, spec: Any, resources: Any, agg: AggregateOutput, since_ms: int | None) -> dict[tuple[str, int], int]:
        """Rows per (group value, window start ms) of the table ``agg`` counts: every window
        starting at or after ``since_ms`` plus each group's newest window (None: only the newest).
        The data check compares them with Redis."""

    def seed_values(self, spec: Any, table: str, column: str) -> list[str]:
        """Distinct values of ``column`` in the table's initial and demo rows, in order (the source
        models hold their tables' rows as ``initial_rows`` and ``demo_rows``)."""
        t = spec.source.table(table)
        out: list[str] = []
        for row in [*t.initial_rows, *t.demo_rows] if t else []:
            v = row.get(column)
            if v is not None and str(v) not in out:
                out.append(str(v))
        return out

    # the resources connector_faults reads; empty: the plug-in has nothing to add to Connect's status
    fault_resource_keys: frozenset[str] = frozenset()

    def connector_faults(self, spec: Any, resources: Any) -> dict[str, str]:
        """{connector: error} for CDC connectors Kafka Connect reports RUNNING that the database sees
        cannot stream (e.g. a login the database refuses while the task retries it). connector_health
        asks every tick, with the resources named by ``fault_resource_keys``, and judges each error
        like a task's trace."""
        return {}

    @abstractmethod
    def insert_demo_rows(self, spec: Any, resources: Any) -> dict[str, int]:
        """Insert the spec's demo rows (idempotent); {'inserted': n, 'already_present': m}."""


class EnginePlugin(System):
    """A stream engine: compiles the spec's objects, adds them to the lineage, names its outputs."""

    kind: str
    model: type[BaseModel]

    @abstractmethod
    def cross_validate(self, spec: Any, tables: Mapping[str, SourceTable]) -> Problems: ...

    @abstractmethod
    def lineage(self, spec: Any, g: GraphBuilder, topics: Mapping[str, Key]) -> dict[str, Key]:
        """Add the engine objects and their output topics; return {aggregate name: topic key}."""

    @abstractmethod
    def aggregates(self, spec: Any) -> list[AggregateOutput]: ...

    def rebuild_from_source(self, spec: Any, agg: AggregateOutput, resources: Any) -> str:
        """Rebuild the aggregate's output topic from the CDC topics, without the engine's state
        (the rebuild when the output topic lost its records); what was done, in words. Raises
        CannotRebuild naming why when the engine cannot."""
        raise CannotRebuild(f"the {self.kind} engine has no automatic rebuild of {agg.name} from its source topics")


class CannotRebuild(RuntimeError):
    """A data rebuild is impossible without a person; the message names the cause."""


class SinkPlugin(System):
    """A sink: one spec member of ``sinks[]``; adds its connector and target nodes."""

    kind: str
    model: type[BaseModel]

    def cross_validate(self, spec: Any, sink: Any, index: int, agg: AggregateOutput) -> Problems:
        return []

    @abstractmethod
    def lineage(self, spec: Any, sink: Any, agg: AggregateOutput, g: GraphBuilder, topic: Key) -> None: ...


SYSTEMS: dict[str, System] = {}
SOURCES: dict[str, SourcePlugin] = {}
ENGINES: dict[str, EnginePlugin] = {}
SINKS: dict[str, SinkPlugin] = {}
_version = [0]


def register(system: System) -> System:
    """Register a system (and, for plug-ins, its spec union member). Re-registering a name
    replaces it, so a test can put a stub in place."""
    SYSTEMS[system.name] = system
    if isinstance(system, SourcePlugin):
        SOURCES[system.kind] = system
    if isinstance(system, EnginePlugin):
        ENGINES[system.kind] = system
    if isinstance(system, SinkPlugin):
        SINKS[system.kind] = system
    _version[0] += 1
    return system


def unregister(system: System) -> None:
    for table in (SYSTEMS, SOURCES, ENGINES, SINKS):
        for k in [k for k, v in table.items() if v is system]:
            del table[k]
    _version[0] += 1


def version() -> int:
    return _version[0]


def source_of(spec: Any) -> SourcePlugin:
    return SOURCES[spec.source.kind]


def engine_of(spec: Any) -> EnginePlugin:
    return ENGINES[spec.engine.kind]


def sink_of(sink: Any) -> SinkPlugin:
    return SINKS[sink.kind]


def system(name: str) -> System:
    return SYSTEMS[name]
