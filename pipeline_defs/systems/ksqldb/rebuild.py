"""Rebuild a ksqlDB aggregate's output from the CDC topics (the engine's path of rebuild_redis, used
when the aggregate topic lost the records a replay would need): TERMINATE the persistent query that
writes the aggregate, DROP the table (its topic is kept: the sink reads it), CREATE it again with
``auto.offset.reset=earliest``. The new query has a new id, hence a new consumer group and empty
state: it re-reads its source objects' topics from the first record and writes every window again.

Before anything is dropped, every topic the aggregate re-reads (the CDC topics, and the topics of
the derived streams it is built on, which keep running) must still hold its whole history (low
watermark 0 on every partition); otherwise the rebuilt counts would silently miss the cut records,
so the rebuild refuses, naming each topic, the offsets cut and the time of its oldest record left."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from pipeline_defs.core.registry import AggregateOutput, CannotRebuild
from pipeline_defs.systems.ksqldb.statements import KsqlCompiler

WAIT_SECONDS = 60.0


def _upstream(o: Any) -> str | None:
    """The object `o` is computed from (None: it reads a CDC topic). A ``deltas`` stream (a stream of
    +1/-1 per change that an aggregate may sum) is read through getattr: specs without it still load."""
    if o.aggregate is not None:
        return o.aggregate.from_
    deltas = getattr(o, "deltas", None)
    return deltas.from_ if deltas is not None else None


def source_topics(c: KsqlCompiler, name: str) -> dict[str, str]:
    """{topic: what it is} for every topic the recreated aggregate `name` re-reads, directly or
    through the objects it is built on: the CDC topics, and the topics of derived streams between."""
    out: dict[str, str] = {}
    o = c.engine.object(name)
    seen = {name}
    while o is not None and (up := _upstream(o)) is not None and up not in seen:
        seen.add(up)
        o = c.engine.object(up)
        if o is None:
            break
        if o.source is not None:
            out[c.output_topic(o)] = f"the CDC topic {c.output_topic(o)} (read by {o.name})"
        else:
            out[c.output_topic(o)] = f"the topic {c.output_topic(o)} of {o.name} (which {name} reads)"
    return out


def _first_event_time(kafka: Any, topic: str, marks: dict[int, tuple[int, int]]) -> str | None:
    """The oldest record time still in the topic (the Kafka timestamp of each partition's first record)."""
    from confluent_kafka import TopicPartition

    if all(hi <= lo for lo, hi in marks.values()):
        return None  # nothing left to read
    c = kafka._consumer()  # no group, no commits: a plain read
    try:
        c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in marks.items() if hi > lo])
        oldest, deadline, todo = None, time.monotonic() + 10, {p for p, (lo, hi) in marks.items() if hi > lo}
        while todo and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            todo.discard(msg.partition())
            _, ts = msg.timestamp()
            if ts and ts > 0:
                oldest = ts if oldest is None else min(oldest, ts)
    finally:
        c.close()
    return None if oldest is None else dt.datetime.fromtimestamp(oldest / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_sources_complete(c: KsqlCompiler, agg: AggregateOutput, kafka: Any) -> None:
    """CannotRebuild naming every CDC topic of the aggregate that is missing or was truncated."""
    topics = source_topics(c, agg.name)
    counts = kafka.topic_counts(list(topics))
    problems = []
    for topic, what in sorted(topics.items()):
        got = counts.get(topic)
        if got is None:
            problems.append(f"{what} does not exist")
            continue
        marks = dict(got.watermarks)
        cut = {p: lo for p, (lo, _) in marks.items() if lo > 0}
        if cut:
            since = _first_event_time(kafka, topic, marks)
            problems.append(
                f"{what} lost its records before offset "
                + ", ".join(f"p{p}:{lo}" for p, lo in sorted(cut.items()))
                + (f" (it now starts at records of {since})" if since else "")
            )
    if problems:
        raise CannotRebuild(
            f"ksqlDB cannot rebuild {agg.name} from its sources: "
            + "; ".join(problems)
            + f"; every {agg.name} window counting those records would come out short"
        )


def rebuild_aggregate(spec: Any, agg: AggregateOutput, ksql: Any, kafka: Any, *, wait_seconds: float = WAIT_SECONDS) -> str:
    c = KsqlCompiler(spec)
    obj = c.engine.object(agg.name)
    if obj is None or obj.aggregate is None:
        raise CannotRebuild(f"{agg.name} is not a ksqlDB aggregate of the spec")
    check_sources_complete(c, agg, kafka)
    old = [q for q in ksql.list_queries() if agg.name in q.sinks]
    for q in old:
        ksql.terminate(q.id)
    ksql.drop("TABLE", agg.name, delete_topic=False)
    # a new query has no committed offsets: earliest makes it start where its sources start
    props = {**c.properties(), "auto.offset.reset": "earliest"}
    if "ksql.streams.auto.offset.reset" in props:
        props["ksql.streams.auto.offset.reset"] = "earliest"
    ksql.execute(c.statement(obj).statement, props)
    old_ids = {q.id for q in old}
    deadline = time.monotonic() + wait_seconds
    while True:
        new = [q for q in ksql.list_queries() if agg.name in q.sinks and q.id not in old_ids]
        if new and new[0].is_running:
            break
        if time.monotonic() > deadline:
            state = new[0].state if new else "missing"
            raise CannotRebuild(f"the recreated ksqlDB query of {agg.name} is {state} after {wait_seconds:.0f}s, not RUNNING")
        time.sleep(0.3)
    stopped = ", ".join(sorted(old_ids)) or "no query was running"
    return (
        f"ksqlDB {agg.name}: terminated {stopped}; dropped and created the table again as query {new[0].id}, "
        f"reading {', '.join(sorted(source_topics(c, agg.name)))} from the earliest offset with empty state"
    )
