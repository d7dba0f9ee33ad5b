"""pipeline_defs/systems/postgres: spec validation, names, SQL shapes, connector config (pure; no database)."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from pipeline_defs.core.types import Neutral
from pipeline_defs.systems.postgres import cdc_topic, column_neutral_type, connector_config, cross_validate, secret_keys
from pipeline_defs.systems.postgres.catalog import CatalogState, PublicationState, RoleState, SlotState
from pipeline_defs.systems.postgres.checks import check_role, check_slot, check_wal_level, check_wal_retention
from pipeline_defs.systems.postgres.connectors import ConnectEndpoints, create_request
from pipeline_defs.systems.postgres.idents import quote_ident
from pipeline_defs.systems.postgres.plan import demo_row_statements, desired_statements, plan
from pipeline_defs.systems.postgres.spec import PostgresSource
from pipeline_defs.systems.postgres.sql import drop_slot_statement, scram_verifier, verifier_matches

pytestmark = pytest.mark.unit

PASSWORD = "Pg-Secret-0a1b2c"

DOC = {
    "kind": "postgres",
    "tables": [
        {
            "name": "POC_CLICKSTREAM",
            "columns": [
                {"name": "EVENTID", "type": "VARCHAR(50)", "primary_key": True},
                {"name": "NAME", "type": "varchar( 50 )"},
                {"name": "EVENTTIMESTAMP", "type": "timestamp"},
            ],
            "initial_rows": [{"EVENTID": 1, "NAME": "jdoe", "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"}],
            "demo_rows": [{"EVENTID": 2, "NAME": "x'); DROP TABLE t; --", "EVENTTIMESTAMP": "2024-01-02 03:04:05"}],
        },
        {"name": "POC_USERDATA", "columns": [{"name": "ID", "type": "TEXT", "primary_key": True}], "capture": False},
    ],
    "connectors": [{"name": "pg-clicks", "tables": ["POC_CLICKSTREAM"], "slot_name": "cdc_pg_clicks"}],
}


def doc(**edits) -> dict:
    d = copy.deepcopy(DOC)
    d.update(edits)
    return d


def errors(d: dict) -> str:
    with pytest.raises(ValidationError) as e:
        PostgresSource.model_validate(d)
    return str(e.value)


def src(d: dict | None = None) -> PostgresSource:
    return PostgresSource.model_validate(d or DOC)


# ---- field rules ----------------------------------------------------------------------------------


def test_defaults_and_canonical_types():
    s = src()
    assert (s.database, s.schema_name, s.topic_prefix, s.host, s.port) == ("cdc", "public", "pg", "127.0.0.1", 5433)
    assert (s.role.name, s.role.password_env) == ("cdc_reader", "POSTGRES_CDC_PASSWORD")
    assert s.tables[0].columns[1].type == "VARCHAR(50)"
    assert s.tables[0].columns[2].type == "TIMESTAMP"
    assert s.debezium.poll_interval_ms == 50
    assert s.wal_retention.warn_bytes == 1024**3 and s.wal_retention.error_bytes == 4 * 1024**3
    assert cross_validate(s) == []


@pytest.mark.parametrize("bad", ['X";DROP', "X; DROP TABLE T", 'A"B', "T--", "1ABC", "", "A" * 64, "ÄBC", "A B"])
def test_injection_in_table_names_refused(bad):
    msg = errors(doc(tables=[{**DOC["tables"][0], "name": bad}]))
    assert "is not a valid table or column name" in msg and "upper-case letter first" in msg


def test_injection_in_column_name_refused():
    cols = [{"name": 'EVENTID" TEXT); DROP TABLE X; --', "type": "TEXT", "primary_key": True}]
    assert "not a valid table or column name" in errors(doc(tables=[{"name": "T", "columns": cols}]))


def test_lower_case_table_name_gets_the_fix():
    msg = errors(doc(tables=[{**DOC["tables"][0], "name": "poc_clickstream"}]))
    assert "must be upper case" in msg and "'POC_CLICKSTREAM'" in msg


@pytest.mark.parametrize("word", ["SELECT", "TABLE", "USER", "ORDER", "CURRENT_TIMESTAMP", "FROM"])
def test_reserved_words_refused(word):
    msg = errors(doc(tables=[{**DOC["tables"][0], "name": word}]))
    assert f"'{word}' is a PostgreSQL reserved word" in msg


@pytest.mark.parametrize(
    "field,value,expect",
    [
        ("database", 'cdc";drop', "not a valid database name"),
        ("database", "select", "PostgreSQL reserved word"),
        ("schema", "Public", "not a valid schema name"),
        ("schema", "pg_catalog", "reserved by PostgreSQL"),
        ("publication", "pub-1", "not a valid publication name"),
        ("topic_prefix", "pg.x", "no dots"),
        ("host", "db host", "not a valid host name"),
        ("port", 70000, "less than or equal to 65535"),
        ("role", {"name": "CDC"}, "not a valid role name"),
        ("role", {"password_env": "lower"}, "environment variable name"),
        ("kind", "oracle", "'postgres'"),
    ],
)
def test_field_rules(field, value, expect):
    assert expect in errors(doc(**{field: value}))


def test_unknown_fields_refused():
    assert "Extra inputs are not permitted" in errors(doc(flavor="debezium"))
    t = {**DOC["tables"][0], "replica": "full"}
    assert "replica" in errors(doc(tables=[t]))
    c = {**DOC["connectors"][0], "slot": "x"}
    assert "slot" in errors(doc(connectors=[c]))


@pytest.mark.parametrize("bad", ["MONEY", "VARCHAR", "VARCHAR(0)", "NUMERIC(5,6)", "TEXT; DROP TABLE X", "INT[]", 5])
def test_column_types_from_the_allowlist(bad):
    cols = [{"name": "ID", "type": bad, "primary_key": True}]
    msg = errors(doc(tables=[{"name": "T", "columns": cols}]))
    assert repr(bad) in msg


@pytest.mark.parametrize("bad", ["Pg-Slot", "slot;drop", "s" * 64, ""])
def test_slot_names(bad):
    c = {**DOC["connectors"][0], "slot_name": bad}
    assert "not a valid replication slot name" in errors(doc(connectors=[c]))


def test_single_task_and_tuning_rules():
    c = {**DOC["connectors"][0], "tasks_max": 2}
    assert "tasks_max" in errors(doc(connectors=[c]))
    assert "must be larger than max_batch_size" in errors(doc(debezium={"max_batch_size": 100, "max_queue_size": 100}))
    assert "must be below error_bytes" in errors(doc(wal_retention={"warn_bytes": 10, "error_bytes": 10}))


def test_row_values_are_scalars():
    t = {**DOC["tables"][0], "initial_rows": [{"EVENTID": "1", "NAME": {"nested": 1}}]}
    assert "is not a row value" in errors(doc(tables=[t]))


# ---- cross-field rules ----------------------------------------------------------------------------


def test_cross_validation_problems():
    d = doc(
        tables=[
            DOC["tables"][0],
            {**DOC["tables"][0], "initial_rows": [], "demo_rows": []},  # duplicate name
            {"name": "NOPK", "columns": [{"name": "A", "type": "TEXT"}, {"name": "A", "type": "TEXT"}]},
            {
                "name": "ORPHAN",
                "columns": [{"name": "ID", "type": "INTEGER", "primary_key": True}],
                "initial_rows": [{"ID": "x", "NOPE": 1}],
            },
            {"name": "OFF", "capture": False, "columns": [{"name": "ID", "type": "INTEGER", "primary_key": True}]},
        ],
        connectors=[
            {"name": "a", "tables": ["POC_CLICKSTREAM", "MISSING"], "slot_name": "cdc_s1"},
            {"name": "a", "tables": ["POC_CLICKSTREAM", "OFF"], "slot_name": "cdc_s1"},
        ],
        publication_tables=["POC_CLICKSTREAM", "OFF"],
    )
    problems = dict(cross_validate(src(d)))
    assert problems["source.tables[1].name"] == "duplicate table name 'POC_CLICKSTREAM'"
    assert "duplicate column name 'A'" in problems["source.tables[2].columns[1].name"]
    assert "needs a primary key" in problems["source.tables[2].columns"]
    assert "'NOPE' is not a column of ORPHAN" in problems["source.tables[3].initial_rows[0].NOPE"]
    assert "'x' is not a INTEGER value" in problems["source.tables[3].initial_rows[0].ID"]
    assert "unknown table 'MISSING'" in problems["source.connectors[0].tables[1]"]
    assert "duplicate connector name 'a'" in problems["source.connectors[1].name"]
    assert "already used by another connector" in problems["source.connectors[1].slot_name"]
    assert "already captured by connector 'a'" not in problems.get("source.connectors[1].tables[0]", "")  # same name
    assert "capture: false" in problems["source.connectors[1].tables[1]"]
    assert "in no connector's tables" in problems["source.tables[2]"]
    assert "is not a captured table" in problems["source.publication_tables[1]"]


def test_table_in_two_connectors():
    d = doc(
        connectors=[
            {"name": "a", "tables": ["POC_CLICKSTREAM"], "slot_name": "cdc_s1"},
            {"name": "b", "tables": ["POC_CLICKSTREAM"], "slot_name": "cdc_s2"},
        ]
    )
    assert dict(cross_validate(src(d)))["source.connectors[1].tables[0]"] == (
        "table 'POC_CLICKSTREAM' is already captured by connector 'a' (one connector per table)"
    )


def test_current_timestamp_only_in_time_columns_and_never_a_key():
    t = {**DOC["tables"][0], "initial_rows": [{"EVENTID": "CURRENT_TIMESTAMP", "NAME": "CURRENT_TIMESTAMP"}]}
    problems = dict(cross_validate(src(doc(tables=[t, DOC["tables"][1]]))))
    assert "cannot be CURRENT_TIMESTAMP" in problems["source.tables[0].initial_rows[0].EVENTID"]
    assert "only allowed in TIMESTAMP" in problems["source.tables[0].initial_rows[0].NAME"]


# ---- names, types, SQL ----------------------------------------------------------------------------


def test_topic_and_neutral_types():
    s = src()
    assert cdc_topic(s, "POC_CLICKSTREAM") == "pg.public.POC_CLICKSTREAM"
    assert column_neutral_type("timestamp") is Neutral.TIMESTAMP
    assert column_neutral_type("NUMERIC(10,2)") is Neutral.FLOAT64
    assert column_neutral_type("TIMESTAMPTZ") is Neutral.STRING  # Debezium ZonedTimestamp: ISO string
    assert column_neutral_type("BIGINT") is Neutral.INT64
    with pytest.raises(ValueError, match="not an allowed PostgreSQL column type"):
        column_neutral_type("JSONB")


def test_quote_ident():
    assert quote_ident("POC") == '"POC"'
    assert quote_ident('a"b') == '"a""b"'
    with pytest.raises(ValueError):
        quote_ident("a\x00b")


def test_plan_on_empty_catalog_binds_values_and_redacts_password():
    stmts = desired_statements(src(), PASSWORD)
    assert [s.node for s in stmts] == ["role"] * 3 + ["table:POC_CLICKSTREAM"] * 3 + ["table:POC_USERDATA", "publication"]
    for s in stmts:
        assert PASSWORD not in s.display and PASSWORD not in s.sql and PASSWORD not in repr(s)
    create_role = stmts[0]
    assert create_role.display == "CREATE ROLE \"cdc_reader\" LOGIN REPLICATION PASSWORD '********'"
    assert "SCRAM-SHA-256$4096:" in create_role.sql
    insert = stmts[5]
    assert insert.params == ("1", "jdoe") and "jdoe" not in insert.sql
    assert insert.sql.endswith("ON CONFLICT DO NOTHING")
    assert stmts[-1].sql == 'CREATE PUBLICATION "cdc_publication" FOR TABLE "public"."POC_CLICKSTREAM"'
    demo = demo_row_statements(src())
    assert demo[0].node == "demo:POC_CLICKSTREAM" and demo[0].params[1] == "x'); DROP TABLE t; --"
    assert "DROP" not in demo[0].sql


def test_plan_without_password_for_a_missing_role():
    with pytest.raises(ValueError, match="role cdc_reader does not exist .*POSTGRES_CDC_PASSWORD"):
        plan(src(), CatalogState())


def test_scram_verifier_round_trip():
    v = scram_verifier(PASSWORD)
    assert verifier_matches(v, PASSWORD) and not verifier_matches(v, PASSWORD + "x")
    assert not verifier_matches("md5abc", PASSWORD) and not verifier_matches(None, PASSWORD)
    with pytest.raises(ValueError, match="value not shown") as e:
        scram_verifier("pässword")
    assert "pässword" not in str(e.value)


def test_publication_for_all_tables_is_replaced():
    state = CatalogState(publication=PublicationState("cdc_publication", True, set(), {"insert"}))
    pub = [s.sql for s in plan(src(), state, PASSWORD) if s.node == "publication"]
    assert pub == [
        'DROP PUBLICATION IF EXISTS "cdc_publication"',
        'CREATE PUBLICATION "cdc_publication" FOR TABLE "public"."POC_CLICKSTREAM"',
    ]


def test_drop_slot_statement_only_drops_inactive():
    st = drop_slot_statement("pg_clicks")
    assert "NOT active" in st.sql and st.params == ("pg_clicks",) and st.node == "slot:pg_clicks"
    with pytest.raises(ValueError, match="not a valid replication slot name"):
        drop_slot_statement("x'; DROP")


# ---- connector config -----------------------------------------------------------------------------


def test_connector_config():
    s = src(doc(connectors=[{**DOC["connectors"][0], "config": {"snapshot.mode": "no_data", "x.flag": True}, "initial_state": "STOPPED"}]))
    cfg = connector_config(s, s.connectors[0], ConnectEndpoints(port=42432))
    assert cfg["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert cfg["plugin.name"] == "pgoutput" and cfg["slot.name"] == "cdc_pg_clicks"
    assert cfg["publication.name"] == "cdc_publication" and cfg["publication.autocreate.mode"] == "disabled"
    assert cfg["database.password"] == "${env:POSTGRES_CDC_PASSWORD}"
    assert cfg["database.port"] == "42432" and cfg["database.hostname"] == "127.0.0.1"
    assert cfg["table.include.list"] == r"public\.POC_CLICKSTREAM"
    # a delete arrives as a __deleted=true row the engine retracts (no bare tombstone it would have to key)
    assert cfg["transforms.unwrap.delete.tombstone.handling.mode"] == "rewrite"
    assert cfg["transforms.unwrap.add.fields"] == "op,source.ts_ms"
    assert cfg["time.precision.mode"] == "connect" and cfg["poll.interval.ms"] == "50"
    assert cfg["snapshot.mode"] == "no_data" and cfg["x.flag"] == "true"  # overrides last, as strings
    assert all(isinstance(v, str) for v in cfg.values())
    assert secret_keys(cfg) == {"database.password"}
    assert create_request(s, s.connectors[0])["initial_state"] == "STOPPED"
    assert ConnectEndpoints.from_env({"POSTGRES_HOST": "db", "POSTGRES_PORT": "6000"}) == ConnectEndpoints("db", 6000)


# ---- checks on synthetic states -------------------------------------------------------------------


def _slot(name="cdc_pg_clicks", active=True, retained=0, db="cdc") -> SlotState:
    return SlotState(name, "pgoutput", "logical", db, active, 1 if active else None, "0/1", "0/1", "reserved", retained)


def test_wal_level_check_gives_the_fix():
    ok, md = check_wal_level(src(), CatalogState(wal_level="replica", max_replication_slots=10, max_wal_senders=10))
    assert not ok and "ALTER SYSTEM SET wal_level = logical" in md["fix"] and "'replica'" in md["problem"]


def test_role_check_names_a_password_that_differs_and_the_fix():
    s = src()
    role = RoleState("cdc_reader", login=True, replication=True, superuser=False, connect=True, schema_usage=True)
    assert check_role(s, CatalogState(role=role), tables=False)[0]  # not compared: passes
    role.password_matches = False
    ok, md = check_role(s, CatalogState(role=role), tables=False)
    assert not ok and "password differs from POSTGRES_CDC_PASSWORD" in md["problem"]
    assert "provision_pipeline" in md["fix"] and "${env:POSTGRES_CDC_PASSWORD}" in md["fix"]
    role.password_matches = True
    assert check_role(s, CatalogState(role=role), tables=False)[0]


def test_slot_and_retention_checks():
    s = src()
    assert not check_slot(s, CatalogState(), s.connectors[0])[0]
    assert check_slot(s, CatalogState(slots={"cdc_pg_clicks": _slot()}), s.connectors[0])[0]
    ok, md = check_slot(s, CatalogState(slots={"cdc_pg_clicks": _slot(active=False)}), s.connectors[0])
    assert not ok and "inactive" in md["problem"]

    def sev(*slots):
        ok, md = check_wal_retention(s, CatalogState(database="cdc", slots={x.slot_name: x for x in slots}))
        assert ok == (md["severity"] == "OK")
        return md["severity"]

    assert sev(_slot()) == "OK"
    assert sev(_slot(retained=2 * 1024**3)) == "WARN"
    assert sev(_slot(retained=5 * 1024**3)) == "ERROR"
    assert sev(_slot(), _slot("old_slot", active=False, retained=10)) == "WARN"  # a removed connector's slot
    assert sev(_slot(), _slot("other_db", active=False, db="elsewhere")) == "OK"


def test_secrets_in_connector_overrides_are_refused():
    d = doc(connectors=[{**DOC["connectors"][0], "config": {"database.password": "hunter2"}}])
    problems = cross_validate(src(d))
    assert problems == [
        (
            "source.connectors[0].config.database.password",
            ("a secret cannot be written in the spec; use a config provider placeholder such as ${env:VARIABLE} (value not shown)"),
        )
    ]
    assert "hunter2" not in str(problems)
    ok = doc(connectors=[{**DOC["connectors"][0], "config": {"database.password": "${env:OTHER_PW}"}}])
    assert cross_validate(src(ok)) == []


# ---- connector_faults: what the database sees of a RUNNING connector --------------------------------


def _catalog(*, active: bool, verifier: str | None, superuser: bool = True):
    def query(sql: str, params):
        if "pg_replication_slots" in sql:
            assert params == [["cdc_pg_clicks"]]
            return [{"slot_name": "cdc_pg_clicks", "active": active}]
        if "rolsuper" in sql:
            return [{"rolsuper": superuser}]
        if "pg_authid" in sql:
            assert params == ["cdc_reader"]
            return [{"rolpassword": verifier}] if verifier else []
        raise AssertionError(sql)

    return query


def test_stalled_connector_with_a_wrong_password_gets_the_login_error():
    from pipeline_defs.systems.connect.causes import classify
    from pipeline_defs.systems.postgres.stalls import stalled_connectors

    faults = stalled_connectors(src(), _catalog(active=False, verifier=scram_verifier("another")), PASSWORD)
    [(name, trace)] = faults.items()
    assert name == "pg-clicks" and classify(trace).name == "authentication_failed"
    assert "${env:POSTGRES_CDC_PASSWORD}" in trace and PASSWORD not in trace


@pytest.mark.parametrize(
    "active, verifier, superuser, password",
    [
        (True, "wrong", True, PASSWORD),  # the slot streams: Connect's status is the truth
        (False, "ok", True, PASSWORD),  # the password matches: an idle slot is a connector starting or failing
        (False, "wrong", False, PASSWORD),  # the admin cannot read pg_authid: nothing to compare
        (False, "wrong", True, None),  # the control plane holds no password
    ],
)
def test_no_fault_without_evidence(active, verifier, superuser, password):
    from pipeline_defs.systems.postgres.stalls import stalled_connectors

    v = {"ok": scram_verifier(PASSWORD), "wrong": scram_verifier("another")}[verifier]
    assert stalled_connectors(src(), _catalog(active=active, verifier=v, superuser=superuser), password) == {}


def test_a_role_without_a_password_is_a_login_fault():
    from pipeline_defs.systems.postgres.stalls import stalled_connectors

    # PostgreSQL answers a role with no password (or none at all) with the same authentication failure
    assert set(stalled_connectors(src(), _catalog(active=False, verifier=None), PASSWORD)) == {"pg-clicks"}
