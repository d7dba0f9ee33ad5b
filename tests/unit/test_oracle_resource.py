"""resources/oracle.py against the in-memory Oracle double (tests/doubles/oracle_*.py), and the double
against the recorded driver contract (tests/contract_samples/oracle/errors.json)."""

from __future__ import annotations

import json
import logging
import re
import socket
import traceback
from pathlib import Path

import dagster as dg
import oracledb
import pytest
from oracledb import errors as driver_errors

from pipeline_defs.systems.oracle import catalog as ocat
from pipeline_defs.systems.oracle import plan as oplan
from resources.errors import ResourceError, Unreachable
from resources.oracle import (
    ALREADY_EXISTS_CODES,
    OracleAuthenticationError,
    OracleClient,
    OracleConfigError,
    OraclePrivilegeError,
    OracleResource,
    OracleServiceNotFound,
    OracleStatementError,
    OracleUnreachable,
)

# also marked by the pytest plugin tests.doubles.oracle_fixtures
pytest.register_assert_rewrite(
    "tests.doubles.oracle_database", "tests.doubles.oracle_errors", "tests.doubles.oracle_registry", "tests.doubles.oracle_seed"
)

from tests.doubles.oracle_database import FakeOracleDatabase
from tests.doubles.oracle_errors import UnmodelledStatement, ora_error, raw_ora_error
from tests.doubles.oracle_registry import TEST_ADMIN_PASSWORD, TEST_USER_PASSWORD, DoubleOracleResource, double_resource
from tests.doubles.oracle_seed import SEED_GRANT_STATEMENTS, seed_oracle_spec

pytestmark = pytest.mark.unit
pytest_plugins = ["tests.doubles.oracle_fixtures"]

SAMPLES = json.loads((Path(__file__).resolve().parents[1] / "contract_samples" / "oracle" / "errors.json").read_text())
WRONG_PASSWORD = "Wrong-Pw-5d6e7f"
SECRETS = (TEST_USER_PASSWORD, TEST_ADMIN_PASSWORD, WRONG_PASSWORD)


def provision(resource: OracleResource) -> list:
    spec = seed_oracle_spec()
    with resource.admin_client() as admin:
        state = ocat.read_catalog(spec, admin.query)
        return admin.apply(oplan.plan(spec, state, user_password=resource.password))


def read_state(client: OracleClient):
    return ocat.read_catalog(seed_oracle_spec(), client.query)


def seed_grant_tuples() -> set[tuple]:
    """The seed's GRANT lines as catalog tuples (FakeOracleDatabase.grants_of format), run as SYS."""
    roles = {"EXECUTE_CATALOG_ROLE", "CONNECT", "C##CDC_PRIVS"}
    out = set()
    for line in SEED_GRANT_STATEMENTS.strip().splitlines():
        s = " ".join(line.split()).upper()
        common = s.endswith(" CONTAINER=ALL")
        s = s.removesuffix(" CONTAINER=ALL")
        m = re.fullmatch(r"GRANT (\w+) ON (\S+) TO (\S+)", s)
        if m:
            owner, _, name = m.group(2).rpartition(".")
            out.add((m.group(3), "object", m.group(1), owner or "SYS", name, common))
            continue
        what, grantee = re.fullmatch(r"GRANT (.+) TO (\S+)", s).groups()
        out.add((grantee, "role" if what in roles else "system", what, common))
    return out


def catalog_grant_tuples(db: FakeOracleDatabase) -> set[tuple]:
    out = set()
    for grantee in ("C##CDC_PRIVS", "C##MYUSER"):
        out |= {(grantee, *g) for g in db.grants_of(grantee)}
    return out


def raw_pool(db: FakeOracleDatabase, user: str, password: str, *, sysdba: bool = False, **where):
    params = dict(host=db.host, port=db.port, service_name="ORCLCDB", user=user, min=0, max=2, increment=1)
    params.update(where)
    if sysdba:
        params["mode"] = oracledb.AUTH_MODE_SYSDBA
    return db.create_pool(params=oracledb.PoolParams(**params), password=password)


def raw_exec(pool, sql: str, params=None) -> None:
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        conn.commit()


def closed_local_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, never listen()ed, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- provisioning -------------------------------------------------------------------------------


def test_provisioning_from_empty_produces_exactly_the_seed_grants(oracle_db, oracle_resource):
    results = provision(oracle_resource)
    assert {r.outcome for r in results} == {"applied"}
    assert catalog_grant_tuples(oracle_db) == seed_grant_tuples()
    assert len(seed_grant_tuples()) == 50
    user = oracle_db.users["C##MYUSER"]
    assert (user.default_tablespace, user.common) == ("USERS", True)
    assert oracle_db.roles["C##CDC_PRIVS"].common is True
    assert oracle_db.quotas[("C##MYUSER", "USERS")] == -1
    userdata = oracle_db.tables[("C##MYUSER", "POC_USERDATA")]
    clicks = oracle_db.tables[("C##MYUSER", "POC_CLICKSTREAM")]
    assert (userdata.pk_columns, clicks.pk_columns) == (("ID",), ("EVENTID",))
    assert userdata.rows == [{"ID": "101", "NAME": "jdoe"}]
    assert len(clicks.rows) == 1 and clicks.rows[0]["EVENTID"] == "1" and clicks.rows[0]["EVENTTIMESTAMP"] is not None
    assert set(userdata.log_groups.values()) == set(clicks.log_groups.values()) == {"ALL COLUMN LOGGING"}
    assert oracle_db.supplemental_log_data_min == "YES"
    # the provisioned user can log on (CREATE SESSION through the role) and read its tables
    with oracle_resource.client() as c:
        assert c.query("SELECT ID, NAME FROM C##MYUSER.POC_USERDATA") == [{"ID": "101", "NAME": "jdoe"}]


def test_second_provisioning_run_executes_no_ddl(oracle_db, oracle_resource):
    provision(oracle_resource)
    ddl_after_first = len(oracle_db.ddl_statements())
    logged_before = len(oracle_db.statement_log)
    assert ddl_after_first == 58
    assert provision(oracle_resource) == []
    assert len(oracle_db.ddl_statements()) == ddl_after_first
    second = oracle_db.statement_log[logged_before:]
    assert second and {s.verb for s in second} == {"SELECT"}
    assert [len(t.rows) for t in oracle_db.tables.values()] == [1, 1]


def test_first_run_ddl_count_is_what_the_seed_needs(oracle_db, oracle_resource):
    provision(oracle_resource)
    verbs = [" ".join(s.sql.split()[:2]) for s in oracle_db.ddl_statements()]
    assert verbs.count("CREATE ROLE") == 1 and verbs.count("CREATE USER") == 1 and verbs.count("CREATE TABLE") == 2
    assert sum(v.startswith("GRANT") for v in verbs) == 50
    assert verbs.count("ALTER USER") == 1 and verbs.count("ALTER TABLE") == 2 and verbs.count("ALTER DATABASE") == 1
    assert len(verbs) == 58  # 1 role + 50 grants + user + quota + database and 2 table supplemental logs + 2 tables
    assert [s.error for s in oracle_db.statement_log if s.error] == []


def test_rerunning_every_statement_reports_existing_objects_as_unchanged(oracle_db, oracle_resource):
    provision(oracle_resource)
    everything = oplan.desired_statements(seed_oracle_spec(), user_password=TEST_USER_PASSWORD)
    mark = len(oracle_db.statement_log)
    with oracle_resource.admin_client() as admin:
        outcomes = {s.display: admin.run(s) for s in everything}
    by_first_word = {}
    for s in everything:
        by_first_word.setdefault((s.kind, outcomes[s.display]), 0)
        by_first_word[(s.kind, outcomes[s.display])] += 1
    assert by_first_word == {
        ("role", "unchanged"): 1,  # ORA-01921
        ("user", "unchanged"): 1,  # ORA-01920 (CREATE USER)
        ("user", "applied"): 1,  # ALTER USER ... QUOTA is idempotent
        ("grant", "applied"): 50,  # re-granting succeeds silently in Oracle
        ("supplemental_log", "applied"): 1,  # ALTER DATABASE ADD SUPPLEMENTAL LOG DATA: silent
        ("supplemental_log", "unchanged"): 2,  # ORA-32588
        ("table", "unchanged"): 2,  # ORA-00955
        ("seed_rows", "unchanged"): 2,  # ORA-00001 on the primary key
    }
    errors = sorted(s.error for s in oracle_db.statement_log[mark:] if s.error)
    assert errors == ["ORA-00001", "ORA-00001", "ORA-00955", "ORA-00955", "ORA-01920", "ORA-01921", "ORA-32588", "ORA-32588"]
    assert [len(t.rows) for t in oracle_db.tables.values()] == [1, 1]
    assert catalog_grant_tuples(oracle_db) == seed_grant_tuples()


@pytest.mark.parametrize("code", sorted(ALREADY_EXISTS_CODES))
def test_every_already_exists_code_is_unchanged(oracle_db, oracle_resource, code):
    provision(oracle_resource)
    text = {1430: "column being added already exists in table", 2275: "such a referential constraint already exists in the table"}
    oracle_db.inject_error(r"^CREATE ROLE", lambda: raw_ora_error(code, text.get(code, "already exists")))
    with oracle_resource.admin_client() as admin:
        assert admin.execute("CREATE ROLE C##OTHER") == "unchanged"
    assert oracle_db.statement_log[-1].error == f"ORA-{code:05d}"
    assert "C##OTHER" not in oracle_db.roles


def test_unique_violation_is_an_error_outside_seed_rows(oracle_db, oracle_resource):
    provision(oracle_resource)
    with oracle_resource.admin_client() as admin:
        with pytest.raises(OracleStatementError) as e:
            admin.execute("INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)", {"v1": "101", "v2": "dup"})
    assert e.value.full_code == "ORA-00001" and "unique constraint" in str(e.value)


def test_provisioning_repairs_only_what_was_removed(oracle_db, oracle_resource):
    provision(oracle_resource)
    assert oracle_db.drop_grant("C##CDC_PRIVS", "SELECT", "SYS.V_$DATABASE") == 1
    assert oracle_db.drop_grant("C##CDC_PRIVS", "LOGMINING") == 1
    oracle_db.drop_log_group("C##MYUSER", "POC_CLICKSTREAM")
    oracle_db.drop_table_rows("C##MYUSER", "POC_USERDATA")
    results = provision(oracle_resource)
    assert [(r.kind, r.display, r.outcome) for r in results] == [
        ("grant", "GRANT LOGMINING TO C##CDC_PRIVS", "applied"),
        ("grant", "GRANT SELECT ON SYS.V_$DATABASE TO C##CDC_PRIVS", "applied"),
        ("seed_rows", "INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)", "applied"),
        ("supplemental_log", "ALTER TABLE C##MYUSER.POC_CLICKSTREAM ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS", "applied"),
    ]
    assert catalog_grant_tuples(oracle_db) == seed_grant_tuples()


# ---- checks -------------------------------------------------------------------------------------


def _all_checks(spec, state):
    return {
        "archivelog": ocat.check_archivelog(state),
        "supplemental": ocat.check_supplemental_logging(spec, state),
        "role": ocat.check_role_grants(spec, state),
        "user": ocat.check_user_grants(spec, state),
        "pk": ocat.check_primary_keys(spec, state),
    }


def test_checks_pass_on_the_provisioned_catalog_as_the_cdc_user(provisioned_oracle, oracle_resource):
    with oracle_resource.client() as c:  # C##MYUSER reads DBA_* through SELECT ANY DICTIONARY in its role
        checks = _all_checks(seed_oracle_spec(), read_state(c))
    assert {k: v[0] for k, v in checks.items()} == dict.fromkeys(checks, True), checks


def test_role_check_names_the_dropped_grant(provisioned_oracle, oracle_resource):
    provisioned_oracle.drop_grant("C##CDC_PRIVS", "SELECT", "SYS.V_$DATABASE")
    with oracle_resource.client() as c:
        passed, details = ocat.check_role_grants(seed_oracle_spec(), read_state(c))
    assert not passed
    assert details["missing_object_privileges"] == ["SELECT ON SYS.V_$DATABASE"]
    assert details["missing_system_privileges"] == [] and details["missing_roles"] == []
    assert "SELECT ON SYS.V_$DATABASE" in details["problem"]


def test_archivelog_check_fails_on_noarchivelog_and_is_not_planned(provisioned_oracle, oracle_resource):
    provisioned_oracle.set_log_mode("NOARCHIVELOG")
    with oracle_resource.admin_client() as admin:
        state = read_state(admin)
    passed, details = ocat.check_archivelog(state)
    assert not passed and details["log_mode"] == "NOARCHIVELOG" and "NOARCHIVELOG" in details["problem"]
    assert oplan.plan(seed_oracle_spec(), state) == []  # needs an instance restart: reported, never attempted


def test_primary_key_and_supplemental_checks_detect_corruption(provisioned_oracle, oracle_resource):
    provisioned_oracle.drop_primary_key("C##MYUSER", "POC_USERDATA")
    provisioned_oracle.set_supplemental_logging(minimal="NO")
    with oracle_resource.client() as c:
        state = read_state(c)
    spec = seed_oracle_spec()
    pk_ok, pk = ocat.check_primary_keys(spec, state)
    sup_ok, sup = ocat.check_supplemental_logging(spec, state)
    assert not pk_ok and pk["tables_without_primary_key"] == ["C##MYUSER.POC_USERDATA"]
    assert not sup_ok and sup["supplemental_log_data_min"] == "NO"


# ---- connection errors --------------------------------------------------------------------------


def test_listener_down_is_unreachable_and_names_the_endpoint(oracle_db, oracle_resource):
    oracle_db.listener_down = True
    with pytest.raises(OracleUnreachable) as e, oracle_resource.client() as c:
        c.ping()
    msg = str(e.value)
    assert isinstance(e.value, Unreachable) and isinstance(e.value, ResourceError)
    assert "oracle:1521" in msg and "service ORCLCDB" in msg and "DPY-6005" in msg and "Connection refused" in msg
    assert (e.value.host, e.value.port, e.value.full_code) == ("oracle", 1521, "DPY-6005")


def test_unknown_host_is_unreachable(oracle_db):
    r = double_resource(oracle_db, oracle_db.key, host="no-such-host")
    with pytest.raises(OracleUnreachable, match=r"no-such-host:1521 \(service ORCLCDB\).*Name or service not known"):
        r.get_client().ping()


def test_unknown_service_names_host_port_and_service(oracle_db):
    r = double_resource(oracle_db, oracle_db.key, service_name="NOPE")
    with pytest.raises(OracleServiceNotFound) as e:
        r.get_client().ping()
    msg = str(e.value)
    assert "oracle:1521" in msg and "service NOPE" in msg and "DPY-6001" in msg and "ORACLE_SERVICE_NAME" in msg


def test_unknown_sid_names_the_sid(oracle_db):
    r = double_resource(oracle_db, oracle_db.key, service_name=None, sid="NOPE")
    with pytest.raises(OracleServiceNotFound, match=r"oracle:1521 \(SID NOPE\).*DPY-6003"):
        r.get_client().ping()
    ok = double_resource(oracle_db, oracle_db.key, service_name=None, sid="ORCLCDB", user="SYSTEM", password=TEST_ADMIN_PASSWORD)
    with ok.client() as c:
        assert c.query("SELECT 1 AS OK FROM DUAL") == [{"OK": 1}]


def test_bad_password_is_an_authentication_error(provisioned_oracle):
    r = double_resource(provisioned_oracle, provisioned_oracle.key, password=WRONG_PASSWORD)
    with pytest.raises(OracleAuthenticationError) as e:
        r.get_client().ping()
    msg = str(e.value)
    assert "ORA-01017" in msg and "C##MYUSER" in msg and "oracle:1521" in msg and "service ORCLCDB" in msg
    assert e.value.full_code == "ORA-01017"


def test_sys_without_sysdba_and_user_without_create_session(oracle_db):
    with pytest.raises(OracleAuthenticationError, match="ORA-28009.*as_sysdba"):
        double_resource(oracle_db, oracle_db.key, as_sysdba=False).get_admin_client().ping()
    with pytest.raises(OracleAuthenticationError, match=r"SYSTEM AS SYSDBA \[ORA-01017"):  # SYSDBA is for SYS only here
        double_resource(oracle_db, oracle_db.key, admin_user="SYSTEM").get_admin_client().ping()
    provision(double_resource(oracle_db, oracle_db.key))
    oracle_db.drop_grant("C##MYUSER", "C##CDC_PRIVS")
    oracle_db.drop_grant("C##MYUSER", "CONNECT")
    with pytest.raises(OracleAuthenticationError, match="ORA-01045"):
        double_resource(oracle_db, oracle_db.key).get_client().ping()


def test_real_driver_no_listener_becomes_oracle_unreachable():
    port = closed_local_port()
    r = OracleResource(
        host="127.0.0.1", port=port, service_name="ORCLCDB", user="C##MYUSER", password=TEST_USER_PASSWORD, timeout_seconds=2
    )
    with pytest.raises(OracleUnreachable) as e:
        r.get_client().ping()
    assert f"127.0.0.1:{port} (service ORCLCDB)" in str(e.value) and e.value.full_code == "DPY-6005"
    assert TEST_USER_PASSWORD not in str(e.value)


def test_admin_client_needs_an_admin_password_and_one_addressing_mode(oracle_db):
    with pytest.raises(OracleConfigError, match="ORACLE_ADMIN_PASSWORD"):
        double_resource(oracle_db, oracle_db.key, admin_password=None).get_admin_client()
    with pytest.raises(OracleConfigError, match="either service_name or sid"):
        double_resource(oracle_db, oracle_db.key, sid="ORCLCDB").get_client()


def test_endpoint_defaults_come_from_endpoints_settings(monkeypatch, oracle_db):
    monkeypatch.setenv("ORACLE_HOST", "oracle")
    monkeypatch.setenv("ORACLE_PORT", "1521")
    r = DoubleOracleResource(database_key=oracle_db.key, password=TEST_USER_PASSWORD, admin_password=TEST_ADMIN_PASSWORD, as_sysdba=True)
    t = r.target()
    assert (t.host, t.port, t.service_name, t.sid, t.user) == ("oracle", 1521, "ORCLCDB", None, "C##MYUSER")
    assert (r.admin_target().user, r.admin_target().sysdba) == ("sys", True)
    params = t.pool_params(pool_max=2)
    assert isinstance(params, oracledb.PoolParams) and (params.max, params.service_name) == (2, "ORCLCDB")


# ---- statements ---------------------------------------------------------------------------------


def test_privilege_error_names_the_statement(provisioned_oracle, oracle_resource):
    with oracle_resource.client() as c, pytest.raises(OraclePrivilegeError) as e:
        c.execute("CREATE ROLE C##SNEAKY")
    assert "ORA-01031" in str(e.value) and "CREATE ROLE C##SNEAKY" in str(e.value) and "C##MYUSER" in str(e.value)


def test_query_returns_dicts_and_dictionary_is_hidden_without_privilege(oracle_db, oracle_resource):
    provision(oracle_resource)
    with oracle_resource.client() as c:
        rows = c.query("SELECT LOG_MODE, SUPPLEMENTAL_LOG_DATA_MIN FROM V$DATABASE")
    assert rows == [{"LOG_MODE": "ARCHIVELOG", "SUPPLEMENTAL_LOG_DATA_MIN": "YES"}]
    oracle_db.drop_grant("C##CDC_PRIVS", "SELECT ANY DICTIONARY")
    oracle_db.drop_grant("C##CDC_PRIVS", "SELECT", "SYS.V_$DATABASE")
    with oracle_resource.client() as c, pytest.raises(OracleStatementError, match="ORA-00942"):
        c.query("SELECT LOG_MODE FROM V$DATABASE")


def test_trailing_semicolon_is_refused_before_reaching_the_database(oracle_db, oracle_resource):
    with oracle_resource.admin_client() as admin:
        for call in (lambda: admin.execute("CREATE ROLE C##X;"), lambda: admin.query("SELECT 1 AS OK FROM DUAL;")):
            with pytest.raises(ValueError, match="must not end with ';'"):
                call()
    assert oracle_db.statement_log == []


def test_execute_commits_and_execute_many_binds_rows(provisioned_oracle, oracle_resource):
    sql = "INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)"
    with oracle_resource.client() as c:
        assert c.execute(sql, {"v1": "102", "v2": "rsmith"}) == "applied"
        assert c.execute_many(sql, [{"v1": "103", "v2": "amary"}, {"v1": "104", "v2": "jwick"}, {"v1": "105", "v2": "jcena"}]) == 3
    # new pool, new session: the rows were committed (the double rolls back uncommitted work on release)
    with oracle_resource.client() as c:
        names = [r["NAME"] for r in c.query("SELECT NAME FROM C##MYUSER.POC_USERDATA ORDER BY ID")]
    assert names == ["jdoe", "rsmith", "amary", "jwick", "jcena"]


def test_double_rolls_back_uncommitted_work_and_rejects_unmodelled_sql(provisioned_oracle):
    pool = raw_pool(provisioned_oracle, "C##MYUSER", TEST_USER_PASSWORD)
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)", {"v1": "999", "v2": "ghost"})
    assert len(provisioned_oracle.tables[("C##MYUSER", "POC_USERDATA")].rows) == 1
    for sql in (
        "DELETE FROM C##MYUSER.POC_USERDATA",
        "GRANT SELECT, INSERT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS",
        "SELECT * FROM C##MYUSER.POC_USERDATA",
        "SELECT NAME FROM DBA_SEGMENTS",
    ):
        with pytest.raises(UnmodelledStatement):
            raw_exec(pool, sql)


def test_ddl_with_binds_and_missing_binds_fail_like_the_driver(provisioned_oracle):
    pool = raw_pool(provisioned_oracle, "SYS", TEST_ADMIN_PASSWORD, sysdba=True)
    with pytest.raises(oracledb.DatabaseError) as e:
        raw_exec(pool, "CREATE ROLE C##X", {"x": 1})
    assert e.value.args[0].full_code == "ORA-01027"
    with pytest.raises(oracledb.DatabaseError) as e:
        raw_exec(pool, "SELECT COUNT(*) AS N FROM C##MYUSER.POC_USERDATA WHERE ID = :k1", {})
    assert e.value.args[0].full_code == "DPY-4010"


# ---- secrets ------------------------------------------------------------------------------------


def _texts_of(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))]


def _assert_clean(*texts: str) -> None:
    for t in texts:
        for s in SECRETS:
            assert s not in t, f"secret leaked into: {t[:300]}"


def _failure_paths(db: FakeOracleDatabase):
    key = db.key
    create_user = oplan.create_user_statement(seed_oracle_spec(), TEST_USER_PASSWORD)

    def listener_down():
        db.listener_down = True
        try:
            double_resource(db, key).get_admin_client().ping()
        finally:
            db.listener_down = False

    def echoing_statement_error():
        # a server message that echoes the statement, password included, must come out scrubbed
        db.inject_error(r"^CREATE USER", lambda: raw_ora_error(922, f"missing or invalid option near {create_user.sql}"))
        double_resource(db, key).get_admin_client().run(create_user)

    def echoing_admin_password():
        db.inject_error(r"^SELECT 1", lambda: raw_ora_error(604, f"error at recursive SQL level 1 ({TEST_ADMIN_PASSWORD})"))
        double_resource(db, key).get_admin_client().ping()

    return {
        "listener_down": listener_down,
        "unknown_service": lambda: double_resource(db, key, service_name="NOPE").get_client().ping(),
        "unknown_sid": lambda: double_resource(db, key, service_name=None, sid="NOPE").get_client().ping(),
        "unknown_host": lambda: double_resource(db, key, host="elsewhere").get_client().ping(),
        "bad_user_password": lambda: double_resource(db, key, password=WRONG_PASSWORD).get_client().ping(),
        "bad_admin_password": lambda: double_resource(db, key, admin_password=WRONG_PASSWORD).get_admin_client().ping(),
        "sys_without_sysdba": lambda: double_resource(db, key, as_sysdba=False).get_admin_client().ping(),
        "privilege": lambda: double_resource(db, key).get_client().execute("CREATE ROLE C##X"),
        "missing_table": lambda: double_resource(db, key).get_client().query("SELECT COUNT(*) AS N FROM C##MYUSER.NOPE"),
        "echoing_statement_error": echoing_statement_error,
        "echoing_admin_password": echoing_admin_password,
        "no_admin_password": lambda: double_resource(db, key, admin_password=None).get_admin_client(),
    }


def test_passwords_never_appear_in_errors_reprs_or_logs(provisioned_oracle, caplog):
    caplog.set_level(logging.DEBUG)
    db = provisioned_oracle
    r = double_resource(db, db.key)
    # success paths: provisioning (creates the user with its password), checks, queries
    db.drop_grant("C##MYUSER", "CONNECT")
    provision(r)
    with r.client() as c:
        _all_checks(seed_oracle_spec(), read_state(c))
        _assert_clean(repr(c), str(c))
    _assert_clean(repr(r), str(r), repr(r.admin_target()), repr(r.get_admin_client()))
    plan = oplan.desired_statements(seed_oracle_spec(), user_password=TEST_USER_PASSWORD)
    _assert_clean(repr(plan), repr(oplan.redacted_plan(plan)), "\n".join(s.display for s in plan))

    seen = []
    for name, path in _failure_paths(db).items():
        with pytest.raises(ResourceError) as e:
            path()
        seen.append((name, type(e.value).__name__))
        _assert_clean(*_texts_of(e.value))
        assert e.value.__cause__ is None and e.value.__context__ is None, name  # driver exception not chained
    assert [n for n, _ in seen] == list(_failure_paths(db))
    assert dict(seen)["echoing_statement_error"] == "OracleStatementError"
    assert dict(seen)["bad_admin_password"] == "OracleAuthenticationError"

    assert caplog.records, "the client logs what it runs"
    _assert_clean(caplog.text, *(rec.getMessage() for rec in caplog.records))
    _assert_clean(*(s.sql for s in db.statement_log))  # even the double's own log masks IDENTIFIED BY


def test_dagster_envvar_password_resolves_and_stays_hidden(oracle_db, monkeypatch):
    monkeypatch.setenv("ORACLE_PASSWORD", TEST_USER_PASSWORD)
    monkeypatch.setenv("ORACLE_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
    resource = DoubleOracleResource(
        database_key=oracle_db.key,
        host="oracle",
        port=1521,
        password=dg.EnvVar("ORACLE_PASSWORD"),
        admin_user="SYS",
        admin_password=dg.EnvVar("ORACLE_ADMIN_PASSWORD"),
        as_sysdba=True,
    )
    with dg.build_resources({"oracle": resource}) as res:
        oracle = res.oracle
        _assert_clean(repr(oracle), str(oracle))
        assert provision(oracle)  # EnvVar resolved: SYS logged on, C##MYUSER created with the env password
        with oracle.client() as c:
            assert c.query("SELECT 1 AS OK FROM DUAL") == [{"OK": 1}]


# ---- the double against the recorded driver contract --------------------------------------------


def _trigger(sample_id: str, db: FakeOracleDatabase) -> None:
    admin = raw_pool(db, "SYS", TEST_ADMIN_PASSWORD, sysdba=True)
    user = raw_pool(db, "C##MYUSER", TEST_USER_PASSWORD)
    ddl = {
        "role_exists": "CREATE ROLE C##CDC_PRIVS",
        "user_exists": 'CREATE USER C##MYUSER IDENTIFIED BY "x" DEFAULT TABLESPACE USERS CONTAINER=ALL',
        "object_exists": "CREATE TABLE C##MYUSER.POC_USERDATA (ID VARCHAR2(50) NOT NULL, NAME VARCHAR2(50), PRIMARY KEY (ID))",
        "supplemental_log_exists": "ALTER TABLE C##MYUSER.POC_USERDATA ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS",
        "invalid_common_name": 'CREATE USER MYUSER IDENTIFIED BY "x" DEFAULT TABLESPACE USERS',
        "trailing_semicolon": "SELECT 1 AS OK FROM DUAL;",
    }
    if sample_id in ddl:
        return raw_exec(admin, ddl[sample_id])
    if sample_id == "seed_row_exists":
        return raw_exec(admin, "INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:v1, :v2)", {"v1": "101", "v2": "x"})
    if sample_id == "no_such_table":
        return raw_exec(user, "SELECT COUNT(*) AS N FROM C##MYUSER.NOPE")
    if sample_id == "insufficient_privileges":
        return raw_exec(user, "CREATE ROLE C##X")
    if sample_id == "bad_credentials":
        return raw_pool(db, "C##MYUSER", WRONG_PASSWORD).acquire()
    if sample_id == "sys_without_sysdba":
        return raw_pool(db, "SYS", TEST_ADMIN_PASSWORD).acquire()
    if sample_id == "no_listener":
        db.listener_down = True
        return user.acquire()
    if sample_id == "unknown_service":
        return raw_pool(db, "C##MYUSER", TEST_USER_PASSWORD, service_name="NOPE").acquire()
    if sample_id == "unknown_sid":
        return raw_pool(db, "C##MYUSER", TEST_USER_PASSWORD, service_name=None, sid="NOPE").acquire()
    if sample_id == "pool_params_required":
        return db.create_pool(params=oracledb.ConnectParams(host="oracle", port=1521, service_name="ORCLCDB"), password="x")
    raise AssertionError(f"no trigger for contract sample {sample_id}")


def _assert_matches_sample(exc: BaseException, sample: dict) -> None:
    err = exc.args[0]
    assert len(exc.args) == 1 and isinstance(err, oracledb._Error)
    assert type(exc).__name__ == sample["exception_class"]
    assert (err.full_code, err.code) == (sample["full_code"], sample["code"])
    message = err.message
    if sample["full_code"].startswith("ORA-"):
        suffix = SAMPLES["help_suffix_format"].format(code=sample["code"])
        assert message.endswith(suffix)
        message = message[: -len(suffix)]
    if "message" in sample:
        assert message == sample["message"]
    else:
        assert re.fullmatch(sample["message_pattern"], message), message
    if "cause_class" in sample:
        assert type(exc.__cause__).__name__ == sample["cause_class"]
    if "cause_full_code" in sample:
        assert exc.__cause__.args[0].full_code == sample["cause_full_code"]


@pytest.mark.parametrize("sample", SAMPLES["samples"], ids=[s["id"] for s in SAMPLES["samples"]])
def test_double_raises_errors_exactly_like_the_contract(provisioned_oracle, sample):
    with pytest.raises(oracledb.Error) as e:
        _trigger(sample["id"], provisioned_oracle)
    _assert_matches_sample(e.value, sample)


@pytest.mark.parametrize("sample", [s for s in SAMPLES["samples"] if "message" in s and s["code"]], ids=lambda s: s["id"])
def test_contract_samples_agree_with_the_installed_driver(sample):
    err = driver_errors._Error(sample["message"], code=sample["code"])
    _assert_matches_sample(err.exc_type(err), sample)


def test_contract_samples_observed_with_the_real_driver():
    by_id = {s["id"]: s for s in SAMPLES["samples"]}
    with pytest.raises(oracledb.Error) as e:
        oracledb.create_pool(params=oracledb.ConnectParams(host="127.0.0.1", port=1, service_name="ORCLCDB"), password="x")
    _assert_matches_sample(e.value, by_id["pool_params_required"])
    pool = oracledb.create_pool(
        params=oracledb.PoolParams(host="127.0.0.1", port=closed_local_port(), service_name="ORCLCDB", user="u", min=0, max=1, increment=1),
        password="x",
    )
    with pytest.raises(oracledb.Error) as e:
        pool.acquire()
    _assert_matches_sample(e.value, by_id["no_listener"])
    # the DPY-6001 text the double wraps is the driver's own format
    inner = driver_errors._create_exception(driver_errors.ERR_INVALID_SERVICE_NAME, service_name="NOPE", host="oracle", port=1521)
    second_line = by_id["unknown_service"]["message_pattern"].split("\\n", 1)[1]
    assert re.fullmatch(second_line.removesuffix("$"), str(inner)), str(inner)


def test_ora_error_helper_builds_driver_exceptions():
    e = ora_error(955)
    assert isinstance(e, oracledb.DatabaseError) and e.args[0].full_code == "ORA-00955" and e.args[0].code == 955
    assert type(ora_error(1, constraint="C##MYUSER.SYS_C0001")).__name__ == "IntegrityError"
