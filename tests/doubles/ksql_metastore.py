"""The ksqlDB double's metastore: its streams and tables (Source), persistent queries, command log.

One object holds everything a /ksql request may change, so the server can validate a request on a deep
copy and keep the copy only if every statement passes, as ksqlDB's sandbox validation does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.doubles.ksql_projection import ProjectionPlan
from tests.doubles.ksql_statements import Column, Window
from tests.doubles.ksql_windowed_aggregation import AggregationPlan


@dataclass
class Source:
    name: str
    kind: str  # STREAM | TABLE
    columns: list[Column]
    key_format: str
    value_format: str
    topic: str
    statement: str
    window: Window | None = None
    is_source_table: bool = False  # CREATE SOURCE TABLE: materialized, pull-queryable
    is_cas: bool = False  # created by CREATE ... AS SELECT
    reads: list[str] = field(default_factory=list)
    partitions: int = 1
    replicas: int = 1
    timestamp: str = ""  # WITH (TIMESTAMP=...) column; "" means ROWTIME

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.key and not c.header]


@dataclass
class PersistentQuery:
    id: str
    statement: str
    sink: str
    sink_topic: str
    sources: list[str]
    properties: dict[str, Any]
    state: str = "RUNNING"
    status_count: dict[str, int] = field(default_factory=lambda: {"RUNNING": 1})
    plan: AggregationPlan | ProjectionPlan | None = None  # Kafka-backed mode: what the query's thread computes


@dataclass
class Metastore:
    sources: dict[str, Source] = field(default_factory=dict)
    queries: dict[str, PersistentQuery] = field(default_factory=dict)
    seq: int = -1
    commands: list[str] = field(default_factory=list)
    kafka_topics: set[str] | None = None  # None: every topic exists
    deleted_topics: list[str] = field(default_factory=list)
    # Kafka-backed mode: topic changes a request makes, applied only once every statement validated:
    # ("create", name, partitions, replicas, configs) | ("delete", name)
    topic_ops: list[tuple] = field(default_factory=list)

    def next_seq(self, statement: str) -> int:
        self.seq += 1
        self.commands.append(statement)
        return self.seq


def find_query(st: Metastore, query_id: str) -> PersistentQuery | None:
    """Query ids are matched case-insensitively, as TERMINATE <id> accepts them."""
    return next((q for q in st.queries.values() if q.id.upper() == query_id.upper()), None)


__all__ = ["Metastore", "PersistentQuery", "Source", "find_query"]
