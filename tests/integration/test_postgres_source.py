"""The PostgreSQL source package against a real PostgreSQL 15 with wal_level=logical (a throw-away cluster
from tests/fixtures_postgres.py): plan/apply/idempotency, checks that pass and then fail on drift, demo rows,
slots and the retention guard, the reconciliation queries. The Debezium part is test_postgres_debezium.py.
"""

from __future__ import annotations

import datetime as dt
import secrets

import psycopg
import pytest

from pipeline_defs.systems.postgres import PostgresSource, db, read_catalog
from pipeline_defs.systems.postgres import checks as C
from pipeline_defs.systems.postgres.events import event_query, source_window_counts, window_count_query, window_counts
from pipeline_defs.systems.postgres.plan import demo_row_statements, drop_slot_statement, for_node, plan
from tests.fixtures_postgres import logical_postgres_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.integration

CLICKS = {
    "name": "POC_CLICKSTREAM",
    "replica_identity": "full",
    "columns": [
        {"name": "EVENTID", "type": "VARCHAR(50)", "primary_key": True},
        {"name": "NAME", "type": "VARCHAR(50)"},
        {"name": "AMOUNT", "type": "NUMERIC(10,2)"},
        {"name": "EVENTTIMESTAMP", "type": "TIMESTAMP"},
    ],
    "initial_rows": [{"EVENTID": 1, "NAME": "jdoe", "AMOUNT": 1.5, "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"}],
    "demo_rows": [
        {"EVENTID": 2, "NAME": "jdoe", "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"},
        {"EVENTID": 3, "NAME": 'rsmith\'); DROP TABLE "POC_CLICKSTREAM"; --', "EVENTTIMESTAMP": "CURRENT_TIMESTAMP"},
    ],
}
USERS = {"name": "POC_USERDATA", "columns": [{"name": "ID", "type": "INTEGER", "primary_key": True}], "capture": False}


@pytest.fixture
def env(logical_postgres_server):  # noqa: F811
    """A fresh database, a source with its own role (roles are cluster-wide) and an admin connection."""
    server = logical_postgres_server
    dbname = server.create_database()
    tag = secrets.token_hex(3)
    source = PostgresSource.model_validate(
        {
            "kind": "postgres",
            "database": dbname,
            "port": server.port,
            "role": {"name": f"cdc_{tag}"},
            "publication": f"pub_{tag}",
            "tables": [CLICKS, USERS],
            "connectors": [{"name": "pg-clicks", "tables": ["POC_CLICKSTREAM"], "slot_name": f"slot_{tag}"}],
        }
    )
    admin = db.connect(server.host, server.port, dbname, server.user, server.password)
    password = "Cdc-" + secrets.token_urlsafe(12)
    yield source, admin, password, server
    for slot in db.query_fn(admin)("SELECT slot_name FROM pg_replication_slots WHERE database = %s", [dbname]):
        admin.execute("SELECT pg_drop_replication_slot(%s)", [slot["slot_name"]])
    admin.close()


def catalog(source, admin, password=None):
    return read_catalog(source, db.query_fn(admin), cdc_password=password)


def converge(source, admin, password):
    db.apply(admin, plan(source, catalog(source, admin, password), password))
    return catalog(source, admin, password)


def passed(check, *args) -> bool:
    ok, md = check(*args)
    assert ok == ("problem" not in md), md
    return ok


def test_apply_then_plan_is_empty_and_checks_pass(env):
    source, admin, password, server = env
    first = plan(source, catalog(source, admin, password), password)
    assert {s.node for s in first} == {"role", "table:POC_CLICKSTREAM", "table:POC_USERDATA", "publication"}
    assert all(password not in s.display for s in first)
    db.apply(admin, first)
    state = catalog(source, admin, password)
    assert plan(source, state, password) == []
    assert state.role.password_matches is True and not state.role.superuser
    assert state.tables["POC_CLICKSTREAM"].replica_identity == "full"
    assert state.tables["POC_USERDATA"].select_granted is False  # not captured: no grant
    assert state.publication.tables == {"public.POC_CLICKSTREAM"}
    for check in (C.check_wal_level, C.check_publication, C.check_role, C.check_primary_keys):
        assert passed(check, source, state), check.__name__
    assert passed(C.check_table, source, state, "POC_CLICKSTREAM")

    # the role logs in with the password (whose SCRAM verifier we computed) and sees only what it needs
    with psycopg.connect(
        host=server.host, port=server.port, dbname=source.database, user=source.role.name, password=password, autocommit=True
    ) as cdc:
        assert cdc.execute('SELECT count(*) FROM "POC_CLICKSTREAM"').fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cdc.execute('SELECT * FROM "POC_USERDATA"')


def test_checks_fail_on_drift_and_the_plan_repairs_it(env):
    source, admin, password, _ = env
    converge(source, admin, password)

    admin.execute(f"DROP PUBLICATION {source.publication}")
    state = catalog(source, admin, password)
    ok, md = C.check_publication(source, state)
    assert not ok and md["problem"] == f"publication {source.publication} does not exist"
    assert [s.node for s in plan(source, state, password)] == ["publication"]
    state = converge(source, admin, password)
    assert passed(C.check_publication, source, state)

    admin.execute(f'REVOKE SELECT ON "POC_CLICKSTREAM" FROM {source.role.name}')
    state = catalog(source, admin, password)
    ok, md = C.check_role(source, state)
    assert not ok and md["missing_select"] == ["public.POC_CLICKSTREAM"]
    assert [s.display for s in plan(source, state, password)] == [
        f'GRANT SELECT ON TABLE "public"."POC_CLICKSTREAM" TO "{source.role.name}"'
    ]

    admin.execute(f'ALTER PUBLICATION {source.publication} SET TABLE "POC_USERDATA"')  # the table out, another in
    admin.execute(f"ALTER ROLE {source.role.name} NOREPLICATION")
    admin.execute('ALTER TABLE "POC_CLICKSTREAM" REPLICA IDENTITY DEFAULT')
    state = catalog(source, admin, password)
    ok, md = C.check_publication(source, state)
    assert not ok and md["missing_tables"] == ["public.POC_CLICKSTREAM"] and md["extra_tables"] == ["public.POC_USERDATA"]
    ok, md = C.check_role(source, state)
    assert not ok and "lacks REPLICATION" in md["problem"]
    ok, md = C.check_table(source, state, "POC_CLICKSTREAM")
    assert not ok and "replica identity is default, spec says full" in md["problem"]
    assert {s.display.split(" ")[0] + " " + s.display.split(" ")[1] for s in plan(source, state, password)} == {
        "ALTER ROLE",
        "GRANT SELECT",
        "ALTER TABLE",
        "ALTER PUBLICATION",
    }

    state = converge(source, admin, password)
    assert plan(source, state, password) == []
    for check in (C.check_publication, C.check_role):
        assert passed(check, source, state)
    assert passed(C.check_table, source, state, "POC_CLICKSTREAM")

    # a rotated password: read_catalog sees the stored verifier no longer fits, the plan sets the new one
    new = "Rotated-" + secrets.token_urlsafe(8)
    state = catalog(source, admin, new)
    assert state.role.password_matches is False and not passed(C.check_role, source, state)
    stmts = plan(source, state, new)
    assert [s.display for s in stmts] == [f"ALTER ROLE \"{source.role.name}\" PASSWORD '********'"]
    db.apply(admin, stmts)
    assert catalog(source, admin, new).role.password_matches is True


def test_primary_key_and_column_drift_are_reported(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    admin.execute('ALTER TABLE "POC_CLICKSTREAM" REPLICA IDENTITY FULL')
    admin.execute('ALTER TABLE "POC_CLICKSTREAM" DROP CONSTRAINT "POC_CLICKSTREAM_pkey"')
    admin.execute('ALTER TABLE "POC_CLICKSTREAM" ALTER COLUMN "NAME" TYPE TEXT')
    state = catalog(source, admin, password)
    ok, md = C.check_primary_keys(source, state)
    assert not ok and md["tables_without_primary_key"] == ["public.POC_CLICKSTREAM"]
    ok, md = C.check_table(source, state, "POC_CLICKSTREAM")
    assert not ok and md["type_mismatches"] == ["NAME is text, spec says character varying(50)"]


def test_demo_rows_are_idempotent_and_values_stay_data(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    demo = demo_row_statements(source)
    assert db.apply(admin, demo[:1]) == [1]
    assert db.insert_demo_rows(admin, source) == {"inserted": 1, "already_present": 1}
    assert db.insert_demo_rows(admin, source) == {"inserted": 0, "already_present": 2}
    rows = admin.execute('SELECT "EVENTID", "NAME" FROM "POC_CLICKSTREAM" ORDER BY "EVENTID"').fetchall()
    assert rows == [("1", "jdoe"), ("2", "jdoe"), ("3", CLICKS["demo_rows"][1]["NAME"])]
    # initial rows are matched by key, so a plan after the demo still has nothing to insert
    assert plan(source, catalog(source, admin, password), password) == []


def test_apply_error_names_the_statement_without_the_secret(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    admin.execute(f"DROP PUBLICATION {source.publication}")
    admin.execute(f"REASSIGN OWNED BY {source.role.name} TO CURRENT_USER")
    admin.execute(f"DROP OWNED BY {source.role.name}")
    admin.execute(f"DROP ROLE {source.role.name}")
    stmts = plan(source, catalog(source, admin, password), password)
    admin.execute(f"CREATE ROLE {source.role.name}")  # now CREATE ROLE in the plan fails
    with pytest.raises(db.PostgresApplyError) as e:
        db.apply(admin, stmts)
    assert "already exists" in str(e.value) and "PASSWORD '********'" in str(e.value)
    assert password not in str(e.value) and "SCRAM-SHA-256" not in str(e.value)


def test_slots_and_retention_guard(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    slot = source.connectors[0].slot_name
    state = catalog(source, admin, password)
    ok, md = C.check_slot(source, state, source.connectors[0])
    assert not ok and md["exists"] is False
    assert passed(C.check_wal_retention, source, state)  # no slots, nothing retained

    # the slot Debezium would create, with no connector streaming: inactive, and it retains the WAL written since
    admin.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot])
    admin.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot + "_old"])
    db.apply(admin, demo_row_statements(source))
    admin.execute("SELECT pg_switch_wal()")
    state = catalog(source, admin, password)
    ok, md = C.check_slot(source, state, source.connectors[0])
    assert not ok and "inactive" in md["problem"] and md["plugin"] == "pgoutput"
    ok, md = C.check_wal_retention(source, state)
    assert not ok and md["severity"] == "WARN" and md["unmanaged_slots"] == [slot + "_old"]
    retained = md["max_retained_wal_bytes"]
    assert retained > 0

    tight = source.model_copy(update={"wal_retention": source.wal_retention.model_copy(update={"warn_bytes": 1, "error_bytes": retained})})
    ok, md = C.check_wal_retention(tight, state)
    assert not ok and md["severity"] == "ERROR" and "error at" in md["problem"]

    # a removed connector's slot goes; a second run finds nothing to drop
    drop = drop_slot_statement(slot + "_old")
    assert db.apply(admin, [drop]) == [1]
    assert db.apply(admin, [drop]) == [0]
    assert C.unmanaged_slots(source, catalog(source, admin, password)) == []


def test_reconciliation_queries(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    base = dt.datetime(2024, 5, 1, 12, 0, 0)  # TIMESTAMP holds UTC wall time
    rows = [
        ("a", base),
        ("a", base + dt.timedelta(seconds=59, microseconds=999_999)),
        ("a", base + dt.timedelta(minutes=1)),
        ("b", base + dt.timedelta(minutes=3)),
        ("b", base + dt.timedelta(minutes=5, seconds=1)),
    ]
    with admin.cursor() as cur:
        cur.execute("SET TIME ZONE 'America/New_York'")  # must not shift anything
        for i, (name, ts) in enumerate(rows):
            cur.execute('INSERT INTO "POC_CLICKSTREAM" ("EVENTID", "NAME", "EVENTTIMESTAMP") VALUES (%s, %s, %s)', [f"e{i}", name, ts])
    q = db.query_fn(admin)
    ms = int(base.replace(tzinfo=dt.UTC).timestamp() * 1000)
    minute = 60_000

    sql, params = window_count_query(source, "POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP", minute, ms + minute)
    counts = window_counts(q(sql, params))
    # 'jdoe' (initial row, written now) has its newest window; a's first window is before since_ms
    counts.pop(next(k for k in counts if k[0] == "jdoe"))
    assert counts == {("a", ms + minute): 1, ("b", ms + 3 * minute): 1, ("b", ms + 5 * minute): 1}
    counts = source_window_counts(q, source, "POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP", minute, None)
    newest = {k: v for k, v in counts.items() if k[0] != "jdoe"}
    assert newest == {("a", ms + minute): 1, ("b", ms + 5 * minute): 1}

    sql, params = event_query(source, "POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP", ms + 3 * minute)
    got = sorted((r["group_value"], r["event_ms"]) for r in q(sql, params) if r["group_value"] != "jdoe")
    assert got == [("b", ms + 3 * minute), ("b", ms + 5 * minute + 1000)]
    sql, params = event_query(source, "POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP", None)
    events = {r["event_ms"] for r in q(sql, params)}
    assert ms + minute - 1 in events  # 59.999999 s: microseconds cut, as Debezium's connect precision does
    with pytest.raises(ValueError, match="must be one of TIMESTAMP"):
        event_query(source, "POC_CLICKSTREAM", "NAME", "AMOUNT", None)


def test_for_node_splits_the_plan(env):
    source, admin, password, _ = env
    stmts = plan(source, catalog(source, admin, password), password)
    db.apply(admin, for_node(stmts, "role"))
    state = catalog(source, admin, password)
    assert state.role is not None and not state.tables
    rest = plan(source, state, password)
    assert {s.node for s in rest} == {"table:POC_CLICKSTREAM", "table:POC_USERDATA", "publication"}


def test_for_all_tables_publication_is_replaced_in_one_transaction(env):
    source, admin, password, _ = env
    converge(source, admin, password)
    admin.execute(f"DROP PUBLICATION {source.publication}")
    admin.execute(f"CREATE PUBLICATION {source.publication} FOR ALL TABLES WITH (publish = 'insert')")
    state = catalog(source, admin, password)
    ok, md = C.check_publication(source, state)
    assert not ok and "FOR ALL TABLES" in md["problem"] and md["unpublished_actions"] == ["update", "delete", "truncate"]
    stmts = plan(source, state, password)
    assert [s.display.split(" ")[0] for s in stmts] == ["DROP", "CREATE"]
    db.apply(admin, stmts)
    state = catalog(source, admin, password)
    assert passed(C.check_publication, source, state) and plan(source, state, password) == []


def test_a_schema_of_its_own(logical_postgres_server):  # noqa: F811
    server = logical_postgres_server
    dbname, tag = server.create_database(), secrets.token_hex(3)
    source = PostgresSource.model_validate(
        {
            "kind": "postgres",
            "database": dbname,
            "schema": "sales",
            "role": {"name": f"cdc_{tag}"},
            "tables": [CLICKS],
            "connectors": [{"name": "c", "tables": ["POC_CLICKSTREAM"], "slot_name": f"s_{tag}"}],
        }
    )
    password = "Cdc-" + secrets.token_urlsafe(12)
    with db.connect(server.host, server.port, dbname, server.user, server.password) as admin:
        first = plan(source, catalog(source, admin, password), password)
        assert first[0].display == 'CREATE SCHEMA IF NOT EXISTS "sales"'
        state = converge(source, admin, password)
        assert plan(source, state, password) == []
        assert state.publication.tables == {"sales.POC_CLICKSTREAM"}
        for check in (C.check_publication, C.check_role, C.check_primary_keys):
            assert passed(check, source, state), check.__name__
