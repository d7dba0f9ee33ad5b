"""The statements the ksqlDB double understands, as dataclasses, and their parser.

Just enough ksqlDB SQL for the test double: the statement forms this project sends (CREATE [OR REPLACE]
[SOURCE] STREAM|TABLE, CREATE ... AS SELECT, INSERT INTO ... SELECT, SHOW/LIST, DESCRIBE, TERMINATE, DROP,
SET/UNSET, and SELECT for pull queries). Anything outside these forms raises SqlError, which the double
turns into a 400 statement_error: the double refuses what it does not understand instead of pretending
it worked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.doubles.ksql_lexical import NAME, SqlError, ident, literal, parse_with, split_top, strip_comments, take_parens, top_level_words
from tests.doubles.ksql_types import canonical_type

_NAME_RE = re.compile(rf"^{NAME}$")
_F = re.I | re.S


@dataclass
class Column:
    name: str
    type: str
    key: bool = False  # KEY (stream) or PRIMARY KEY (table)
    primary: bool = False
    header: bool = False


def parse_columns(inner: str) -> list[Column]:
    cols: list[Column] = []
    for part in split_top(inner, angle=True):
        m = re.match(rf"^\s*({NAME})\s+(.+?)\s*$", part, _F)
        if not m:
            raise SqlError(f"line 1:1: invalid column definition: {part!r}")
        name, rest = ident(m.group(1)), m.group(2)
        col = Column(name, "")
        if km := re.search(r"\s+PRIMARY\s+KEY$", rest, _F):
            col.key = col.primary = True
            rest = rest[: km.start()]
        elif km := re.search(r"\s+KEY$", rest, _F):
            col.key = True
            rest = rest[: km.start()]
        elif km := re.search(r"\s+HEADERS?(\s*\(.*\))?$", rest, _F):
            col.header = True
            rest = rest[: km.start()]
        col.type = canonical_type(rest)
        if any(c.name == name for c in cols):
            raise SqlError(f"Duplicate column names:\n\t{name}")
        cols.append(col)
    return cols


@dataclass
class Window:
    type: str  # TUMBLING | HOPPING | SESSION
    size_ms: int
    advance_ms: int | None = None
    grace_ms: int | None = None
    retention_ms: int | None = None


@dataclass
class SelectItem:
    expr: str
    alias: str | None


@dataclass
class Select:
    items: list[SelectItem]
    source: str
    window: Window | None = None
    where: str | None = None
    group_by: list[str] = field(default_factory=list)
    partition_by: list[str] = field(default_factory=list)
    having: str | None = None
    emit_changes: bool = False
    limit: int | None = None


@dataclass
class CreateSource:
    kind: str  # STREAM | TABLE
    name: str
    or_replace: bool
    if_not_exists: bool
    is_source: bool
    columns: list[Column]
    props: dict[str, Any]


@dataclass
class CreateAs:
    kind: str
    name: str
    or_replace: bool
    if_not_exists: bool
    props: dict[str, Any]
    select: Select


@dataclass
class Show:
    what: str  # STREAMS | TABLES | QUERIES
    extended: bool


@dataclass
class Describe:
    name: str
    extended: bool


@dataclass
class Terminate:
    query_id: str  # or "ALL"


@dataclass
class Drop:
    kind: str
    name: str
    if_exists: bool
    delete_topic: bool


@dataclass
class Query:
    select: Select


@dataclass
class InsertInto:
    target: str
    select: Select


@dataclass
class SetProperty:
    key: str
    value: Any  # None for UNSET


_UNITS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


def _duration(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s+([A-Za-z]+?)S?\s*", text, _F)
    if not m or m.group(2).upper() not in _UNITS:
        raise SqlError(f"line 1:1: invalid duration: {text.strip()!r}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def parse_window(text: str) -> Window:
    m = re.match(r"^\s*(TUMBLING|HOPPING|SESSION)\s*(\(.*)$", text, _F)
    if not m:
        raise SqlError(f"line 1:1: invalid WINDOW clause: {text.strip()!r}")
    kind = m.group(1).upper()
    inner, rest = take_parens(m.group(2))
    if rest.strip():
        raise SqlError(f"line 1:1: unexpected text after WINDOW clause: {rest.strip()!r}")
    parts = split_top(inner)
    w = Window(kind, 0)
    for i, part in enumerate(parts):
        p = part.strip()
        if kind == "SESSION" and i == 0:
            w.size_ms = _duration(p)
        elif mm := re.fullmatch(r"SIZE\s+(.+)", p, _F):
            w.size_ms = _duration(mm.group(1))
        elif mm := re.fullmatch(r"ADVANCE\s+BY\s+(.+)", p, _F):
            w.advance_ms = _duration(mm.group(1))
        elif mm := re.fullmatch(r"GRACE\s+PERIOD\s+(.+)", p, _F):
            w.grace_ms = _duration(mm.group(1))
        elif mm := re.fullmatch(r"RETENTION\s+(.+)", p, _F):
            w.retention_ms = _duration(mm.group(1))
        else:
            raise SqlError(f"line 1:1: invalid WINDOW clause: {p!r}")
    if not w.size_ms:
        raise SqlError("line 1:1: WINDOW clause needs a SIZE")
    if kind == "HOPPING" and not w.advance_ms:
        raise SqlError("line 1:1: HOPPING windows need ADVANCE BY")
    return w


def parse_select(text: str) -> Select:
    words = top_level_words(text)
    if not words or words[0][0] != "SELECT":
        raise SqlError("line 1:1: expected SELECT")
    if any(w in ("JOIN", "UNION") for w, _ in words):
        raise SqlError("ksqlDB test double: JOIN is not supported")
    clauses: list[tuple[str, int, int]] = []  # (keyword, clause start, body start)
    for idx, (w, pos) in enumerate(words):
        nxt = words[idx + 1] if idx + 1 < len(words) else ("", len(text))
        if w in ("FROM", "WINDOW", "WHERE", "HAVING", "LIMIT"):
            clauses.append((w, pos, pos + len(w)))
        elif w in ("GROUP", "PARTITION") and nxt[0] == "BY":
            clauses.append((f"{w} BY", pos, nxt[1] + 2))
        elif w == "EMIT" and nxt[0] in ("CHANGES", "FINAL"):
            clauses.append(("EMIT", pos, nxt[1] + len(nxt[0])))
    if not clauses or clauses[0][0] != "FROM":
        raise SqlError("line 1:1: SELECT without FROM")
    bodies: dict[str, str] = {}
    for i, (kw, _, body_start) in enumerate(clauses):
        end = clauses[i + 1][1] if i + 1 < len(clauses) else len(text)
        if kw in bodies:
            raise SqlError(f"line 1:1: duplicate {kw} clause")
        bodies[kw] = text[body_start:end].strip()
    proj = text[len("SELECT") : clauses[0][1]].strip()
    if not proj:
        raise SqlError("line 1:8: SELECT list is empty")
    from_parts = bodies["FROM"].split()
    if not from_parts or not _NAME_RE.match(from_parts[0]) or len(from_parts) > 3:
        raise SqlError(f"line 1:1: invalid FROM clause: {bodies['FROM']!r}")
    sel = Select(items=[_select_item(p) for p in split_top(proj)], source=ident(from_parts[0]))
    if "WINDOW" in bodies:
        sel.window = parse_window(bodies["WINDOW"])
    sel.where = bodies.get("WHERE")
    sel.having = bodies.get("HAVING")
    if "GROUP BY" in bodies:
        sel.group_by = split_top(bodies["GROUP BY"])
    if "PARTITION BY" in bodies:
        sel.partition_by = split_top(bodies["PARTITION BY"])
    sel.emit_changes = "EMIT" in bodies
    if "LIMIT" in bodies:
        if not re.fullmatch(r"\d+", bodies["LIMIT"]):
            raise SqlError(f"line 1:1: invalid LIMIT: {bodies['LIMIT']!r}")
        sel.limit = int(bodies["LIMIT"])
    return sel


def _select_item(part: str) -> SelectItem:
    if m := re.fullmatch(rf"(.+?)\s+AS\s+({NAME})", part.strip(), _F):
        return SelectItem(m.group(1).strip(), ident(m.group(2)))
    if m := re.fullmatch(rf"(.+[)'])\s*({NAME})", part.strip(), _F):
        return SelectItem(m.group(1).strip(), ident(m.group(2)))
    return SelectItem(part.strip(), None)


_CREATE = re.compile(
    rf"^CREATE\s+(?P<replace>OR\s+REPLACE\s+)?(?P<source>SOURCE\s+)?(?P<kind>STREAM|TABLE)\s+"
    rf"(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{NAME})(?P<rest>.*)$",
    _F,
)


def parse_statement(text: str) -> Any:
    s = strip_comments(text).strip()
    words = s.split()
    head = words[0].upper() if words else ""
    if head == "CREATE":
        return _parse_create(s)
    if m := re.fullmatch(r"(?:SHOW|LIST)\s+(STREAMS|TABLES|QUERIES)(\s+EXTENDED)?", s, _F):
        return Show(m.group(1).upper(), bool(m.group(2)))
    if m := re.fullmatch(rf"DESCRIBE\s+(EXTENDED\s+)?({NAME})", s, _F):
        if ident(m.group(2)) in ("STREAMS", "TABLES", "FUNCTION", "CONNECTOR") and not m.group(2).startswith("`"):
            raise SqlError(f"ksqlDB test double: {s!r} is not supported")
        return Describe(ident(m.group(2)), bool(m.group(1)))
    if m := re.fullmatch(r"TERMINATE\s+([A-Za-z0-9_-]+)", s, _F):
        qid = m.group(1)
        return Terminate("ALL" if qid.upper() == "ALL" else qid)
    if m := re.fullmatch(rf"DROP\s+(STREAM|TABLE)\s+(IF\s+EXISTS\s+)?({NAME})(\s+DELETE\s+TOPIC)?", s, _F):
        return Drop(m.group(1).upper(), ident(m.group(3)), bool(m.group(2)), bool(m.group(4)))
    if m := re.fullmatch(rf"INSERT\s+INTO\s+({NAME})\s+(SELECT\b.*)", s, _F):
        return InsertInto(ident(m.group(1)), parse_select(m.group(2)))
    if head in ("SELECT", "PRINT"):
        return Query(parse_select(s)) if head == "SELECT" else Query(Select([], ""))
    if m := re.fullmatch(r"SET\s+'([^']+)'\s*=\s*'([^']*)'", s, _F):
        return SetProperty(m.group(1), m.group(2))
    if m := re.fullmatch(r"UNSET\s+'([^']+)'", s, _F):
        return SetProperty(m.group(1), None)
    raise SqlError(
        f"line 1:1: Syntax error at or near '{words[0] if words else ''}' (the ksqlDB test double does not implement this statement)"
    )


def _parse_create(s: str) -> CreateSource | CreateAs:
    m = _CREATE.match(s)
    if not m:
        raise SqlError(f"line 1:1: invalid CREATE statement: {s[:80]!r}")
    kind, name = m.group("kind").upper(), ident(m.group("name"))
    flags = dict(or_replace=bool(m.group("replace")), if_not_exists=bool(m.group("ine")))
    rest = m.group("rest").strip()
    columns: list[Column] = []
    if rest.startswith("("):
        inner, rest = take_parens(rest)
        columns = parse_columns(inner)
        rest = rest.strip()
    props: dict[str, Any] = {}
    if wm := re.match(r"^WITH\s*(\(.*)$", rest, _F):
        inner, rest = take_parens(wm.group(1))
        props = parse_with(inner)
        rest = rest.strip()
    if am := re.match(r"^AS\s+(SELECT\b.*)$", rest, _F):
        if columns:
            raise SqlError("line 1:1: CREATE ... AS SELECT cannot declare columns")
        if m.group("source"):
            raise SqlError("line 1:1: CREATE SOURCE ... AS SELECT is not valid")
        return CreateAs(kind, name, props=props, select=parse_select(am.group(1)), **flags)
    if rest:
        raise SqlError(f"line 1:1: unexpected text in CREATE statement: {rest[:60]!r}")
    return CreateSource(kind, name, is_source=bool(m.group("source")), columns=columns, props=props, **flags)


# ---------------------------------------------------------------------------------- WHERE


_CMP = re.compile(rf"^\s*({NAME})\s*(=|!=|<>|>=|<=|>|<)\s*(.+?)\s*$", _F)


def parse_where(text: str | None) -> list[tuple[str, str, Any]]:
    """`A = 'x' AND B >= 3` -> [(A, '=', 'x'), (B, '>=', 3)]; OR and functions are not supported."""
    if not text:
        return []
    words = top_level_words(text)
    if any(w == "OR" for w, _ in words):
        raise SqlError("ksqlDB test double: OR in pull-query WHERE is not supported")
    cuts = [pos for w, pos in words if w == "AND"]
    parts, start = [], 0
    for pos in cuts:
        parts.append(text[start:pos])
        start = pos + 3
    parts.append(text[start:])
    conds = []
    for p in parts:
        m = _CMP.match(p)
        if not m:
            raise SqlError(f"ksqlDB test double: unsupported WHERE condition {p.strip()!r}")
        conds.append((ident(m.group(1)), m.group(2), literal(m.group(3))))
    return conds


__all__ = [
    "Column",
    "CreateAs",
    "CreateSource",
    "Describe",
    "Drop",
    "InsertInto",
    "Query",
    "Select",
    "SelectItem",
    "SetProperty",
    "Show",
    "Terminate",
    "Window",
    "parse_columns",
    "parse_select",
    "parse_statement",
    "parse_where",
    "parse_window",
]
