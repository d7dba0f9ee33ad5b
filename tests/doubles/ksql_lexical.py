"""The lexical layer of the ksqlDB double's SQL: identifiers, quote- and comment-aware scanning, literals.

Every other SQL module of the double (tests/doubles/ksql_statements.py, ksql_types.py, ksql_expr.py) reads
text through these helpers, so quoted text (back-quoted identifiers, '...' strings, a doubled quote inside
either) and comments are handled in one place.
SqlError lives here because every layer raises it; the double turns it into a 400 statement_error:
the double refuses what it does not understand instead of pretending it worked.
"""

from __future__ import annotations

import re
from typing import Any

NAME = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
_F = re.I | re.S


class SqlError(Exception):
    """Rejected statement; error_code follows ksqlDB (40001 bad statement, 40002 query endpoint)."""

    def __init__(self, message: str, error_code: int = 40001):
        super().__init__(message)
        self.message = message
        self.error_code = error_code


def ident(token: str) -> str:
    """ksqlDB identifier rules: unquoted names are upper-cased, backticks keep case."""
    token = token.strip()
    if token.startswith("`") and token.endswith("`") and len(token) > 1:
        return token[1:-1].replace("``", "`")
    return token.upper()


# ---------------------------------------------------------------------------------- scanning


def _scan(text: str, angle: bool = False):
    """Yield (index, char, depth) for characters outside quotes and comments."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'`\"":
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:  # doubled quote = escaped quote
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise SqlError(f"line 1:{i + 1}: unterminated quoted text")
            i = j + 1
            continue
        if text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == "(" or (angle and c == "<"):
            depth += 1
        elif c == ")" or (angle and c == ">"):
            depth -= 1
        yield i, c, depth
        i += 1


def split_statements(text: str) -> list[str]:
    """Statements without their `;`. Like ksqlDB, every statement must end with `;`."""
    out, start = [], 0
    for i, c, depth in _scan(text):
        if c == ";" and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    tail = strip_comments(text[start:]).strip()
    if tail:
        raise SqlError(f"line 1:{len(text) + 1}: mismatched input '<EOF>' expecting ';'")
    return [s for s in out if strip_comments(s).strip()]


def strip_comments(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "'`\"":
            j = i + 1
            while j < n and not (text[j] == c and not text.startswith(c * 2, j)):
                j += 2 if text.startswith(c * 2, j) else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(text: str, sep: str = ",", angle: bool = False) -> list[str]:
    parts, start = [], 0
    for i, c, depth in _scan(text, angle):
        if c == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    if last or parts:
        parts.append(last)
    return parts


def take_parens(text: str) -> tuple[str, str]:
    """'(a, (b)) rest' -> ('a, (b)', ' rest')."""
    text = text.lstrip()
    if not text.startswith("("):
        raise SqlError(f"line 1:1: expected '(' at {text[:20]!r}")
    for i, c, depth in _scan(text):
        if c == ")" and depth == 0:
            return text[1:i], text[i + 1 :]
    raise SqlError("line 1:1: missing ')'")


def top_level_words(text: str) -> list[tuple[str, int]]:
    """(UPPER word, position) of each bare word outside parentheses, quotes and comments."""
    words: list[tuple[str, int]] = []
    start, last = None, -2
    for idx, c, depth in _scan(text):
        wordy = c.isalnum() or c == "_"
        if start is not None and (not wordy or idx != last + 1):
            words.append((text[start : last + 1].upper(), start))
            start = None
        if wordy and start is None and depth == 0:
            start = idx
        last = idx
    if start is not None:
        words.append((text[start : last + 1].upper(), start))
    return words


# ---------------------------------------------------------------------------------- literals


def literal(token: str) -> Any:
    t = token.strip()
    if len(t) >= 2 and t[0] == "'" and t[-1] == "'":
        return t[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if re.fullmatch(r"-?\d+\.\d*(E-?\d+)?", t, re.I):
        return float(t)
    if t.upper() in ("TRUE", "FALSE"):
        return t.upper() == "TRUE"
    if t.upper() == "NULL":
        return None
    raise SqlError(f"line 1:1: not a literal: {t!r}")


def parse_with(inner: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for part in split_top(inner):
        m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.+?)\s*$", part, _F)
        if not m:
            raise SqlError(f"line 1:1: invalid WITH property: {part!r}")
        props[m.group(1).upper()] = literal(m.group(2))
    return props


__all__ = [
    "NAME",
    "SqlError",
    "ident",
    "literal",
    "parse_with",
    "split_statements",
    "split_top",
    "strip_comments",
    "take_parens",
    "top_level_words",
]
