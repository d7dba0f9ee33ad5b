"""The WAL retention guard on the real PostgreSQL: an inactive logical slot of a connector the spec names holds
back WAL while rows are written and segments switched; the `wal_retention` asset check (the product's check
definition, run with the real postgres resource) says WARN first, then ERROR once the retained WAL passes the
spec's error threshold. A database of its own: the check also judges every other logical slot of its database,
and the session stack's other tests keep theirs in `cdc`."""

from __future__ import annotations

import os
import uuid

import dagster as dg
import pytest
import yaml

from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import parse_spec
from pipeline_defs.systems.postgres import db
from pipeline_defs.systems.postgres.dagster_checks import postgres_checks
from resources.postgres import PostgresResource
from tests.integration.local_env import renamed_spec

pytestmark = pytest.mark.integration

WARN_BYTES, ERROR_BYTES = 1, 8 * 1024 * 1024  # WAL segments are 16 MiB: two switches pass the error threshold


def _admin(dbname: str):
    e = os.environ
    return db.connect(e["POSTGRES_HOST"], int(e["POSTGRES_PORT"]), dbname, e["POSTGRES_ADMIN_USER"], e["POSTGRES_ADMIN_PASSWORD"])


@pytest.fixture
def database(stack):
    name = f"ret_{uuid.uuid4().hex[:6]}"
    with _admin(os.environ["POSTGRES_DB"]) as a:
        a.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin(os.environ["POSTGRES_DB"]) as a:
            for (slot,) in a.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s", [name]).fetchall():
                a.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            a.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_inactive_slot_warns_then_errors_past_the_spec_threshold(database, tmp_path):
    tag = database.removeprefix("ret_")
    doc = renamed_spec(tag)
    doc["source"]["database"] = database
    doc["source"]["wal_retention"] = {"warn_bytes": WARN_BYTES, "error_bytes": ERROR_BYTES}
    spec = parse_spec(yaml.safe_dump(doc), str(tmp_path / "pipeline.yaml"), env=os.environ)
    lineage = build_lineage(spec)
    [publication] = lineage.by_kind("postgres_publication")
    [check] = [c for c in postgres_checks(publication, lineage) if next(iter(c.check_keys)).name == "wal_retention"]
    postgres = PostgresResource(
        host=os.environ["POSTGRES_HOST"],
        port=int(os.environ["POSTGRES_PORT"]),
        dbname=database,
        user=os.environ["POSTGRES_ADMIN_USER"],
        password=dg.EnvVar("POSTGRES_ADMIN_PASSWORD"),
    )

    def evaluate() -> dg.AssetCheckResult:
        with dg.build_op_context(resources={"postgres": postgres}) as ctx:
            return check(ctx)

    slot = spec.source.connectors[0].slot_name  # a connector the spec names, never started: its slot stays inactive
    with _admin(database) as a:
        a.execute("CREATE TABLE filler (id serial PRIMARY KEY, pad text)")
        a.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot])
        a.execute("INSERT INTO filler (pad) SELECT repeat('x', 100) FROM generate_series(1, 10)")

        warn = evaluate()
        md = {k: v.value for k, v in warn.metadata.items()}
        assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN, md
        assert md["severity"] == "WARN" and (md["warn_bytes"], md["error_bytes"]) == (WARN_BYTES, ERROR_BYTES)
        [s] = md["slots"]
        assert (s["slot_name"], s["active"], s["managed"], s["severity"]) == (slot, False, True, "WARN")
        assert WARN_BYTES <= md["max_retained_wal_bytes"] < ERROR_BYTES
        assert f"slot {slot} retains" in md["problem"] and "warning at 1" in md["problem"]

        for _ in range(2):  # the slot pins its restart_lsn: every segment written from here on is retained
            a.execute("INSERT INTO filler (pad) SELECT repeat('y', 100) FROM generate_series(1, 100)")
            a.execute("SELECT pg_switch_wal()")
        error = evaluate()
    md = {k: v.value for k, v in error.metadata.items()}
    assert not error.passed and error.severity == dg.AssetCheckSeverity.ERROR, md
    assert md["severity"] == "ERROR" and md["max_retained_wal_bytes"] >= ERROR_BYTES
    assert f"(error at {ERROR_BYTES})" in md["problem"]
    [s] = md["slots"]
    assert s["slot_name"] == slot and s["severity"] == "ERROR" and s["confirmed_flush_lsn"] is not None
