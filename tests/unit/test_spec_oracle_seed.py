"""The default pipeline.yaml reproduces the seed's Oracle side: the CDC role's grants, the user, the tables with
their columns, keys and rows.
"""

from __future__ import annotations

import re

import pytest

from pipeline_defs.systems.oracle.plugin import OracleSourcePlugin
from tests.unit.spec_seed import SEED_COLUMNS, SEED_DEMO_ROWS, SEED_INITIAL_ROWS, SEED_ROLE_SQL, SEED_TABLE_GRANTS, SEED_USER_SQL
from tests.unit.spec_support import table_select_grants

pytestmark = pytest.mark.unit


def _grant_lines(sql: str) -> list[str]:
    return [line.strip().rstrip(";") for line in sql.strip().splitlines() if line.strip().upper().startswith("GRANT")]


def test_role_reproduces_every_seed_grant(spec):
    role = spec.source.role
    assert role.name == "C##CDC_PRIVS"
    assert "CREATE ROLE C##CDC_PRIVS;" in SEED_ROLE_SQL
    seed_roles, seed_sys, seed_obj = [], [], []
    for line in _grant_lines(SEED_ROLE_SQL):
        m = re.fullmatch(r"GRANT (\w+) ON (\S+) to C##CDC_PRIVS", line, re.I)
        if m:
            seed_obj.append((m.group(1), m.group(2)))
            continue
        what = re.fullmatch(r"GRANT (.+) TO C##CDC_PRIVS", line).group(1)
        (seed_roles if what.endswith("_ROLE") else seed_sys).append(what)
    assert list(role.granted_roles) == seed_roles == ["EXECUTE_CATALOG_ROLE"]
    assert list(role.system_privileges) == seed_sys
    assert [(g.privilege, g.object) for g in role.object_privileges] == seed_obj
    assert len(seed_sys) + len(seed_obj) + len(seed_roles) == 39  # every GRANT line of the seed's role block
    # the per-table grants of the seed are derived from the captured tables
    seed_tables = [re.fullmatch(r"GRANT (\w+) ON (\S+) TO (\S+)", g).groups() for g in _grant_lines(SEED_TABLE_GRANTS)]
    assert table_select_grants(spec) == seed_tables


def test_user_reproduces_the_seed(spec):
    u = spec.source.user
    m = re.search(r"CREATE USER (\S+) IDENTIFIED BY \S+ DEFAULT TABLESPACE (\w+) (CONTAINER=ALL)", SEED_USER_SQL)
    assert (u.name, u.default_tablespace, u.container_all) == (m.group(1), m.group(2), True)
    assert re.search(rf"ALTER USER {re.escape(u.name)} QUOTA {u.quota} ON {u.default_tablespace}", SEED_USER_SQL)
    assert u.password_env == "ORACLE_PASSWORD"
    derived = []
    for r in u.roles:
        derived.append((r.name, r.container_all))
    for p in u.system_privileges:
        derived.append((p.privilege, p.container_all))
    for o in u.object_privileges:
        derived.append((f"{o.privilege} ON {o.object}", o.container_all))
    seed = []
    for line in _grant_lines(SEED_USER_SQL):
        m = re.fullmatch(r"GRANT (.+?) TO C##MYUSER( CONTAINER=ALL)?", line, re.I)
        seed.append((m.group(1), bool(m.group(2))))
    assert sorted(derived) == sorted(seed)
    assert ("FLASHBACK ANY TABLE", False) in derived and ("FLASHBACK ANY TABLE", True) in derived


def test_tables_columns_keys_and_rows(spec):
    assert [t.name for t in spec.source.tables] == ["POC_USERDATA", "POC_CLICKSTREAM"]
    for t in spec.source.tables:
        assert t.capture
        assert [(c.name, c.type, c.primary_key) for c in t.columns] == SEED_COLUMNS[t.name]
        assert [dict(r) for r in t.initial_rows] == SEED_INITIAL_ROWS[t.name]
        assert [dict(r) for r in t.demo_rows] == SEED_DEMO_ROWS[t.name]
    tables = {t.name: t for t in OracleSourcePlugin().tables(spec)}
    assert tables["POC_USERDATA"].qualified == "C##MYUSER.POC_USERDATA"
    assert tables["POC_USERDATA"].primary_key == ["ID"] and tables["POC_CLICKSTREAM"].primary_key == ["EVENTID"]
