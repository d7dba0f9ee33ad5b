"""The ksqlDB double's DDL statements: CREATE [OR REPLACE] STREAM|TABLE, CREATE ... AS SELECT, INSERT INTO.

Each function validates a statement against the request's copy of the metastore (Metastore) and
records its effect there: the new source, the persistent query, the topic to create (Kafka-backed mode,
`topics` given: the real cluster is checked and the query's run plan built by
tests/doubles/ksql_query_plans.py). A SqlError carries ksqlDB's message for what it rejects.
"""

from __future__ import annotations

from typing import Any

from tests.doubles.ksql_entities import command_status
from tests.doubles.ksql_kafka_topics import KafkaTopics, check_topic_matches, missing_topic_message
from tests.doubles.ksql_lexical import SqlError
from tests.doubles.ksql_metastore import Metastore, PersistentQuery, Source
from tests.doubles.ksql_query_plans import aggregation_plan, projection_plan
from tests.doubles.ksql_result_schema import project
from tests.doubles.ksql_statements import Column, CreateAs, CreateSource, InsertInto


def _check_not_exists(st: Metastore, kind: str, name: str, if_not_exists: bool, or_replace: bool, text: str):
    existing = st.sources.get(name)
    if existing is None:
        return None
    if or_replace and existing.kind == kind:
        return None
    if if_not_exists and not or_replace:
        # DdlCommandExec / DistributingExecutor#checkIfNotExistsResponse (ksqlDB >= 0.23)
        return {
            "@type": "warning_entity",
            "statementText": text,
            "message": f"Cannot add {kind.lower()} `{name}`: A {existing.kind.lower()} with the same name already exists.",
            "warnings": [],
        }
    raise SqlError(f"Cannot add {kind.lower()} '{name}': A {existing.kind.lower()} with the same name already exists")


def _formats(props: dict[str, Any], default_key: str | None, default_value: str | None) -> tuple[str, str]:
    fmt = props.get("FORMAT")
    key = props.get("KEY_FORMAT") or fmt or default_key or "KAFKA"
    value = props.get("VALUE_FORMAT") or fmt or default_value
    if not value:
        raise SqlError(
            "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one "
            "or set a default via the 'ksql.persistence.default.format.value' config."
        )
    return str(key).upper(), str(value).upper()


def _check_upgrade(existing: Source, columns: list[Column]) -> None:
    old_keys = [(c.name, c.type) for c in existing.key_columns]
    new_keys = [(c.name, c.type) for c in columns if c.key]
    if old_keys != new_keys:
        raise SqlError(
            f"Cannot upgrade data source: DataSource '{existing.name}' has key columns {old_keys} "
            f"which are not upgradeable to {new_keys}. Key columns must be identical."
        )
    old_vals = [(c.name, c.type) for c in existing.value_columns]
    new_vals = [(c.name, c.type) for c in columns if not c.key and not c.header]
    if new_vals[: len(old_vals)] != old_vals:
        raise SqlError(
            f"Cannot upgrade data source: DataSource '{existing.name}' has value columns {old_vals} "
            f"which are not upgradeable to {new_vals}: only new columns at the end may be added."
        )


def create_source(st: Metastore, s: CreateSource, text: str, topics: KafkaTopics | None) -> dict[str, Any]:
    warning = _check_not_exists(st, s.kind, s.name, s.if_not_exists, s.or_replace, text)
    if warning:
        return warning
    if s.is_source and s.or_replace:
        raise SqlError(f"CREATE OR REPLACE is not supported on source {s.kind.lower()}s.")
    if not s.columns:
        raise SqlError("ksqlDB test double: declare the columns; schema inference from Schema Registry is not simulated")
    topic = s.props.get("KAFKA_TOPIC")
    if not topic:
        raise SqlError('Missing required property "KAFKA_TOPIC" which has no default value.')
    key_fmt, value_fmt = _formats(s.props, None, None)
    keys = [c for c in s.columns if c.key]
    for c in keys:
        if s.kind == "TABLE" and not c.primary:
            raise SqlError(
                f"Column `{c.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
                "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                "Streams have KEYs, which have no uniqueness or NON NULL constraints."
            )
        if s.kind == "STREAM" and c.primary:
            raise SqlError(
                f"Column `{c.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
                "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
                "Streams have KEYs, which have no uniqueness or NON NULL constraints."
            )
    if s.kind == "TABLE" and not keys:
        raise SqlError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
    timestamp = str(s.props.get("TIMESTAMP") or "").upper()
    if timestamp and timestamp not in {c.name for c in s.columns}:
        raise SqlError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{timestamp}'")
    partitions = int(s.props.get("PARTITIONS", 1))
    replicas = int(s.props.get("REPLICAS", 1))
    if topics is not None:
        have = topics.info(st, str(topic))
        if have is None:
            if "PARTITIONS" not in s.props:
                raise SqlError(missing_topic_message(str(topic)))
            st.topic_ops.append(
                ("create", str(topic), partitions, replicas, {"cleanup.policy": "compact" if s.kind == "TABLE" else "delete"})
            )
        else:
            if "PARTITIONS" in s.props:
                check_topic_matches(str(topic), have, partitions, replicas if "REPLICAS" in s.props else None)
            partitions, replicas = have
    elif st.kafka_topics is not None and topic not in st.kafka_topics:
        if "PARTITIONS" not in s.props:
            raise SqlError(missing_topic_message(str(topic)))
        st.kafka_topics.add(topic)
    existing = st.sources.get(s.name)
    if existing is not None:
        _check_upgrade(existing, s.columns)
    seq = st.next_seq(text)
    st.sources[s.name] = Source(
        name=s.name,
        kind=s.kind,
        columns=s.columns,
        key_format=key_fmt,
        value_format=value_fmt,
        topic=str(topic),
        statement=text,
        is_source_table=s.is_source,
        partitions=partitions,
        replicas=replicas,
        timestamp=timestamp,
    )
    return command_status(text, f"{s.kind.lower()}/`{s.name}`/create", f"{s.kind.title()} created", None, seq)


def create_as(
    st: Metastore,
    s: CreateAs,
    text: str,
    props: dict[str, Any],
    topics: KafkaTopics | None,
    service_id: str,
    streams_config: dict[str, Any],
) -> dict[str, Any]:
    warning = _check_not_exists(st, s.kind, s.name, s.if_not_exists, s.or_replace, text)
    if warning:
        return warning
    sel = s.select
    src = st.sources.get(sel.source)
    if src is None:
        raise SqlError(f"{sel.source} does not exist.")
    produces_table = bool(sel.group_by) or src.kind == "TABLE"
    if s.kind == "TABLE" and not produces_table:
        raise SqlError("Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.")
    if s.kind == "STREAM" and produces_table:
        raise SqlError("Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.")
    if sel.window and not sel.group_by:
        raise SqlError("WINDOW clause requires a GROUP BY clause.")
    columns = project(sel, src, s.kind, s.name)
    key_fmt, value_fmt = _formats(s.props, src.key_format, src.value_format)
    topic = str(s.props.get("KAFKA_TOPIC") or s.name)  # ksql.output.topic.name.prefix defaults to ""
    existing = st.sources.get(s.name)
    old_query = next((q for q in st.queries.values() if existing and q.sink == existing.name), None)
    if existing is not None:
        if sel.window or existing.window:
            raise SqlError("Cannot upgrade data source: in-place upgrades of windowed sources are not supported.")
        _check_upgrade(existing, columns)
    partitions = int(s.props.get("PARTITIONS", src.partitions))
    replicas = int(s.props.get("REPLICAS", src.replicas))
    timestamp = str(s.props.get("TIMESTAMP") or "").upper()
    if timestamp and timestamp not in {c.name for c in columns}:
        raise SqlError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{timestamp}'")
    plan = None
    if topics is not None:
        have = topics.info(st, topic)
        if s.kind == "STREAM" and not sel.group_by:
            plan = projection_plan(sel, src, columns, value_fmt, topic, props, timestamp or None)
        else:
            plan = aggregation_plan(
                s, src, columns, key_fmt, value_fmt, topic, props, have[0] if have is not None else partitions, streams_config
            )
        if have is None:  # TopicCreateInjector: a windowed table's topic is not compacted
            st.topic_ops.append(("create", topic, partitions, replicas, {"cleanup.policy": "delete"}))
        else:
            check_topic_matches(topic, have, partitions, replicas if "REPLICAS" in s.props else None)
    seq = st.next_seq(text)
    # CREATE OR REPLACE upgrades the running query in place and keeps its id.
    qid = old_query.id if old_query else f"{'CTAS' if s.kind == 'TABLE' else 'CSAS'}_{s.name}_{seq}"
    if plan is not None:
        plan.query_id, plan.sink = qid, s.name
        plan.consumer_group = f"_confluent-ksql-{service_id}query_{qid}"
    st.sources[s.name] = Source(
        name=s.name,
        kind=s.kind,
        columns=columns,
        key_format=key_fmt,
        value_format=value_fmt,
        topic=topic,
        statement=text,
        window=sel.window,
        is_cas=True,
        reads=[src.name],
        partitions=partitions,
        replicas=replicas,
        timestamp=timestamp,
    )
    st.queries[qid] = PersistentQuery(qid, text, s.name, topic, [src.name], dict(props), plan=plan)
    if st.kafka_topics is not None:
        st.kafka_topics.add(topic)
    return command_status(text, f"{s.kind.lower()}/`{s.name}`/create", f"Created query with ID {qid}", qid, seq)


def insert_into(
    st: Metastore, s: InsertInto, text: str, props: dict[str, Any], topics: KafkaTopics | None, service_id: str
) -> dict[str, Any]:
    """INSERT INTO <stream> SELECT ...: one more persistent query writing an existing stream
    (insert-into.md: the result schema must match the target's; the target must be a stream)."""
    target = st.sources.get(s.target)
    if target is None:
        raise SqlError(f"{s.target} does not exist.")
    if target.kind != "STREAM":
        raise SqlError(f"INSERT INTO can only be used to insert into a stream. {s.target} is a table.")
    sel = s.select
    src = st.sources.get(sel.source)
    if src is None:
        raise SqlError(f"{sel.source} does not exist.")
    if sel.group_by or sel.window or src.kind != "STREAM":
        raise SqlError("ksqlDB test double: INSERT INTO ... SELECT from a stream without GROUP BY / WINDOW only")
    columns = project(sel, src, "STREAM", s.target)
    have = [(c.name, c.type, c.key) for c in columns]
    want = [(c.name, c.type, c.key) for c in target.columns if not c.header]
    if have != want:
        raise SqlError(f"Incompatible schema between results and sink.\nResult schema is {have}\nSink schema is {want}")
    plan = None
    if topics is not None:
        # records keep the input ROWTIME; the target's readers take event time from its TIMESTAMP column
        plan = projection_plan(sel, src, columns, target.value_format, target.topic, props, None)
    seq = st.next_seq(text)
    qid = f"INSERTQUERY_{seq}"
    if plan is not None:
        plan.query_id, plan.sink = qid, s.target
        plan.consumer_group = f"_confluent-ksql-{service_id}query_{qid}"
    st.queries[qid] = PersistentQuery(qid, text, s.target, target.topic, [src.name], dict(props), plan=plan)
    return command_status(text, f"stream/`{s.target}`/create", f"Created query with ID {qid}", qid, seq)


__all__ = ["create_as", "create_source", "insert_into"]
