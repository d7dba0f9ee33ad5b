"""Oracle's naming and type rules, in one place: the spec validates with them and the SQL
builders (sql.py) assert them again before anything reaches a statement.

Identifiers are checked against Oracle's *unquoted* identifier rules, reserved words are refused,
column types come from an allowlist, so no quote, semicolon or comment can be smuggled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator

from pipeline_defs.core.types import Neutral
from pipeline_defs.spec.fields import SQL_EXPRESSIONS, regex_check

# Oracle "Database Object Names and Qualifiers": unquoted identifiers begin with a letter and
# contain only letters, digits, _, $ and #; at most 128 bytes (12.2+). Upper case is required here
# because unquoted names are folded to upper case and Connect/ksqlDB see the folded name.
_ORACLE_IDENT = re.compile(r"[A-Z][A-Z0-9_$#]*")
# Oracle SQL reserved words (Oracle SQL Language Reference, "Oracle SQL Reserved Words"); these
# cannot be unquoted names of objects we create.
ORACLE_RESERVED = frozenset(
    """ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN COMMENT
    COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP ELSE EXCLUSIVE
    EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN INCREMENT INDEX INITIAL
    INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS MINUS MLSLABEL MODE MODIFY
    NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE OPTION OR ORDER PCTFREE PRIOR
    PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS SELECT SESSION SET SHARE SIZE SMALLINT
    START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO TRIGGER UID UNION UNIQUE UPDATE USER VALIDATE
    VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE WITH""".split()
)

# ksqlDB: the brief's rule (letters, digits, _; letter first), upper case because ksqlDB folds
_PRIVILEGE = re.compile(r"[A-Z][A-Z_]*( [A-Z][A-Z_]*)*")
QUOTA = re.compile(r"UNLIMITED|([1-9][0-9]*)([KMGT])?")
OBJECT_PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE", "READ", "WRITE", "ALTER", "INDEX", "REFERENCES", "FLASHBACK", "DEBUG"}
)
# SQL expressions a DATE/TIMESTAMP row value may be instead of a bound literal
ROW_EXPRESSIONS = frozenset(SQL_EXPRESSIONS)


def _oracle_ident(value: str, *, what: str = "Oracle identifier", reserved: bool = True) -> str:
    if not isinstance(value, str) or not _ORACLE_IDENT.fullmatch(value):
        if isinstance(value, str) and _ORACLE_IDENT.fullmatch(value.upper()):
            raise ValueError(f"{value!r} must be upper case (Oracle folds unquoted names to upper case; write {value.upper()!r})")
        raise ValueError(f"{value!r} is not a valid {what} (unquoted: a letter first, then A-Z, 0-9, _, $, #)")
    if len(value.encode()) > 128:
        raise ValueError(f"{value!r} is longer than 128 bytes, the Oracle identifier limit")
    if reserved and value in ORACLE_RESERVED:
        raise ValueError(f"{value!r} is an Oracle reserved word and cannot be an unquoted name")
    return value


def _oracle_name(value: str) -> str:
    return _oracle_ident(value)


def _oracle_ref(value: str) -> str:
    """A reference to an existing Oracle object/role: identifier rules, reserved words allowed
    (CONNECT and RESOURCE are role names)."""
    return _oracle_ident(value, reserved=False)


def _oracle_object_ref(value: str) -> str:
    """`[SCHEMA.]OBJECT`, e.g. SYS.DBMS_LOGMNR, V_$DATABASE, SYSTEM.LOGMNR_COL$."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an Oracle object name")
    parts = value.split(".")
    if len(parts) > 2 or not all(_ORACLE_IDENT.fullmatch(p) for p in parts):
        raise ValueError(f"{value!r} is not a valid Oracle object name ([SCHEMA.]NAME, each part a letter first, then A-Z, 0-9, _, $, #)")
    return value


def _system_privilege(value: str) -> str:
    if not isinstance(value, str) or not _PRIVILEGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Oracle system privilege (upper-case words separated by single spaces)")
    return value


def _object_privilege(value: str) -> str:
    if value not in OBJECT_PRIVILEGES:
        raise ValueError(f"{value!r} is not an allowed object privilege (one of {', '.join(sorted(OBJECT_PRIVILEGES))})")
    return value


OracleName = Annotated[str, AfterValidator(_oracle_name)]
OracleRef = Annotated[str, AfterValidator(_oracle_ref)]
OracleObjectRef = Annotated[str, AfterValidator(_oracle_object_ref)]
SystemPrivilege = Annotated[str, AfterValidator(_system_privilege)]
ObjectPrivilege = Annotated[str, AfterValidator(_object_privilege)]
Quota = Annotated[str, AfterValidator(regex_check(QUOTA, "quota (UNLIMITED or a size like 100M)"))]


# --------------------------------------------------------------------------------------------
# column types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleTypeInfo:
    """A parsed allowlisted Oracle column type."""

    base: str  # VARCHAR2, NVARCHAR2, CHAR, NCHAR, NUMBER, FLOAT, BINARY_FLOAT, BINARY_DOUBLE, DATE, TIMESTAMP, RAW
    length: int | None = None  # character types / RAW
    precision: int | None = None  # NUMBER / FLOAT
    scale: int | None = None  # NUMBER
    fsp: int | None = None  # TIMESTAMP fractional seconds precision
    time_zone: Literal["", "TZ", "LTZ"] = ""

    @property
    def family(self) -> str:
        if self.base in ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR"):
            return "text"
        if self.base in ("NUMBER", "FLOAT", "BINARY_FLOAT", "BINARY_DOUBLE"):
            return "number"
        if self.base in ("DATE", "TIMESTAMP"):
            return "temporal"
        return "binary"

    def render(self) -> str:
        if self.base in ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR", "RAW"):
            return f"{self.base}({self.length})"
        if self.base == "NUMBER":
            if self.precision is None:
                return "NUMBER"
            return f"NUMBER({self.precision})" if self.scale is None else f"NUMBER({self.precision},{self.scale})"
        if self.base == "FLOAT":
            return "FLOAT" if self.precision is None else f"FLOAT({self.precision})"
        if self.base == "TIMESTAMP":
            out = "TIMESTAMP" if self.fsp is None else f"TIMESTAMP({self.fsp})"
            return out + {"": "", "TZ": " WITH TIME ZONE", "LTZ": " WITH LOCAL TIME ZONE"}[self.time_zone]
        return self.base


_TYPE_RX = [
    (re.compile(r"(VARCHAR2|NVARCHAR2)\((\d+)(?: (?:BYTE|CHAR))?\)"), "varchar"),
    (re.compile(r"(CHAR|NCHAR)(?:\((\d+)(?: (?:BYTE|CHAR))?\))?"), "char"),
    (re.compile(r"NUMBER(?:\((\d+)(?:,(-?\d+))?\))?"), "number"),
    (re.compile(r"INTEGER|INT|SMALLINT"), "integer"),
    (re.compile(r"FLOAT(?:\((\d+)\))?"), "float"),
    (re.compile(r"BINARY_FLOAT|BINARY_DOUBLE|DATE"), "plain"),
    (re.compile(r"TIMESTAMP(?:\((\d)\))?( WITH TIME ZONE| WITH LOCAL TIME ZONE)?"), "timestamp"),
    (re.compile(r"RAW\((\d+)\)"), "raw"),
]
ORACLE_TYPE_HELP = (
    "VARCHAR2(n), NVARCHAR2(n), CHAR[(n)], NCHAR[(n)], NUMBER[(p[,s])], INTEGER, FLOAT[(p)], "
    "BINARY_FLOAT, BINARY_DOUBLE, DATE, TIMESTAMP[(f)] [WITH [LOCAL] TIME ZONE], RAW(n)"
)


def oracle_type_info(text: str) -> OracleTypeInfo:
    """Parse an allowlisted Oracle column type; ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an allowed Oracle column type (allowed: {ORACLE_TYPE_HELP})")
    norm = _normalize_type_text(text)
    for rx, kind in _TYPE_RX:
        m = rx.fullmatch(norm)
        if not m:
            continue
        if kind == "varchar":
            n = int(m.group(2))
            if not 1 <= n <= 32767:
                raise ValueError(f"{text!r}: length must be 1..32767")
            return OracleTypeInfo(m.group(1), length=n)
        if kind == "char":
            n = int(m.group(2) or 1)
            if not 1 <= n <= 2000:
                raise ValueError(f"{text!r}: length must be 1..2000")
            return OracleTypeInfo(m.group(1), length=n)
        if kind == "number":
            if m.group(1) is None:
                return OracleTypeInfo("NUMBER")
            p = int(m.group(1))
            s = int(m.group(2)) if m.group(2) is not None else None
            if not 1 <= p <= 38:
                raise ValueError(f"{text!r}: precision must be 1..38")
            if s is not None and not -84 <= s <= 127:
                raise ValueError(f"{text!r}: scale must be -84..127")
            return OracleTypeInfo("NUMBER", precision=p, scale=s)
        if kind == "integer":
            return OracleTypeInfo("NUMBER", precision=38, scale=0)
        if kind == "float":
            p = int(m.group(1)) if m.group(1) else None
            if p is not None and not 1 <= p <= 126:
                raise ValueError(f"{text!r}: FLOAT precision must be 1..126")
            return OracleTypeInfo("FLOAT", precision=p)
        if kind == "plain":
            return OracleTypeInfo(norm)
        if kind == "timestamp":
            fsp = int(m.group(1)) if m.group(1) is not None else None
            tz = {None: "", " WITH TIME ZONE": "TZ", " WITH LOCAL TIME ZONE": "LTZ"}[m.group(2)]
            return OracleTypeInfo("TIMESTAMP", fsp=fsp, time_zone=tz)
        if kind == "raw":
            n = int(m.group(1))
            if not 1 <= n <= 32767:
                raise ValueError(f"{text!r}: length must be 1..32767")
            return OracleTypeInfo("RAW", length=n)
    raise ValueError(f"{text!r} is not an allowed Oracle column type (allowed: {ORACLE_TYPE_HELP})")


def _normalize_type_text(text: str) -> str:
    return re.sub(r"\s*([(),])\s*", r"\1", re.sub(r"\s+", " ", text.strip().upper()))


def _oracle_type(text: str) -> str:
    oracle_type_info(text)  # raises for anything outside the allowlist
    return _normalize_type_text(text)  # the author's spelling, upper-cased and without stray blanks


OracleType = Annotated[str, AfterValidator(_oracle_type)]


def neutral_type(info: OracleTypeInfo) -> Neutral | None:
    """What both connector flavors write for an Oracle type (Confluent with
    numeric.mapping=best_fit, Debezium with decimal.handling.mode=double and
    time.precision.mode=connect); None: the flavors disagree, no engine can read it the same way."""
    if info.family == "text":
        return Neutral.STRING
    if info.base == "NUMBER" and info.precision is not None:
        if info.scale in (None, 0):
            return Neutral.INT32 if info.precision < 10 else Neutral.INT64 if info.precision < 19 else None
        return Neutral.FLOAT64 if info.scale > 0 else None
    if info.base in ("BINARY_FLOAT", "BINARY_DOUBLE"):
        return Neutral.FLOAT64
    if info.base in ("DATE", "TIMESTAMP") and not info.time_zone:
        return Neutral.TIMESTAMP
    if info.base == "TIMESTAMP":
        return Neutral.STRING
    if info.base == "RAW":
        return Neutral.BYTES
    return None
