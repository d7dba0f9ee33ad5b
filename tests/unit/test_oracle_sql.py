"""pipeline_defs/systems/oracle/{sql,catalog,plan}.py: spec -> SQL, probes, plan and checks (pure; no database)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from pipeline_defs.systems.oracle import catalog as ocat
from pipeline_defs.systems.oracle import plan as oplan
from pipeline_defs.systems.oracle import sql as osql
from resources.redaction import REDACTED

pytest.register_assert_rewrite("tests.doubles.oracle_seed")  # also marked by the pytest plugin tests.doubles.oracle_fixtures

from tests.doubles.oracle_seed import SEED_GRANT_STATEMENTS, seed_oracle_spec

pytestmark = pytest.mark.unit

PASSWORD = "Seed-Pw-0a1b2c"


def _norm_grant(sql: str) -> str:
    """Seed text -> canonical form: upper-case, single spaces, unqualified objects owned by SYS (as run by SYS)."""
    s = " ".join(sql.split()).upper()
    s = re.sub(r" ON ([A-Z0-9_$#]+) TO ", r" ON SYS.\1 TO ", s)
    return s


def _complete_results(spec) -> dict[str, list[dict]]:
    """Probe results of a catalog that holds everything the spec asks for."""
    role, user = spec.role.name, spec.user.name
    grants = osql.role_grants(spec) + osql.user_grants(spec)
    return {
        "roles": [{"ROLE": role, "COMMON": "YES"}],
        "users": [{"USERNAME": user, "DEFAULT_TABLESPACE": "USERS", "COMMON": "YES"}],
        "quotas": [{"USERNAME": user, "TABLESPACE_NAME": "USERS", "MAX_BYTES": -1}],
        "tables": [{"OWNER": user, "TABLE_NAME": t.name} for t in spec.tables],
        "sys_privs": [
            {"GRANTEE": g.grantee, "PRIVILEGE": g.privilege, "COMMON": "YES" if g.common else "NO"} for g in grants if g.kind == "system"
        ],
        "tab_privs": [
            {
                "GRANTEE": g.grantee,
                "OWNER": g.owner,
                "TABLE_NAME": g.object_name,
                "PRIVILEGE": g.privilege,
                "COMMON": "YES" if g.common else "NO",
            }
            for g in grants
            if g.kind == "object"
        ],
        "role_privs": [
            {"GRANTEE": g.grantee, "GRANTED_ROLE": g.privilege, "COMMON": "YES" if g.common else "NO"} for g in grants if g.kind == "role"
        ],
        "database": [{"LOG_MODE": "ARCHIVELOG", "SUPPLEMENTAL_LOG_DATA_MIN": "YES", "SUPPLEMENTAL_LOG_DATA_ALL": "NO"}],
        "log_groups": [{"OWNER": user, "TABLE_NAME": t.name, "LOG_GROUP_TYPE": "ALL COLUMN LOGGING"} for t in spec.tables],
        "primary_keys": [
            {"OWNER": user, "TABLE_NAME": t.name, "COLUMN_NAME": c.name, "POSITION": 1}
            for t in spec.tables
            for c in t.columns
            if c.primary_key
        ],
    }


def _complete_state(spec) -> ocat.CatalogState:
    state = ocat.parse_catalog(_complete_results(spec))
    ocat.apply_row_probe_results(spec, state, {p.name: [{"N": 1}] for p in ocat.row_probes(spec, state)})
    return state


# ---- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["C##MYUSER", "V_$DATABASE", "LOGMNR_COL$", "poc_userdata", "A" * 128])
def test_identifier_accepts_oracle_unquoted_names(name):
    assert osql.ident(name) == name.upper()


@pytest.mark.parametrize("name", ["1ABC", "_X", "A;DROP TABLE X", "A B", "A" * 129, '"QUOTED"', "", "A-B", "T'--"])
def test_identifier_rejects_anything_else(name):
    with pytest.raises(ValueError, match="identifier"):
        osql.ident(name)


def test_object_names_are_qualified_and_synonyms_rejected():
    assert osql.qualified("V_$DATABASE") == ("SYS", "V_$DATABASE")
    assert osql.qualified("SYSTEM.LOGMNR_COL$") == ("SYSTEM", "LOGMNR_COL$")
    with pytest.raises(ValueError, match="public synonym"):
        osql.qualified("V$DATABASE")
    with pytest.raises(ValueError):
        osql.qualified("A.B.C")


@pytest.mark.parametrize("bad", ['has"quote', "new\nline", "x" * 31, "", "tab\there"])
def test_password_literal_is_validated_without_echoing_it(bad):
    with pytest.raises(ValueError) as e:
        osql.quote_password(bad)
    if bad:
        assert bad not in str(e.value)


def test_password_literal_is_double_quoted():
    assert osql.quote_password("p@ss w0rd!") == '"p@ss w0rd!"'


def test_spec_errors_are_rejected_before_any_sql():
    spec = seed_oracle_spec()
    spec.tables[0].name = "POC;DROP"
    with pytest.raises(ValueError, match="identifier"):
        oplan.desired_statements(spec, user_password=PASSWORD)
    spec = seed_oracle_spec()
    spec.tables[0].columns[1].type = "VARCHAR2(50)); DROP TABLE X; --"
    with pytest.raises(ValueError, match="column type"):
        oplan.desired_statements(spec, user_password=PASSWORD)
    spec = seed_oracle_spec()
    spec.role.object_privileges.append(SimpleNamespace(privilege="DROP", object="SYS.OBJ$"))
    with pytest.raises(ValueError, match="object privilege"):
        oplan.desired_statements(spec, user_password=PASSWORD)


@pytest.mark.parametrize(
    "good,norm", [("varchar2(50)", "VARCHAR2(50)"), ("NUMBER(10, 2)", "NUMBER(10, 2)"), ("TIMESTAMP", "TIMESTAMP"), ("DATE", "DATE")]
)
def test_column_type_accepts_the_spec_allowlist(good, norm):
    assert osql.column_type(good) == norm


@pytest.mark.parametrize("lob", ["CLOB", "NCLOB", "BLOB", "clob"])
def test_column_type_refuses_lobs_the_engines_cannot_read_alike(lob):
    # both CDC flavors deliver LOBs differently (or not at all without extra settings): refused
    with pytest.raises(ValueError, match="unsupported column type"):
        osql.column_type(lob)


def test_statement_refuses_trailing_semicolon():
    with pytest.raises(ValueError, match="trailing"):
        osql.Statement(kind="role", sql="CREATE ROLE X;", display="CREATE ROLE X;")


# ---- desired statements -------------------------------------------------------------------------


def test_grants_from_empty_are_exactly_the_seed_grants():
    stmts = oplan.desired_statements(seed_oracle_spec(), user_password=PASSWORD)
    ours = [s.sql for s in stmts if s.kind == "grant"]
    seed = [_norm_grant(line) for line in SEED_GRANT_STATEMENTS.strip().splitlines()]
    assert len(ours) == len(seed) == 50
    assert sorted(_norm_grant(s) for s in ours) == sorted(seed)
    assert all(s == " ".join(s.split()) for s in ours)  # already canonical: upper-case, SYS-qualified


def test_desired_statements_follow_the_seed_recipe():
    stmts = oplan.desired_statements(seed_oracle_spec(), user_password=PASSWORD)
    by_kind = {}
    for s in stmts:
        by_kind.setdefault(s.kind, []).append(s)
        assert not s.sql.endswith((";", "/")), s.display
    assert [s.sql for s in by_kind["role"]] == ["CREATE ROLE C##CDC_PRIVS"]
    assert [s.display for s in by_kind["user"]] == [
        f"CREATE USER C##MYUSER IDENTIFIED BY {REDACTED} DEFAULT TABLESPACE USERS CONTAINER=ALL",
        "ALTER USER C##MYUSER QUOTA UNLIMITED ON USERS",
    ]
    assert by_kind["user"][0].sql == f'CREATE USER C##MYUSER IDENTIFIED BY "{PASSWORD}" DEFAULT TABLESPACE USERS CONTAINER=ALL'
    assert [s.sql for s in by_kind["table"]] == [
        "CREATE TABLE C##MYUSER.POC_USERDATA (ID VARCHAR2(50) NOT NULL, NAME VARCHAR2(50), PRIMARY KEY (ID))",
        "CREATE TABLE C##MYUSER.POC_CLICKSTREAM (EVENTID VARCHAR2(50) NOT NULL, ID VARCHAR2(50), NAME VARCHAR2(50), "
        "SESSIONID VARCHAR2(50), EVENTTYPE VARCHAR2(50), PAGEURL VARCHAR2(255), EVENTTIMESTAMP TIMESTAMP, PRIMARY KEY (EVENTID))",
    ]
    assert [s.sql for s in by_kind["supplemental_log"]] == [
        "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA",
        "ALTER TABLE C##MYUSER.POC_USERDATA ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS",
        "ALTER TABLE C##MYUSER.POC_CLICKSTREAM ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS",
    ]
    # order: role before its grants, user before its grants, table before its grant and rows
    sqls = [s.sql for s in stmts]
    assert sqls.index("CREATE ROLE C##CDC_PRIVS") == 0
    assert sqls.index("ALTER USER C##MYUSER QUOTA UNLIMITED ON USERS") < sqls.index("GRANT C##CDC_PRIVS TO C##MYUSER CONTAINER=ALL")
    t = sqls.index(by_kind["table"][0].sql)
    assert t < sqls.index("GRANT SELECT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS") < sqls.index(by_kind["seed_rows"][0].sql)


def test_seed_rows_use_binds_and_current_timestamp_as_expression():
    rows = [s for s in oplan.desired_statements(seed_oracle_spec(), user_password=PASSWORD) if s.kind == "seed_rows"]
    assert [(s.sql, dict(s.params)) for s in rows] == [
        ("INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)", {"v1": "101", "v2": "jdoe"}),
        (
            "INSERT INTO C##MYUSER.POC_CLICKSTREAM (EVENTID, ID, NAME, SESSIONID, EVENTTYPE, PAGEURL, EVENTTIMESTAMP) "
            "VALUES (:v1, :v2, :v3, :v4, :v5, :v6, CURRENT_TIMESTAMP)",
            # EVENTID is VARCHAR2 in the seed but given as the number 1: bound as '1', not implicitly converted
            {"v1": "1", "v2": "101", "v3": "jdoe", "v4": "sess456", "v5": "page_view", "v6": "https://example.com/home"},
        ),
    ]
    assert all("jdoe" not in s.sql and "'" not in s.sql for s in rows)
    assert all(s.extra_unchanged_codes == frozenset({1}) for s in rows)  # ORA-00001: the seed row is there


def test_current_timestamp_string_in_a_text_column_is_data_not_sql():
    spec = seed_oracle_spec()
    spec.tables[0].initial_rows = [{"ID": "7", "NAME": "CURRENT_TIMESTAMP"}]
    (row,) = [s for s in oplan.desired_statements(spec, user_password=PASSWORD) if s.kind == "seed_rows" and "USERDATA" in s.sql]
    assert row.sql.endswith("VALUES (:v1, :v2)") and row.params == {"v1": "7", "v2": "CURRENT_TIMESTAMP"}


def test_password_only_in_sql_never_in_display_repr_or_redacted_plan():
    stmts = oplan.desired_statements(seed_oracle_spec(), user_password=PASSWORD)
    holders = [s for s in stmts if PASSWORD in s.sql]
    assert [s.kind for s in holders] == ["user"] and holders[0].secrets == frozenset({PASSWORD})
    for s in stmts:
        assert PASSWORD not in s.display and PASSWORD not in repr(s) and PASSWORD not in str(s)
    assert PASSWORD not in repr(oplan.redacted_plan(stmts))


# ---- probes and plan ----------------------------------------------------------------------------


def test_probes_use_binds_for_every_spec_value():
    probes = ocat.catalog_probes(seed_oracle_spec())
    assert [p.name for p in probes] == [
        "roles",
        "users",
        "quotas",
        "tables",
        "sys_privs",
        "tab_privs",
        "role_privs",
        "database",
        "log_groups",
        "primary_keys",
    ]
    views = " ".join(p.sql for p in probes)
    for view in (
        "DBA_ROLES",
        "DBA_USERS",
        "DBA_TABLES",
        "DBA_SYS_PRIVS",
        "DBA_TAB_PRIVS",
        "DBA_ROLE_PRIVS",
        "V$DATABASE",
        "DBA_LOG_GROUPS",
        "ALL_CONSTRAINTS",
        "ALL_CONS_COLUMNS",
    ):
        assert view in views
    for p in probes:
        assert "C##" not in p.sql and not p.sql.endswith(";")
    assert {p.name: p.params for p in probes}["sys_privs"] == {"g1": "C##CDC_PRIVS", "g2": "C##MYUSER"}


def test_plan_on_complete_catalog_is_empty():
    spec = seed_oracle_spec()
    assert oplan.plan(spec, _complete_state(spec)) == []


def test_plan_returns_only_what_is_missing():
    spec = seed_oracle_spec()
    results = _complete_results(spec)
    results["tab_privs"] = [r for r in results["tab_privs"] if r["TABLE_NAME"] != "V_$DATABASE"]
    results["log_groups"] = [r for r in results["log_groups"] if r["TABLE_NAME"] != "POC_CLICKSTREAM"]
    state = ocat.parse_catalog(results)
    ocat.apply_row_probe_results(spec, state, {p.name: [{"N": 0 if "CLICK" in p.name else 1}] for p in ocat.row_probes(spec, state)})
    got = [(s.kind, s.display) for s in oplan.plan(spec, state)]
    assert got == [
        ("grant", "GRANT SELECT ON SYS.V_$DATABASE TO C##CDC_PRIVS"),
        ("supplemental_log", "ALTER TABLE C##MYUSER.POC_CLICKSTREAM ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS"),
        (
            "seed_rows",
            "INSERT INTO C##MYUSER.POC_CLICKSTREAM (EVENTID, ID, NAME, SESSIONID, EVENTTYPE, PAGEURL, EVENTTIMESTAMP) "
            "VALUES (:v1, :v2, :v3, :v4, :v5, :v6, CURRENT_TIMESTAMP)",
        ),
    ]


def test_common_grant_satisfies_local_but_not_the_other_way_round():
    spec = seed_oracle_spec()
    results = _complete_results(spec)
    # only the common FLASHBACK ANY TABLE row; CREATE TABLE granted locally although the spec says CONTAINER=ALL
    results["sys_privs"] = [r for r in results["sys_privs"] if not (r["PRIVILEGE"] == "FLASHBACK ANY TABLE" and r["COMMON"] == "NO")]
    for r in results["sys_privs"]:
        if r["PRIVILEGE"] == "CREATE TABLE":
            r["COMMON"] = "NO"
    state = ocat.parse_catalog(results)
    ocat.apply_row_probe_results(spec, state, {p.name: [{"N": 1}] for p in ocat.row_probes(spec, state)})
    assert [s.sql for s in oplan.plan(spec, state)] == ["GRANT CREATE TABLE TO C##MYUSER CONTAINER=ALL"]
    passed, details = ocat.check_user_grants(spec, state)
    assert not passed and details["missing_system_privileges"] == ["CREATE TABLE (CONTAINER=ALL)"]


def test_plan_needs_a_password_only_to_create_the_user():
    spec = seed_oracle_spec()
    with pytest.raises(ValueError, match="C##MYUSER does not exist"):
        oplan.plan(spec, ocat.CatalogState())
    assert oplan.plan(spec, _complete_state(spec)) == []  # no password needed when the user exists


def test_plan_refuses_to_guess_rows_of_existing_tables_that_were_not_probed():
    spec = seed_oracle_spec()
    state = ocat.parse_catalog(_complete_results(spec))
    with pytest.raises(ValueError, match="not probed"):
        oplan.plan(spec, state)


def test_row_probes_bind_the_primary_key_as_stored():
    spec = seed_oracle_spec()
    state = ocat.parse_catalog(_complete_results(spec))
    probes = ocat.row_probes(spec, state)
    assert [(p.sql, p.params) for p in probes] == [
        ("SELECT COUNT(*) AS N FROM C##MYUSER.POC_USERDATA WHERE ID = :k1", {"k1": "101"}),
        ("SELECT COUNT(*) AS N FROM C##MYUSER.POC_CLICKSTREAM WHERE EVENTID = :k1", {"k1": "1"}),
    ]


def test_read_catalog_runs_every_probe_through_the_query_callable():
    spec = seed_oracle_spec()
    results = _complete_results(spec)
    seen: list[str] = []

    def query(sql, params):
        seen.append(sql)
        name = next((p.name for p in ocat.catalog_probes(spec) if p.sql == sql), None)
        return results[name] if name else [{"N": 1}]

    state = ocat.read_catalog(spec, query)
    assert len(seen) == 10 + 2
    assert oplan.plan(spec, state) == []


# ---- checks -------------------------------------------------------------------------------------


def test_checks_pass_on_a_complete_catalog():
    spec = seed_oracle_spec()
    state = _complete_state(spec)
    for check in (ocat.check_supplemental_logging, ocat.check_role_grants, ocat.check_user_grants, ocat.check_primary_keys):
        passed, details = check(spec, state)
        assert passed, details
    assert ocat.check_archivelog(state) == (True, {"log_mode": "ARCHIVELOG"})


def test_archivelog_check_fails_on_noarchivelog_and_says_how_to_fix():
    state = _complete_state(seed_oracle_spec())
    state.log_mode = "NOARCHIVELOG"
    passed, details = ocat.check_archivelog(state)
    assert not passed
    assert details["log_mode"] == "NOARCHIVELOG" and "NOARCHIVELOG" in details["problem"]
    assert "ALTER DATABASE ARCHIVELOG" in details["remedy"]


def test_role_check_lists_each_missing_grant_by_kind():
    spec = seed_oracle_spec()
    results = _complete_results(spec)
    results["tab_privs"] = [r for r in results["tab_privs"] if r["TABLE_NAME"] not in ("V_$DATABASE", "POC_USERDATA")]
    results["sys_privs"] = [r for r in results["sys_privs"] if r["PRIVILEGE"] != "LOGMINING"]
    results["role_privs"] = [r for r in results["role_privs"] if r["GRANTED_ROLE"] != "EXECUTE_CATALOG_ROLE"]
    passed, details = ocat.check_role_grants(spec, ocat.parse_catalog(results))
    assert not passed
    assert details["missing_object_privileges"] == ["SELECT ON SYS.V_$DATABASE", "SELECT ON C##MYUSER.POC_USERDATA"]
    assert details["missing_system_privileges"] == ["LOGMINING"]
    assert details["missing_roles"] == ["EXECUTE_CATALOG_ROLE"]
    assert "SELECT ON SYS.V_$DATABASE" in details["problem"] and details["expected_grants"] == 41


def test_role_check_fails_when_the_role_is_missing():
    spec = seed_oracle_spec()
    passed, details = ocat.check_role_grants(spec, ocat.CatalogState())
    assert not passed and details["exists"] is False and "does not exist" in details["problem"]


def test_supplemental_logging_check():
    spec = seed_oracle_spec()
    state = _complete_state(spec)
    state.log_groups.discard(("C##MYUSER", "POC_USERDATA", "ALL COLUMN LOGGING"))
    passed, details = ocat.check_supplemental_logging(spec, state)
    assert not passed and details["tables_without_all_column_logging"] == ["C##MYUSER.POC_USERDATA"]
    state.supplemental_log_data_all = "YES"  # database-wide all-column logging covers every table
    assert ocat.check_supplemental_logging(spec, state)[0]
    state.supplemental_log_data_min = "NO"
    passed, details = ocat.check_supplemental_logging(spec, state)
    assert not passed and "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA" in details["problem"]


def test_primary_key_check_names_tables_without_a_key():
    spec = seed_oracle_spec()
    state = _complete_state(spec)
    del state.primary_keys[("C##MYUSER", "POC_CLICKSTREAM")]
    passed, details = ocat.check_primary_keys(spec, state)
    assert not passed
    assert details["tables_without_primary_key"] == ["C##MYUSER.POC_CLICKSTREAM"]
    assert "C##MYUSER.POC_CLICKSTREAM" in details["problem"]
    state.tables.discard(("C##MYUSER", "POC_USERDATA"))
    assert ocat.check_primary_keys(spec, state)[1]["missing_tables"] == ["C##MYUSER.POC_USERDATA"]
