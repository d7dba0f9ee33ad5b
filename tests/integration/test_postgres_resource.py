"""PostgresResource / PostgresClient against a real PostgreSQL (tests/fixtures_postgres.py: Debian's binaries,
a throw-away cluster with SCRAM password login on 127.0.0.1)."""

from __future__ import annotations

import secrets

import dagster as dg
import pytest

from resources.errors import Unreachable
from resources.postgres import (
    PostgresAuthError,
    PostgresClient,
    PostgresPrivilegeError,
    PostgresResource,
    PostgresStatementError,
    PostgresUndefinedObject,
    ident,
    literal,
    sql,
)
from tests.fixtures_postgres import postgres_server  # noqa: F401  (session fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def db(postgres_server):  # noqa: F811
    return postgres_server.create_database()


@pytest.fixture
def admin(postgres_server, db):  # noqa: F811
    with PostgresClient(postgres_server.host, postgres_server.port, db, postgres_server.user, postgres_server.password) as client:
        yield client


def test_statements_run_in_one_transaction_and_rows_come_back_as_dicts(admin):
    table = ident("public", "POC_CLICKSTREAM")
    n = admin.execute(
        [
            sql('CREATE TABLE {} ("NAME" text PRIMARY KEY, "EVENTS" int NOT NULL)').format(table),
            (sql("INSERT INTO {} VALUES (%s, %s), (%s, %s)").format(table), ("alice", 1, "bob", 2)),
        ]
    )
    assert n == 2
    rows = admin.query(sql('SELECT * FROM {} ORDER BY "NAME"').format(table))
    assert rows == [{"NAME": "alice", "EVENTS": 1}, {"NAME": "bob", "EVENTS": 2}]
    # the second statement fails: the first (an insert) must not stay applied
    with pytest.raises(PostgresStatementError) as e:
        admin.execute(
            [
                (sql("INSERT INTO {} VALUES (%s, %s)").format(table), ("carol", 3)),
                (sql("INSERT INTO {} VALUES (%s, %s)").format(table), ("alice", 9)),  # duplicate key
            ]
        )
    assert e.value.sqlstate == "23505" and "POC_CLICKSTREAM" in str(e.value)
    assert admin.scalar(sql("SELECT count(*) FROM {}").format(table)) == 2
    assert admin.query_one(sql('SELECT "EVENTS" FROM {} WHERE "NAME" = %s').format(table), ("bob",)) == {"EVENTS": 2}


def test_identifiers_are_quoted_never_interpolated(admin):
    hostile = 'x"; DROP TABLE victim; --'
    admin.execute("CREATE TABLE victim (id int)")
    admin.execute(sql("CREATE TABLE {} (id int)").format(ident(hostile)))
    names = {r["tablename"] for r in admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert names == {"victim", hostile}
    with pytest.raises(ValueError):
        ident("")


def test_server_settings(admin):
    got = admin.server_settings(["wal_level", "max_replication_slots", "no_such_setting"])
    assert set(got) == {"wal_level", "max_replication_slots"}
    assert got["wal_level"] in ("replica", "logical", "minimal") and int(got["max_replication_slots"]) >= 0
    assert admin.server_version() >= 100000


def test_undefined_object_and_privilege_errors_are_typed_and_scrubbed(postgres_server, admin, db):  # noqa: F811
    with pytest.raises(PostgresUndefinedObject) as e:
        admin.execute(sql("DROP ROLE {}").format(ident("no_such_role")))
    assert e.value.sqlstate == "42704"
    with pytest.raises(PostgresUndefinedObject):
        admin.query("SELECT * FROM no_such_table")

    role_password = "Rp-" + secrets.token_hex(8)
    # the statement itself carries a secret: it is scrubbed from the error when the statement fails
    with pytest.raises(PostgresStatementError) as e:
        admin.execute(
            sql("CREATE ROLE {} LOGIN PASSWORD {} INVALID_OPTION").format(ident("limited"), literal(role_password)), secrets=[role_password]
        )
    assert role_password not in str(e.value) and "INVALID_OPTION" in str(e.value)
    admin.execute(
        [
            sql("CREATE ROLE {} LOGIN PASSWORD {}").format(ident("limited"), literal(role_password)),
            "CREATE TABLE guarded (id int)",  # no grant: only its owner may read it
        ]
    )
    with PostgresClient(postgres_server.host, postgres_server.port, db, "limited", role_password) as limited:
        with pytest.raises(PostgresPrivilegeError) as e:
            limited.query("SELECT * FROM guarded")
        assert e.value.sqlstate == "42501" and "limited" in str(e.value)
        assert role_password not in str(e.value) and role_password not in repr(limited)


def test_wrong_password_is_an_authentication_error_without_the_password(postgres_server, db):  # noqa: F811
    wrong = "Wrong-" + secrets.token_hex(8)
    with (
        PostgresClient(postgres_server.host, postgres_server.port, db, postgres_server.user, wrong) as client,
        pytest.raises(PostgresAuthError) as e,
    ):
        client.ping()
    text = str(e.value)
    assert f"{postgres_server.host}:{postgres_server.port}" in text and postgres_server.user in text
    assert wrong not in text and postgres_server.password not in text
    assert not isinstance(e.value, Unreachable)


def test_resource_reads_password_from_env_and_closes_its_client_at_teardown(postgres_server, db, monkeypatch):  # noqa: F811
    monkeypatch.setenv("POSTGRES_HOST", postgres_server.host)
    monkeypatch.setenv("POSTGRES_PORT", str(postgres_server.port))
    monkeypatch.setenv("POSTGRES_DB", db)
    monkeypatch.setenv("POSTGRES_ADMIN_USER", postgres_server.user)
    monkeypatch.setenv("POSTGRES_ADMIN_PASSWORD", postgres_server.password)
    seen = []

    @dg.op
    def read_settings(postgres: PostgresResource) -> str:
        client = postgres.get_client()
        assert client is postgres.get_client()  # one client per execution
        seen.append(client)
        return postgres.get_client().server_settings(["wal_level"])["wal_level"]

    @dg.job
    def probe():
        read_settings()

    result = probe.execute_in_process(resources={"postgres": PostgresResource(password=dg.EnvVar("POSTGRES_ADMIN_PASSWORD"))})
    assert result.success and result.output_for_node("read_settings") in ("replica", "logical", "minimal")
    assert len(seen) == 1 and seen[0].closed
    assert postgres_server.password not in repr(PostgresResource(password=postgres_server.password))
