"""ksqlDB objects in the reconciler's shape: DESCRIBE EXTENDED (read) -> drift (compare) ->
DROP + CREATE only on a difference (act). Drift covers everything that changes the data: kind,
columns, formats, and, read back from the stored statement, the topic, the event-time column and
the window's size and grace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_defs.core.outcome import Outcome, would
from pipeline_defs.systems.ksqldb.statements import EngineStatement
from resources.ksqldb import KsqlDbClient, KsqlStatementError, SourceDescription


@dataclass(frozen=True)
class KsqlObjectProps:
    """A ksqlDB object's desired state: its statement and what DESCRIBE EXTENDED must show."""

    name: str
    kind: str  # stream | table
    statement: EngineStatement
    properties: Mapping[str, str]
    columns: tuple[tuple[str, str, bool], ...]  # (name, type, key)
    key_format: str
    value_format: str
    topic: str
    reads: str | None  # the object an aggregate reads


_WITH = re.compile(r"\b(KAFKA_TOPIC|TIMESTAMP)\s*=\s*'((?:[^']|'')*)'", re.I)
_FROM = re.compile(r"\bFROM\s+(`[^`]+`|\w+)", re.I)
_AGG = re.compile(r"\b(COUNT\s*\(\s*\*\s*\)|SUM\s*\(\s*\w+\s*\))", re.I)
_WINDOW = re.compile(r"WINDOW\s+TUMBLING\s*\(\s*SIZE\s+(\d+\s+\w+?)S?\s*(?:,\s*GRACE\s+PERIOD\s+(\d+\s+\w+?)S?\s*)?\)", re.I)


def describe(ksql: KsqlDbClient, name: str) -> SourceDescription | None:
    try:
        return ksql.describe(name, extended=True)
    except KsqlStatementError as e:
        if "could not find" in e.message.lower():
            return None
        raise


def data_facts(statement: str) -> dict[str, str]:
    """What in a CREATE statement decides the data: topic, event-time column, window size/grace."""
    facts = {k.upper(): v.replace("''", "'") for k, v in _WITH.findall(statement or "")}
    facts.setdefault("TIMESTAMP", "(record time)")
    if m := _FROM.search(statement or ""):
        facts["READS"] = m.group(1).strip("`").upper()
    if m := _AGG.search(statement or ""):
        facts["AGGREGATE"] = re.sub(r"\s+", "", m.group(1)).upper()
    m = _WINDOW.search(statement or "")
    if m:
        facts["WINDOW SIZE"] = " ".join(m.group(1).upper().split())
        facts["GRACE PERIOD"] = " ".join((m.group(2) or "(default)").upper().split())
    return facts


def _type_text(t: str) -> str:
    return re.sub(r"\s+", "", t.replace("`", "")).upper()


def _field_type(schema: Mapping[str, Any] | None, flat: str) -> str:
    """A DESCRIBE field's type as the spec writes it; a STRUCT with its fields (SchemaInfo.fields)."""
    if not schema or str(schema.get("type", "")).upper() != "STRUCT" or not schema.get("fields"):
        return _type_text(flat)
    inner = ",".join(f"{f['name']}{_field_type(f.get('schema'), str((f.get('schema') or {}).get('type', '')))}" for f in schema["fields"])
    return _type_text(f"STRUCT<{inner}>")


def insert_statements(p: KsqlObjectProps) -> list[str]:
    """The ``INSERT INTO`` statements that follow an object's CREATE (a deltas stream has one)."""
    return [s.strip() + ";" for s in re.split(r";\s*(?=INSERT\s+INTO\b)", p.statement.statement, flags=re.I)[1:]]


def _norm(sql: str) -> str:
    return " ".join(sql.replace(";", " ").split()).upper()


def drift(p: KsqlObjectProps, desc: SourceDescription) -> list[str]:
    diffs: list[str] = []
    kind = "TABLE" if p.kind == "table" else "STREAM"
    if desc.type.upper() != kind:
        diffs.append(f"type {desc.type} != {kind}")
    want = [(n, _type_text(t), k) for n, t, k in p.columns]
    have = [(f.name, _field_type(f.schema, f.type), f.kind == "KEY") for f in desc.fields if f.name not in ("WINDOWSTART", "WINDOWEND")]
    if sorted(want) != sorted(have):
        diffs.append(f"columns: missing {sorted(set(want) - set(have))}, unexpected {sorted(set(have) - set(want))}")
    kf, vf = p.key_format, p.value_format
    keyless = not any(k for _, _, k in p.columns)
    # a key-less CSAS may get KEY_FORMAT NONE from ksqlDB whatever its source's key format was
    if desc.key_format.upper() != kf.upper() and not (keyless and desc.key_format.upper() == "NONE"):
        diffs.append(f"key format {desc.key_format} != {kf}")
    if desc.value_format.upper() != vf.upper():
        diffs.append(f"value format {desc.value_format} != {vf}")
    if desc.topic and desc.topic != p.topic:
        diffs.append(f"topic {desc.topic} != {p.topic}")
    if desc.statement:
        have_f, want_f = data_facts(desc.statement), data_facts(p.statement.statement)
        for k in sorted(set(want_f) | set(have_f)):
            if k != "KAFKA_TOPIC" and have_f.get(k) != want_f.get(k):
                diffs.append(f"{k.lower()} {have_f.get(k, '(none)')} != {want_f.get(k, '(none)')}")
    have_inserts = {_norm(q.query_string) for q in desc.write_queries if is_insert(q.id)}
    for ins in insert_statements(p):
        if _norm(ins) not in have_inserts:
            diffs.append(f"missing writer: {' '.join(ins.split())[:160]}")
    return diffs


def is_insert(query_id: str) -> bool:
    # QueryIdUtil: INSERT INTO queries are INSERTQUERY_<n>; the CSAS/CTAS that created the object is not
    return query_id.upper().startswith("INSERTQUERY_")


def metadata(desc: SourceDescription | None) -> dict[str, Any]:
    if desc is None:
        return {"exists": False}
    queries = list(desc.write_queries)
    md: dict[str, Any] = {
        "type": desc.type,
        "topic": desc.topic,
        "key_format": desc.key_format,
        "value_format": desc.value_format,
        "window_type": desc.window_type or "",
        "columns": [f"{f.name} {f.type}{' KEY' if f.kind == 'KEY' else ''}" for f in desc.fields],
    }
    if queries:
        md["query_id"] = queries[0].id
        md["query_state"] = queries[0].state or "UNKNOWN"
    return md


def provision_object(p: KsqlObjectProps, ksql: KsqlDbClient, *, dry_run: bool) -> Outcome:
    name, stmt = p.name, p.statement
    desc = describe(ksql, name)
    changes: list[str] = []
    md: dict[str, Any] = {}
    if desc is None:
        action = "created"
        changes.append(stmt.statement)
    else:
        found = drift(p, desc)
        action = "updated" if found else "unchanged"
        if found:
            # none of these can change in place: drop (which also terminates the writing query,
            # ksqlDB >= 0.15) and create again; the topic and its data stay (a deltas stream's do not:
            # see below), the query's state is rebuilt from its source topic (auto.offset.reset decides
            # from where)
            changes += [f"DROP {'TABLE' if desc.type.upper() == 'TABLE' else 'STREAM'} {name} ({'; '.join(found)})", stmt.statement]
            md["drift"] = found
            md["state_rebuilt"] = "the object is recreated; its state is rebuilt from its source topic"
    if dry_run:
        return Outcome(name, would(action), changes, md)
    if action == "updated":
        # DROP terminates the creating query but refuses while INSERT INTO queries write the object
        inserts = [q for q in desc.write_queries if is_insert(q.id)]
        for q in inserts:
            ksql.terminate(q.id)
        # a deltas topic is derived state: the new queries rebuild it from the CDC topic, so the old
        # records must go, or the aggregate would count them twice
        ksql.drop(desc.type, name, delete_topic=bool(insert_statements(p)))
    if action in ("created", "updated"):
        ksql.execute(stmt.statement, dict(p.properties))
        desc = describe(ksql, name)
    return Outcome(name, action, changes, {**md, **metadata(desc)})
