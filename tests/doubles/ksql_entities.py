"""The JSON entities of the ksqlDB double's REST replies: errors, command status, query and source descriptions.

Contract: /work/shared/reference/ksqldb_oracle.md section 1; the shapes are pinned by
tests/contract_samples/ksqldb/*.json and checked in tests/unit/test_ksqldb_resource.py. Every statement
family builds its reply from these, so a shape is defined once.
"""

from __future__ import annotations

from typing import Any

from tests.doubles._http import Reply
from tests.doubles.ksql_metastore import Metastore, PersistentQuery, Source
from tests.doubles.ksql_statements import Column
from tests.doubles.ksql_types import type_schema

_STATS_PREFIX = (
    "The statistics field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use statisticsMap instead.\n"
)
_ERRORS_PREFIX = (
    "The errorStats field is deprecated and will be removed in a future version of ksql. "
    "Please update your client to the latest version and use errorStatsMap instead.\n"
)


def error_reply(
    status: int, code: int, message: str, *, statement: str | None = None, ctype: str = "application/json", **headers: str
) -> Reply:
    if statement is None:
        return Reply.json(status, {"@type": "generic_error", "error_code": code, "message": message}, ctype, **headers)
    return Reply.json(
        status,
        {"@type": "statement_error", "error_code": code, "message": message, "statementText": statement, "entities": []},
        ctype,
        **headers,
    )


def command_status(text: str, command_id: str, message: str, query_id: str | None, seq: int) -> dict[str, Any]:
    return {
        "@type": "currentStatus",
        "statementText": text,
        "commandId": command_id,
        "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
        "commandSequenceNumber": seq,
        "warnings": [],
    }


def running_query(q: PersistentQuery) -> dict[str, Any]:
    return {
        "queryString": q.statement,
        "sinks": [q.sink],
        "sinkKafkaTopics": [q.sink_topic],
        "id": q.id,
        "statusCount": dict(q.status_count),
        "queryType": "PERSISTENT",
        "state": q.state,
    }


def source_description(st: Metastore, src: Source, extended: bool) -> dict[str, Any]:
    def field_info(c: Column) -> dict[str, Any]:
        f: dict[str, Any] = {"name": c.name, "schema": type_schema(c.type)}
        if c.key:
            f["type"] = "KEY"
        elif c.header:
            f["type"] = "HEADER"
        return f

    readers = sorted(x.name for x in st.sources.values() if src.name in x.reads)
    return {
        "name": src.name,
        "windowType": src.window.type if src.window else None,
        "readQueries": [running_query(q) for q in st.queries.values() if src.name in q.sources],
        "writeQueries": [running_query(q) for q in st.queries.values() if q.sink == src.name],
        "fields": [field_info(c) for c in src.columns],
        "type": src.kind,
        "timestamp": src.timestamp,
        "statistics": _STATS_PREFIX if extended else "",
        "errorStats": _ERRORS_PREFIX if extended else "",
        "extended": extended,
        "keyFormat": src.key_format,
        "valueFormat": src.value_format,
        "topic": src.topic,
        "partitions": src.partitions if extended else 0,
        "replication": src.replicas if extended else 0,
        "statement": src.statement,
        "queryOffsetSummaries": [],
        "sourceConstraints": readers,
        "clusterStatistics": [],
        "clusterErrorStats": [],
    }


__all__ = ["command_status", "error_reply", "running_query", "source_description"]
