"""The row expressions the ksqlDB double evaluates in persistent stream queries (CSAS, INSERT INTO).

Only what this project's statements use, each a ksqlDB 0.29 construct (confluentinc/ksql: the grammar
ksqldb-parser/src/main/antlr4/io/confluent/ksql/parser/SqlBase.g4 and docs/developer-guide/ksqldb-reference/):
- column references and struct dereference ``S->F`` (``#dereference``, operators.md "STRUCT dereference"; a
  NULL struct gives NULL);
- literals: '' strings, integers with an optional minus (``number: MINUS? INTEGER_VALUE``; INTEGER, BIGINT
  beyond 32 bits), NULL, TRUE/FALSE;
- ``CAST(x AS BIGINT|INTEGER|STRING|DOUBLE|BOOLEAN)`` (``#cast``; NULL stays NULL);
- ``CASE WHEN c THEN x [WHEN ...] [ELSE y] END`` (``#searchedCase``): the first WHEN whose condition is
  TRUE, else ELSE, else NULL; every result must have one type;
- conditions ``x = y``, ``<>``/``!=``, ``<``, ``<=``, ``>``, ``>=``, ``x IS [NOT] NULL`` joined by
  AND: a comparison with NULL is not TRUE (SQL three-valued logic), so such a WHEN or WHERE fails.
Anything else raises SqlError: the double refuses what it does not evaluate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.doubles.ksql_lexical import SqlError, ident, split_top
from tests.doubles.ksql_types import canonical_type

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>->|<>|!=|<=|>=|=|<|>|\(|\)|-|,)"
    r"|(?P<name>`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*))"
)
_CAST_TYPES = {"BIGINT", "INTEGER", "INT", "STRING", "VARCHAR", "DOUBLE", "BOOLEAN"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SqlError(f"ksqlDB test double: cannot read expression at {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


@dataclass
class Expr:
    kind: str  # col | deref | lit | cast | case | cmp | isnull | and
    args: tuple


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, upper: bool = True) -> str:
        if self.i >= len(self.toks):
            return ""
        kind, v = self.toks[self.i]
        return v.upper() if upper and kind == "name" else v

    def take(self, want: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise SqlError(f"ksqlDB test double: expression ends early, expected {want or 'more'}")
        tok = self.toks[self.i]
        if want is not None and (tok[1].upper() if tok[0] == "name" else tok[1]) != want:
            raise SqlError(f"ksqlDB test double: expected {want!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def done(self) -> None:
        if self.i != len(self.toks):
            raise SqlError(f"ksqlDB test double: unexpected {self.toks[self.i][1]!r} in expression")

    def cond(self) -> Expr:
        parts = [self.comparison()]
        while self.peek() == "AND":
            self.take()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else Expr("and", tuple(parts))

    def comparison(self) -> Expr:
        left = self.expr()
        op = self.peek()
        if op == "IS":
            self.take()
            negate = self.peek() == "NOT"
            if negate:
                self.take()
            self.take("NULL")
            return Expr("isnull", (left, negate))
        if op in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.take()
            return Expr("cmp", (op, left, self.expr()))
        raise SqlError(f"ksqlDB test double: expected a comparison, found {op!r}")

    def expr(self) -> Expr:
        word = self.peek()
        if word == "CASE":
            self.take()
            whens = []
            while self.peek() == "WHEN":
                self.take()
                c = self.cond()
                self.take("THEN")
                whens.append((c, self.expr()))
            if not whens:
                raise SqlError("ksqlDB test double: CASE needs at least one WHEN")
            other = None
            if self.peek() == "ELSE":
                self.take()
                other = self.expr()
            self.take("END")
            return Expr("case", (tuple(whens), other))
        if word == "CAST":
            self.take()
            self.take("(")
            inner = self.expr()
            self.take("AS")
            t = self.take()[1].upper()
            if t not in _CAST_TYPES:
                raise SqlError(f"ksqlDB test double: CAST to {t} is not simulated")
            self.take(")")
            return Expr("cast", (inner, canonical_type(t)))
        kind, v = self.take()
        if kind == "str":
            return Expr("lit", (v[1:-1].replace("''", "'"), "STRING"))
        if v == "-" and self.i < len(self.toks) and self.toks[self.i][0] == "num":
            kind, v = "num", "-" + self.take()[1]
        if kind == "num":
            if "." in v:
                return Expr("lit", (float(v), "DOUBLE"))
            n = int(v)
            return Expr("lit", (n, "INTEGER" if -(2**31) <= n < 2**31 else "BIGINT"))
        if kind == "name" and v.upper() in ("NULL", "TRUE", "FALSE"):
            return Expr("lit", ({"NULL": None, "TRUE": True, "FALSE": False}[v.upper()], "BOOLEAN"))
        if kind != "name":
            raise SqlError(f"ksqlDB test double: unexpected {v!r} in expression")
        e = Expr("col", (ident(v),))
        while self.peek() == "->":
            self.take()
            e = Expr("deref", (e, ident(self.take()[1])))
        return e


def parse_expr(text: str) -> Expr:
    p = _Parser(text)
    e = p.expr()
    p.done()
    return e


def parse_cond(text: str) -> Expr:
    p = _Parser(text)
    e = p.cond()
    p.done()
    return e


def struct_fields(sql_type: str) -> dict[str, str]:
    """'STRUCT<`A` STRING, `B` BIGINT>' -> {'A': 'STRING', 'B': 'BIGINT'}."""
    inner = sql_type[len("STRUCT<") : -1]
    out = {}
    for f in split_top(inner, angle=True):
        name, _, t = f.strip().partition(" ")
        out[ident(name)] = t.strip()
    return out


def type_of(e: Expr, columns: dict[str, str]) -> str:
    """The SQL type of an expression over columns {NAME: canonical type}."""
    if e.kind == "col":
        if e.args[0] not in columns:
            raise SqlError(f"Line: 1, Col: 8: SELECT column '{e.args[0]}' cannot be resolved.")
        return columns[e.args[0]]
    if e.kind == "deref":
        base = type_of(e.args[0], columns)
        if not base.startswith("STRUCT<"):
            raise SqlError(f"Expected STRUCT type, got: {base}")
        fields = struct_fields(base)
        if e.args[1] not in fields:
            raise SqlError(f"Could not find field '{e.args[1]}' in '{base}'.")
        return fields[e.args[1]]
    if e.kind == "lit":
        return e.args[1]
    if e.kind == "cast":
        type_of(e.args[0], columns)
        return e.args[1]
    if e.kind == "case":
        whens, other = e.args
        for c, _ in whens:
            type_of(c, columns) if c.kind in ("col", "deref") else check_cond(c, columns)
        types = {type_of(x, columns) for _, x in whens} | ({type_of(other, columns)} if other is not None else set())
        if len(types) != 1:
            raise SqlError(f"Invalid Case expression. Type for all 'THEN' and 'ELSE' clauses should be the same. Types: {sorted(types)}")
        return types.pop()
    raise SqlError("ksqlDB test double: a condition is not a value")


def check_cond(e: Expr, columns: dict[str, str]) -> None:
    if e.kind == "and":
        for p in e.args:
            check_cond(p, columns)
    elif e.kind == "cmp":
        type_of(e.args[1], columns), type_of(e.args[2], columns)
    elif e.kind == "isnull":
        type_of(e.args[0], columns)
    else:
        raise SqlError("ksqlDB test double: WHERE / WHEN needs a comparison")


def evaluate(e: Expr, row: dict[str, Any]) -> Any:
    k = e.kind
    if k == "col":
        return row.get(e.args[0])
    if k == "deref":
        base = evaluate(e.args[0], row)
        if not isinstance(base, dict):
            return None
        return next((v for f, v in base.items() if str(f).upper() == e.args[1]), None)
    if k == "lit":
        return e.args[0]
    if k == "cast":
        v = evaluate(e.args[0], row)
        if v is None:
            return None
        t = e.args[1]
        if t in ("BIGINT", "INTEGER"):
            return int(v)
        if t == "DOUBLE":
            return float(v)
        if t == "BOOLEAN":
            return v if isinstance(v, bool) else str(v).lower() == "true"
        return v if isinstance(v, str) else str(v)
    if k == "case":
        whens, other = e.args
        for c, x in whens:
            if truth(c, row):
                return evaluate(x, row)
        return evaluate(other, row) if other is not None else None
    raise SqlError("ksqlDB test double: a condition is not a value")


def truth(e: Expr, row: dict[str, Any]) -> bool:
    """TRUE only: NULL and FALSE both reject (WHERE, WHEN)."""
    if e.kind == "and":
        return all(truth(p, row) for p in e.args)
    if e.kind == "isnull":
        v = evaluate(e.args[0], row)
        return (v is not None) if e.args[1] else (v is None)
    if e.kind == "cmp":
        op, a, b = e.args[0], evaluate(e.args[1], row), evaluate(e.args[2], row)
        if a is None or b is None:
            return False
        return {"=": a == b, "<>": a != b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    v = evaluate(e, row)
    return v is True


__all__ = ["Expr", "check_cond", "evaluate", "parse_cond", "parse_expr", "struct_fields", "truth", "type_of"]
