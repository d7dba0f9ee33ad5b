"""The ksqlDB double's admin statements: SHOW/LIST, DESCRIBE [EXTENDED], TERMINATE, DROP [IF EXISTS] [DELETE TOPIC].

They read or shrink the request's copy of the metastore (Metastore); DROP refuses while other sources or
INSERT INTO queries depend on the source, with ksqlDB's messages.
"""

from __future__ import annotations

from typing import Any

from tests.doubles.ksql_entities import command_status, running_query, source_description
from tests.doubles.ksql_lexical import SqlError
from tests.doubles.ksql_metastore import Metastore, find_query
from tests.doubles.ksql_statements import Describe, Drop, Show, Terminate


def show(st: Metastore, s: Show, text: str) -> dict[str, Any]:
    if s.what == "QUERIES":
        if s.extended:
            raise SqlError("ksqlDB test double: SHOW QUERIES EXTENDED is not simulated")
        return {"@type": "queries", "statementText": text, "queries": [running_query(q) for q in st.queries.values()], "warnings": []}
    kind = s.what[:-1]  # STREAMS -> STREAM
    sources = sorted((x for x in st.sources.values() if x.kind == kind), key=lambda x: x.name)
    if s.extended:
        return {
            "@type": "source_descriptions",
            "statementText": text,
            "sourceDescriptions": [source_description(st, x, True) for x in sources],
            "warnings": [],
        }
    return {
        "@type": s.what.lower(),
        "statementText": text,
        s.what.lower(): [
            {
                "type": x.kind,
                "name": x.name,
                "topic": x.topic,
                "keyFormat": x.key_format,
                "valueFormat": x.value_format,
                "isWindowed": x.window is not None,
            }
            for x in sources
        ],
        "warnings": [],
    }


def describe(st: Metastore, s: Describe, text: str) -> dict[str, Any]:
    src = st.sources.get(s.name)
    if src is None:
        raise SqlError(f"Could not find STREAM/TABLE '{s.name}' in the Metastore")
    return {
        "@type": "sourceDescription",
        "statementText": text,
        "sourceDescription": source_description(st, src, s.extended),
        "warnings": [],
    }


def terminate(st: Metastore, s: Terminate, text: str) -> dict[str, Any]:
    if s.query_id == "ALL":
        st.queries.clear()
        return command_status(text, "terminate/ALL/execute", "Query terminated.", None, st.next_seq(text))
    q = find_query(st, s.query_id)
    if q is None:
        raise SqlError(f"Unknown queryId: {s.query_id}")
    del st.queries[q.id]
    return command_status(text, f"terminate/{q.id}/execute", "Query terminated.", None, st.next_seq(text))


def drop(st: Metastore, s: Drop, text: str, kafka_backed: bool) -> dict[str, Any]:
    src = st.sources.get(s.name)
    command_id = f"{s.kind.lower()}/{s.name}/drop"  # DROP uses the unescaped name
    if src is None:
        if not s.if_exists:
            raise SqlError(f"{s.kind.title()} {s.name} does not exist.")
        return command_status(text, command_id, f"Source `{s.name}` does not exist.", None, st.next_seq(text))
    if src.kind != s.kind:
        raise SqlError(f"Incompatible data source type is {src.kind.lower()}, but statement was DROP {s.kind}")
    readers = sorted(x.name for x in st.sources.values() if s.name in x.reads)
    if readers:
        raise SqlError(
            f"Cannot drop {s.name}.\nThe following streams and/or tables read from this source: "
            f"[{', '.join(readers)}].\nYou need to drop them before dropping {s.name}."
        )
    # EngineContext#throwIfInsertQueriesExist: INSERT INTO queries reading or writing it block the DROP
    inserts = [q for q in st.queries.values() if q.id.startswith("INSERTQUERY_") and (q.sink == s.name or s.name in q.sources)]
    if inserts:
        reading = sorted(q.id for q in inserts if s.name in q.sources)
        writing = sorted(q.id for q in inserts if q.sink == s.name)
        raise SqlError(
            f"Cannot drop {s.name}.\nThe following queries read from this source: [{', '.join(reading)}].\n"
            f"The following queries write into this source: [{', '.join(writing)}].\n"
            f"You need to terminate them before dropping {s.name}."
        )
    # Since 0.15 DROP terminates the query that created the source.
    for qid in [q.id for q in st.queries.values() if q.sink == s.name]:
        del st.queries[qid]
    del st.sources[s.name]
    if s.delete_topic:
        st.deleted_topics.append(src.topic)
        if st.kafka_topics is not None:
            st.kafka_topics.discard(src.topic)
        if kafka_backed:
            st.topic_ops.append(("delete", src.topic))
    return command_status(text, command_id, f"Source `{s.name}` (topic: {src.topic}) was dropped.", None, st.next_seq(text))


__all__ = ["describe", "drop", "show", "terminate"]
