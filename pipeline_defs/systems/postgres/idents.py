"""PostgreSQL names: the rules each kind of name must pass, and quoting.

Every name reaching SQL is validated here *and* quoted (:func:`quote_ident`), so a name that
slipped past validation still cannot end a quoted identifier. Two families:

* table and column names are upper case (``POC_CLICKSTREAM``, ``EVENTTIMESTAMP``) as in the seed;
  PostgreSQL folds unquoted names to lower case, so they are always written quoted, which also
  keeps them upper case in Debezium's topic names and JSON fields;
* database, schema, role and publication names are lower case (what unquoted names fold to, so
  psql users can type them bare); replication slot names follow PostgreSQL's own slot rule.
"""

from __future__ import annotations

import re

# PostgreSQL 15 "SQL Key Words" (Appendix C): the `reserved` and `reserved (can be function or
# type)` categories. Quoting would make them legal, but engines and people downstream read these
# names unquoted, where a reserved word breaks the statement.
PG_RESERVED = frozenset(
    [
        "ALL",
        "ANALYSE",
        "ANALYZE",
        "AND",
        "ANY",
        "ARRAY",
        "AS",
        "ASC",
        "ASYMMETRIC",
        "AUTHORIZATION",
        "BINARY",
        "BOTH",
        "CASE",
        "CAST",
        "CHECK",
        "COLLATE",
        "COLLATION",
        "COLUMN",
        "CONCURRENTLY",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CURRENT_CATALOG",
        "CURRENT_DATE",
        "CURRENT_ROLE",
        "CURRENT_SCHEMA",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "CURRENT_USER",
        "DEFAULT",
        "DEFERRABLE",
        "DESC",
        "DISTINCT",
        "DO",
        "ELSE",
        "END",
        "EXCEPT",
        "FALSE",
        "FETCH",
        "FOR",
        "FOREIGN",
        "FREEZE",
        "FROM",
        "FULL",
        "GRANT",
        "GROUP",
        "HAVING",
        "ILIKE",
        "IN",
        "INITIALLY",
        "INNER",
        "INTERSECT",
        "INTO",
        "IS",
        "ISNULL",
        "JOIN",
        "LATERAL",
        "LEADING",
        "LEFT",
        "LIKE",
        "LIMIT",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "NATURAL",
        "NOT",
        "NOTNULL",
        "NULL",
        "OFFSET",
        "ON",
        "ONLY",
        "OR",
        "ORDER",
        "OUTER",
        "OVERLAPS",
        "PLACING",
        "PRIMARY",
        "REFERENCES",
        "RETURNING",
        "RIGHT",
        "SELECT",
        "SESSION_USER",
        "SIMILAR",
        "SOME",
        "SYMMETRIC",
        "TABLE",
        "TABLESAMPLE",
        "THEN",
        "TO",
        "TRAILING",
        "TRUE",
        "UNION",
        "UNIQUE",
        "USER",
        "USING",
        "VARIADIC",
        "VERBOSE",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
    ]
)
MAX_IDENT = 63  # NAMEDATALEN - 1

_UPPER = re.compile(r"[A-Z][A-Z0-9_]{0,62}")
_LOWER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SLOT = re.compile(r"[a-z0-9_]{1,63}")


def _reserved(value: str, what: str) -> None:
    if value.upper() in PG_RESERVED:
        raise ValueError(f"{value!r} is a PostgreSQL reserved word and cannot be a {what}")


def upper_ident(value: object, what: str = "table or column name") -> str:
    """``POC_CLICKSTREAM``: an upper-case letter first, then A-Z, 0-9, _ (at most 63), not reserved."""
    if not isinstance(value, str) or not _UPPER.fullmatch(value):
        if isinstance(value, str) and _UPPER.fullmatch(value.upper()):
            raise ValueError(
                f"{value!r} must be upper case (it is always quoted, and the CDC topics and JSON fields "
                f"carry it as written; write {value.upper()!r})"
            )
        raise ValueError(f"{value!r} is not a valid {what}: an upper-case letter first, then A-Z, 0-9 or _, at most {MAX_IDENT} characters")
    _reserved(value, what)
    return value


def lower_ident(value: object, what: str = "name") -> str:
    """``cdc_reader``: a lower-case letter or _ first, then a-z, 0-9, _ (at most 63), not reserved."""
    if not isinstance(value, str) or not _LOWER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: a lower-case letter or _ first, then a-z, 0-9 or _, at most {MAX_IDENT} characters"
        )
    _reserved(value, what)
    if value.startswith("pg_"):
        raise ValueError(f"{value!r}: names starting with 'pg_' are reserved by PostgreSQL ({what})")
    return value


def slot_ident(value: object) -> str:
    """A replication slot name: PostgreSQL allows only a-z, 0-9 and _ (at most 63)."""
    if not isinstance(value, str) or not _SLOT.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid replication slot name: only a-z, 0-9 and _, 1 to {MAX_IDENT} characters")
    return value


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL quoted identifier (embedded double quotes doubled, NUL refused)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{name!r} cannot be an SQL identifier")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    """``"public"."POC_CLICKSTREAM"``."""
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def quote_literal(value: str) -> str:
    """A standard SQL string literal (``'`` doubled). Only for values a statement cannot take as a
    bind parameter (utility statements such as CREATE ROLE .. PASSWORD); the value must not hold a
    backslash-escape prefix either way, since standard_conforming_strings=on is the default."""
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("cannot be an SQL string literal")
    return "'" + value.replace("'", "''") + "'"
