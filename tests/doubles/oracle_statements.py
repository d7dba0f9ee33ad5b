"""SQL statements as the Oracle double receives them: the identifier pattern every statement shape
uses, whitespace normalization, password masking and top-level splitting of statement text, the
statement log record (FakeOracleDatabase.statement_log) and an injected error (inject_error).

Shared by the cursor (tests/doubles/oracle_dbapi.py), the database and the SQL executor
(tests/doubles/oracle_sql_*.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import oracledb

IDENT = r"[A-Za-z][A-Za-z0-9_$#]{0,127}"


@dataclass(frozen=True)
class LoggedStatement:
    user: str
    sql: str  # IDENTIFIED BY values masked
    params: Any
    error: str | None  # full_code when the statement failed

    @property
    def verb(self) -> str:
        return self.sql.split(None, 1)[0].upper() if self.sql.strip() else ""

    @property
    def is_ddl(self) -> bool:
        return self.verb in ("CREATE", "ALTER", "GRANT", "REVOKE", "DROP")


@dataclass
class InjectedError:
    pattern: re.Pattern[str]
    error: Callable[[], oracledb.Error]
    times: int


def mask_passwords(sql: str) -> str:
    return re.sub(r'(IDENTIFIED\s+BY\s+)("[^"]*"|\S+)', r"\1********", sql, flags=re.I)


def normalize_sql(sql: str) -> str:
    """Collapse whitespace outside quotes (keeps quoted passwords and string literals intact)."""
    out, quote, prev_space = [], None, False
    for ch in sql.strip():
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        if ch.isspace():
            if not prev_space:
                out.append(" ")
            prev_space = True
            continue
        prev_space = False
        out.append(ch)
    return "".join(out)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts
