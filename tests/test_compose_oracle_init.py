"""The Oracle init SQL of the compose stack (compose/oracle/init) compared with what the Oracle asset checks query."""

from __future__ import annotations

import re

import pytest

from tests.compose_support import COMPOSE_DIR

pytestmark = pytest.mark.unit

ORACLE_INIT_DIR = COMPOSE_DIR / "oracle" / "init"


def _normalize_sql(text: str) -> str:
    return re.sub(r"\s+", " ", text).upper()


def _init_sql() -> str:
    files = sorted(ORACLE_INIT_DIR.glob("*.sql"))
    assert files, "compose/oracle/init has no .sql file"
    return "\n".join(f.read_text() for f in files)


SQLPLUS_LINE_COMMANDS = re.compile(r"^\s*(--|REM\b|SET\b|WHENEVER\b|PROMPT\b|SPOOL\b|HOST\b)", re.IGNORECASE)


def _sql_statements(text: str) -> list[str]:
    """`;`-terminated statements, without comments and SQL*Plus line commands (SET ..., WHENEVER ...)."""
    body = "\n".join(line for line in text.splitlines() if not SQLPLUS_LINE_COMMANDS.match(line))
    return [_normalize_sql(s).strip() for s in body.split(";") if s.strip()]


ORACLE_CHECK_COLUMNS = ("LOG_MODE", "SUPPLEMENTAL_LOG_DATA_MIN", "SUPPLEMENTAL_LOG_DATA_ALL")


def _database_row_after(statements: list[str]) -> dict[str, str]:
    """The V$DATABASE row a fresh 19c database (NOARCHIVELOG, no supplemental logging) shows after `statements`.
    ARCHIVELOG only takes effect in MOUNT state; all-column logging alone shows MIN = IMPLICIT."""
    row = {"LOG_MODE": "NOARCHIVELOG", "SUPPLEMENTAL_LOG_DATA_MIN": "NO", "SUPPLEMENTAL_LOG_DATA_ALL": "NO"}
    mounted = False
    for s in statements:
        if s == "STARTUP MOUNT":
            mounted = True
        elif s == "ALTER DATABASE OPEN":
            mounted = False
        elif s == "ALTER DATABASE ARCHIVELOG" and mounted:
            row["LOG_MODE"] = "ARCHIVELOG"
        elif s == "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA":
            row["SUPPLEMENTAL_LOG_DATA_MIN"] = "YES"
        elif s == "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS":
            row["SUPPLEMENTAL_LOG_DATA_ALL"] = "YES"
            if row["SUPPLEMENTAL_LOG_DATA_MIN"] == "NO":
                row["SUPPLEMENTAL_LOG_DATA_MIN"] = "IMPLICIT"
    return row


def test_oracle_init_sql_turns_on_what_the_asset_checks_verify(raw_compose):
    sql = _init_sql()
    statements = _sql_statements(sql)
    # ARCHIVELOG: only in MOUNT state, then open again
    order = [s for s in statements if s in ("SHUTDOWN IMMEDIATE", "STARTUP MOUNT", "ALTER DATABASE ARCHIVELOG", "ALTER DATABASE OPEN")]
    assert order == ["SHUTDOWN IMMEDIATE", "STARTUP MOUNT", "ALTER DATABASE ARCHIVELOG", "ALTER DATABASE OPEN"], order
    # minimal supplemental logging makes SUPPLEMENTAL_LOG_DATA_MIN = YES; ALL COLUMNS makes ..._ALL = YES
    assert "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA" in statements
    assert "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS" in statements
    assert statements.index("ALTER DATABASE ADD SUPPLEMENTAL LOG DATA") > statements.index("ALTER DATABASE OPEN")
    assert _database_row_after(statements) == {
        "LOG_MODE": "ARCHIVELOG",
        "SUPPLEMENTAL_LOG_DATA_MIN": "YES",
        "SUPPLEMENTAL_LOG_DATA_ALL": "YES",
    }
    # the file names the checks it satisfies
    assert "check_archivelog" in sql and "check_supplemental_logging" in sql
    # mounted where the 19c image runs setup scripts, and the container's health is those checks
    mounts = raw_compose["services"]["oracle"]["volumes"]
    assert "./oracle/init:/opt/oracle/scripts/setup:ro" in mounts
    hc = (COMPOSE_DIR / "oracle" / "healthcheck.sh").read_text()
    assert "LOG_MODE=ARCHIVELOG" in hc and "SUPPLEMENTAL_LOG_DATA_MIN=(YES|IMPLICIT)" in hc


def test_oracle_asset_checks_pass_on_what_the_init_sql_sets():
    """The Oracle asset checks (pipeline_defs/systems/oracle/catalog.py) read V$DATABASE with one probe; the init SQL
    ends with that probe verbatim, and the checks pass on the row the init SQL produces (and fail without its statements)."""
    from types import SimpleNamespace

    from pipeline_defs.systems.oracle import catalog as q

    sql = _init_sql()
    spec = SimpleNamespace(
        role=SimpleNamespace(name="C##CDC_PRIVS"),
        user=SimpleNamespace(name="C##MYUSER"),
        tables=[SimpleNamespace(name="POC_USERDATA"), SimpleNamespace(name="POC_CLICKSTREAM")],
    )
    # the probe the checks really run (catalog_probes), not a text search of the module
    probes = {_normalize_sql(p.sql) for p in q.catalog_probes(spec) if "V$DATABASE" in p.sql.upper()}
    assert len(probes) == 1, probes
    assert all(c in probe for probe in probes for c in ORACLE_CHECK_COLUMNS)
    statements = _sql_statements(sql)
    for probe in probes:
        assert probe in statements, f"compose/oracle/init does not end with the checks' probe `{probe}`"

    state = q.parse_catalog({"database": [_database_row_after(statements)]})
    assert q.check_archivelog(state)[0], q.check_archivelog(state)
    assert q.check_supplemental_logging(spec, state)[0], q.check_supplemental_logging(spec, state)

    # negative controls: without the init statements the same checks fail
    without_archivelog = [s for s in statements if s != "ALTER DATABASE ARCHIVELOG"]
    assert not q.check_archivelog(q.parse_catalog({"database": [_database_row_after(without_archivelog)]}))[0]
    without_supplemental = [s for s in statements if "SUPPLEMENTAL" not in s]
    state = q.parse_catalog({"database": [_database_row_after(without_supplemental)]})
    assert not q.check_supplemental_logging(spec, state)[0]
