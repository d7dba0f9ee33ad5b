"""The Oracle double's redo feed (what the Connect CDC source double tails) and the reconciliation
queries it answers (OracleSourcePlugin.source_rows, pipeline_defs/systems/oracle/plugin.py)."""

from __future__ import annotations

import datetime as dt
import json
import time
from types import SimpleNamespace

import oracledb
import pytest

from pipeline_defs.core import registry
from pipeline_defs.spec import load_spec
from pipeline_defs.systems.oracle import catalog, plan
from pipeline_defs.systems.oracle.plugin import OracleSourcePlugin
from pipeline_defs.systems.redis.compare import count_windows, to_epoch_ms
from tests.doubles.oracle_database import FakeOracleDatabase
from tests.doubles.oracle_errors import UnmodelledStatement
from tests.doubles.oracle_redo import epoch_millis
from tests.doubles.oracle_registry import TEST_ADMIN_PASSWORD, TEST_USER_PASSWORD, double_resource, register_database, unregister_database
from tests.doubles.oracle_seed import seed_oracle_spec

pytestmark = pytest.mark.unit

CLICKS = "C##MYUSER.POC_CLICKSTREAM"
INSERT_CLICK = (
    f"INSERT INTO {CLICKS} (EVENTID, ID, NAME, SESSIONID, EVENTTYPE, PAGEURL, EVENTTIMESTAMP) VALUES (:e, :i, :n, :s, :t, :u, :ts)"
)
T0 = dt.datetime(2026, 11, 24, 10, 0, 0)  # naive UTC, as the driver returns TIMESTAMP values
NOW = 1_795_000_000.25  # the double's clock (epoch seconds)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _provision(db: FakeOracleDatabase, key: str):
    resource = double_resource(db, key)
    spec = seed_oracle_spec()
    with resource.admin_client() as admin:
        state = catalog.read_catalog(spec, admin.query)
        admin.apply(plan.plan(spec, state, user_password=resource.password))
    return resource


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def redo_db(tmp_path, clock):
    """The seed provisioned on a double with a redo dir; yields (db, resource)."""
    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD, redo_dir=tmp_path / "redo", clock=clock)
    key = register_database(db)
    try:
        yield db, _provision(db, key)
    finally:
        unregister_database(key)


def _user_pool(db: FakeOracleDatabase):
    params = oracledb.PoolParams(host=db.host, port=db.port, service_name="ORCLCDB", user="C##MYUSER", min=0, max=2, increment=1)
    return db.create_pool(params=params, password=TEST_USER_PASSWORD)


def _click(n: int, name: str, ts: dt.datetime) -> dict:
    return {"e": str(n), "i": "101", "n": name, "s": "sess", "t": "page_view", "u": "https://example.com", "ts": ts}


def _lines(db: FakeOracleDatabase) -> list[dict]:
    text = db.redo_path.read_text(encoding="utf-8")
    assert text.endswith("\n")  # whole lines only
    return [json.loads(line) for line in text.splitlines()]


# ---- the redo feed ------------------------------------------------------------------------------------


def test_provisioning_logs_the_seed_rows_in_the_documented_format(redo_db):
    db, _ = redo_db
    lines = _lines(db)
    assert [(e["op"], e["table"]) for e in lines] == [("I", "POC_USERDATA"), ("I", "POC_CLICKSTREAM")]
    userdata, click = lines
    assert userdata == {
        "scn": userdata["scn"],
        "commit_scn": userdata["commit_scn"],
        "op": "I",
        "owner": "C##MYUSER",
        "table": "POC_USERDATA",
        "database": "ORCLCDB",
        "ts_ms": int(NOW * 1000),
        "row": {"ID": "101", "NAME": "jdoe"},
        "pk": ["ID"],
        "types": {"ID": "VARCHAR2(50)", "NAME": "VARCHAR2(50)"},
        "username": "SYS",
        "xid": userdata["xid"],  # provisioning inserts as the admin
    }
    assert click["pk"] == ["EVENTID"]
    assert click["types"] == {
        "EVENTID": "VARCHAR2(50)",
        "ID": "VARCHAR2(50)",
        "NAME": "VARCHAR2(50)",
        "SESSIONID": "VARCHAR2(50)",
        "EVENTTYPE": "VARCHAR2(50)",
        "PAGEURL": "VARCHAR2(255)",
        "EVENTTIMESTAMP": "TIMESTAMP",
    }
    # CURRENT_TIMESTAMP is the session's (UTC) time: epoch millis in the redo, a naive datetime in the table
    assert click["row"]["EVENTID"] == "1" and click["row"]["EVENTTIMESTAMP"] == int(NOW * 1000)
    stored = db.tables[("C##MYUSER", "POC_CLICKSTREAM")].rows[0]["EVENTTIMESTAMP"]
    assert stored == dt.datetime(2026, 11, 18, 11, 6, 40, 250000) and stored.tzinfo is None
    # SCNs: at least wall-clock epoch millis (so they never go back across sessions), strictly increasing
    assert userdata["scn"] < userdata["commit_scn"] < click["scn"] < click["commit_scn"] <= time.time() * 1000 + 10
    assert userdata["scn"] >= time.time() * 1000 - 60_000
    assert db.current_scn > click["commit_scn"]


def test_only_commits_reach_the_redo_in_statement_order(redo_db, clock):
    db, resource = redo_db
    before = len(_lines(db))
    pool = _user_pool(db)
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute(INSERT_CLICK, _click(2, "jdoe", T0))
        assert len(_lines(db)) == before  # not committed yet
        conn.rollback()
    assert len(_lines(db)) == before and len(db.tables[("C##MYUSER", "POC_CLICKSTREAM")].rows) == 1
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute(INSERT_CLICK, _click(3, "jdoe", T0))  # released without commit: rolled back
    assert len(_lines(db)) == before

    clock.now = NOW + 60
    with resource.client() as c:
        assert c.execute_many(INSERT_CLICK, [_click(n, "alice", T0 + dt.timedelta(seconds=n)) for n in (4, 5, 6)]) == 3
    new = _lines(db)[before:]
    assert [e["row"]["EVENTID"] for e in new] == ["4", "5", "6"]
    assert [e["row"]["EVENTTIMESTAMP"] for e in new] == [epoch_millis(T0) + n * 1000 for n in (4, 5, 6)]
    assert epoch_millis(T0) == int(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC).timestamp() * 1000)
    # one transaction: consecutive SCNs, one commit SCN, one xid, one commit time
    assert [e["scn"] for e in new] == list(range(new[0]["scn"], new[0]["scn"] + 3))
    assert {e["commit_scn"] for e in new} == {new[-1]["scn"] + 1}
    assert len({e["xid"] for e in new}) == 1 and {e["ts_ms"] for e in new} == {int((NOW + 60) * 1000)}


def test_update_and_delete_are_logged_with_their_images_and_undone_by_rollback(redo_db):
    db, resource = redo_db
    with resource.client() as c:
        c.execute_many(INSERT_CLICK, [_click(n, "jdoe", T0) for n in (10, 11, 12, 13)])
    rows = db.tables[("C##MYUSER", "POC_CLICKSTREAM")].rows
    snapshot = [dict(r) for r in rows]
    before = len(_lines(db))

    pool = _user_pool(db)
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE {CLICKS} SET NAME = :n, EVENTTYPE = :t WHERE EVENTID = :e", {"n": "x", "t": "y", "e": "10"})
        assert cur.rowcount == 1
        cur.execute(f"DELETE FROM {CLICKS} WHERE EVENTID IN (:a, :b)", {"a": "11", "b": "12"})
        assert cur.rowcount == 2 and len(rows) == 3
        conn.rollback()
    assert [dict(r) for r in rows] == snapshot and len(_lines(db)) == before

    with resource.client() as c:
        assert (
            c.execute(
                f"UPDATE {CLICKS} SET NAME = :n WHERE EVENTTIMESTAMP >= :since AND NAME = :old", {"n": "jsmith", "since": T0, "old": "jdoe"}
            )
            == "applied"
        )
        c.execute(f"DELETE FROM {CLICKS} WHERE EVENTID = :e", {"e": "13"})
    new = _lines(db)[before:]
    assert [(e["op"], e["row"]["EVENTID"]) for e in new] == [("U", "10"), ("U", "11"), ("U", "12"), ("U", "13"), ("D", "13")]
    update = new[0]
    assert update["row"]["NAME"] == "jsmith" and update["before"]["NAME"] == "jdoe"
    assert update["row"]["EVENTTIMESTAMP"] == update["before"]["EVENTTIMESTAMP"] == epoch_millis(T0)
    assert new[-1]["row"]["NAME"] == "jsmith" and "before" not in new[-1]
    assert new[-1]["scn"] > new[-2]["commit_scn"]  # a second transaction
    assert {r["EVENTID"] for r in rows} == {"1", "10", "11", "12"}


def test_dml_rules_the_double_keeps(redo_db):
    db, resource = redo_db
    pool = _user_pool(db)
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(20, "jdoe", T0))
        c.execute(INSERT_CLICK, _click(21, "jdoe", T0))
    with pool.acquire() as conn, conn.cursor() as cur:
        with pytest.raises(oracledb.IntegrityError) as e:  # the primary key holds on UPDATE too
            cur.execute(f"UPDATE {CLICKS} SET EVENTID = :e WHERE EVENTID = :old", {"e": "20", "old": "21"})
        assert e.value.args[0].full_code == "ORA-00001"
        with pytest.raises(oracledb.DatabaseError) as e:  # the driver's class for ORA-01407
            cur.execute(f"UPDATE {CLICKS} SET EVENTID = :e WHERE EVENTID = :old", {"e": None, "old": "21"})
        assert e.value.args[0].full_code == "ORA-01407"
        for sql, params in (
            (f"UPDATE {CLICKS} SET NAME = 'x' WHERE EVENTID = :e", {"e": "20"}),  # literals: use binds
            (f"UPDATE {CLICKS} SET NAME = :n", {"n": "x"}),  # no WHERE
            (f"DELETE FROM {CLICKS}", None),
            (f"DELETE FROM {CLICKS} WHERE NAME LIKE :n", {"n": "j%"}),
        ):
            with pytest.raises(UnmodelledStatement):
                cur.execute(sql, params)


def test_ddl_commits_pending_dml_and_scns_never_go_back(redo_db, clock):
    db, resource = redo_db
    pool = _user_pool(db)
    with pool.acquire() as conn, conn.cursor() as cur:
        cur.execute(INSERT_CLICK, _click(30, "jdoe", T0))
        cur.execute("CREATE TABLE C##MYUSER.OTHER (ID VARCHAR2(10) PRIMARY KEY)")  # implicit commit
        conn.rollback()
    last = _lines(db)[-1]
    assert last["row"]["EVENTID"] == "30"
    # another writer appended a line with a higher SCN (tests/doubles/connect_plugins/redo.py may):
    # the next commit goes above it
    ahead = last["scn"] + 10**9
    with db.redo_path.open("a") as f:
        f.write(
            json.dumps(
                {"scn": ahead, "op": "I", "owner": "C##MYUSER", "table": "POC_USERDATA", "row": {"ID": "x", "NAME": "y"}, "pk": ["ID"]}
            )
            + "\n"
        )
    # another database on the same directory (a later test, the same tailing reader) continues too
    again = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD, redo_dir=db.redo_dir, clock=clock)
    assert again.current_scn == ahead + 1
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(31, "jdoe", T0))
    assert _lines(db)[-1]["scn"] == ahead + 1


def test_without_a_redo_dir_nothing_is_written(oracle_db, tmp_path):
    assert oracle_db.redo_dir is None and oracle_db.redo_path is None and oracle_db.redo_entries() == []


def test_the_oracle_redo_db_fixture(oracle_redo_db):
    assert oracle_redo_db.redo_dir is not None and oracle_redo_db.redo_dir.is_dir()
    already = len(oracle_redo_db.redo_entries())
    _provision(oracle_redo_db, oracle_redo_db.key)
    entries = oracle_redo_db.redo_entries()[already:]
    assert [(e["op"], e["table"], e["database"]) for e in entries] == [
        ("I", "POC_USERDATA", "ORCLCDB"),
        ("I", "POC_CLICKSTREAM", "ORCLCDB"),
    ]
    assert oracle_redo_db.redo_lines_written == 2


# ---- the reconciliation queries -----------------------------------------------------------------------


def test_reconciliation_queries(redo_db):
    db, resource = redo_db
    db.drop_table_rows("C##MYUSER", "POC_CLICKSTREAM")
    clicks = [
        (1, "jdoe", T0),
        (2, "jdoe", T0 + dt.timedelta(minutes=1)),
        (3, "alice", T0 - dt.timedelta(minutes=5)),
        (4, "alice", T0 + dt.timedelta(seconds=30)),
        (5, "bob", None),
    ]
    with resource.client() as c:
        c.execute_many(INSERT_CLICK, [_click(n, name, ts) for n, name, ts in clicks])
        newest = c.query(f"SELECT NAME AS GROUP_VALUE, MAX(EVENTTIMESTAMP) AS EVENT_TIME FROM {CLICKS} GROUP BY NAME")
        recent = c.query(
            f"SELECT NAME AS GROUP_VALUE, EVENTTIMESTAMP AS EVENT_TIME FROM {CLICKS} WHERE EVENTTIMESTAMP >= :since", {"since": T0}
        )
        aware = c.query(
            f"SELECT NAME AS GROUP_VALUE, EVENTTIMESTAMP AS EVENT_TIME FROM {CLICKS} WHERE EVENTTIMESTAMP >= :since",
            {"since": T0.replace(tzinfo=dt.UTC)},
        )
    assert newest == [
        {"GROUP_VALUE": "alice", "EVENT_TIME": T0 + dt.timedelta(seconds=30)},
        {"GROUP_VALUE": "bob", "EVENT_TIME": None},  # MAX over NULLs
        {"GROUP_VALUE": "jdoe", "EVENT_TIME": T0 + dt.timedelta(minutes=1)},
    ]
    assert all(r["EVENT_TIME"] is None or r["EVENT_TIME"].tzinfo is None for r in newest)
    assert (
        recent
        == aware
        == [  # NULL >= :since is not true
            {"GROUP_VALUE": "jdoe", "EVENT_TIME": T0},
            {"GROUP_VALUE": "jdoe", "EVENT_TIME": T0 + dt.timedelta(minutes=1)},
            {"GROUP_VALUE": "alice", "EVENT_TIME": T0 + dt.timedelta(seconds=30)},
        ]
    )

    # exactly what the matches_oracle check runs: the sink's aggregate names table, group and event time
    spec = load_spec(env={})
    [agg] = [a for a in registry.engine_of(spec).aggregates(spec) if a.name == spec.sinks[0].object]
    assert (agg.source_table, agg.group_by, agg.event_time) == ("POC_CLICKSTREAM", "NAME", "EVENTTIMESTAMP")
    source, resources = OracleSourcePlugin(), SimpleNamespace(oracle=resource)

    def counts(since):
        since_ms = None if since is None else to_epoch_ms(since)
        return source.source_counts(spec, resources, agg, since_ms)

    def expect(*rows):
        return count_windows(rows, agg.window_ms)

    assert counts(T0) == expect(("jdoe", T0), ("jdoe", T0 + dt.timedelta(minutes=1)), ("alice", T0 + dt.timedelta(seconds=30)))
    assert counts(None) == expect(("alice", T0 + dt.timedelta(seconds=30)), ("jdoe", T0 + dt.timedelta(minutes=1)))
    assert counts(T0 + dt.timedelta(hours=1)) == expect(("alice", T0 + dt.timedelta(seconds=30)), ("jdoe", T0 + dt.timedelta(minutes=1)))


def test_unmodelled_query_shapes_still_raise(redo_db):
    db, _ = redo_db
    pool = _user_pool(db)
    with pool.acquire() as conn, conn.cursor() as cur:
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute(f"SELECT NAME, EVENTID AS X FROM {CLICKS} GROUP BY NAME")
        assert e.value.args[0].full_code == "ORA-00979"
        with pytest.raises(oracledb.DatabaseError) as e:
            cur.execute(f"SELECT NAME, MAX(NOPE) AS X FROM {CLICKS} GROUP BY NAME")
        assert e.value.args[0].full_code == "ORA-00904"
        for sql in (
            f"SELECT NAME AS G, MAX(EVENTTIMESTAMP) AS T FROM {CLICKS} GROUP BY NAME ORDER BY NAME",
            f"SELECT NAME AS G, AVG(EVENTID) AS T FROM {CLICKS} GROUP BY NAME",
            f"SELECT NAME AS G FROM {CLICKS} WHERE EVENTTIMESTAMP BETWEEN :a AND :b",
            f"SELECT NAME AS G, MAX(EVENTTIMESTAMP) AS T FROM {CLICKS} GROUP BY UPPER(NAME)",
        ):
            params = {"a": T0, "b": T0} if ":a" in sql else None
            with pytest.raises(UnmodelledStatement):
                cur.execute(sql, params)
        with pytest.raises(UnmodelledStatement, match="implicit conversion"):
            cur.execute(f"SELECT NAME AS G FROM {CLICKS} WHERE EVENTTIMESTAMP >= :s", {"s": "2026-11-24"})


# ---- what LogMiner would not return ---------------------------------------------------------------------


def _mined(db: FakeOracleDatabase) -> list[dict]:
    return db.redo_entries(minable_only=True)


def test_noarchivelog_commits_reach_the_table_but_not_the_mined_redo(redo_db):
    db, resource = redo_db
    mined_before = len(_mined(db))
    db.set_log_mode("NOARCHIVELOG")
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(40, "jdoe", T0))
    assert any(r["EVENTID"] == "40" for r in db.tables[("C##MYUSER", "POC_CLICKSTREAM")].rows)  # committed
    line = _lines(db)[-1]
    assert line["row"]["EVENTID"] == "40" and line["minable"] is False
    assert line["unminable"] == "the database is in NOARCHIVELOG mode (ARCHIVELOG is off)"
    assert len(_mined(db)) == mined_before and db.redo_lines_unminable == 1  # the CDC topic never gets it

    db.set_log_mode("ARCHIVELOG")
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(41, "jdoe", T0))
    assert [e["row"]["EVENTID"] for e in _mined(db)[mined_before:]] == ["41"]
    assert "minable" not in _lines(db)[-1]


def test_tables_without_supplemental_logging_lose_their_changes(redo_db):
    db, resource = redo_db
    mined_before = len(_mined(db))
    db.drop_log_group("C##MYUSER", "POC_CLICKSTREAM")  # a provisioning gap on one table
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(50, "jdoe", T0))
        c.execute("INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:i, :n)", {"i": "150", "n": "still logged"})
    new = _lines(db)[-2:]
    assert [(e["table"], e.get("minable", True)) for e in new] == [("POC_CLICKSTREAM", False), ("POC_USERDATA", True)]
    assert new[0]["unminable"] == "C##MYUSER.POC_CLICKSTREAM has no ALL COLUMN supplemental log group"
    assert [e["table"] for e in _mined(db)[mined_before:]] == ["POC_USERDATA"]

    # minimal supplemental logging off: nothing at all is minable, whatever the tables have
    db.set_supplemental_logging(minimal="NO")
    with resource.client() as c:
        c.execute("INSERT INTO C##MYUSER.POC_USERDATA (ID, NAME) VALUES (:i, :n)", {"i": "151", "n": "lost"})
    assert _lines(db)[-1]["unminable"].startswith("minimal supplemental logging is off")
    # database-wide ALL COLUMNS logging covers every table (and implies minimal logging)
    db.set_supplemental_logging(minimal="IMPLICIT", all_columns="YES")
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(51, "jdoe", T0))
    assert "minable" not in _lines(db)[-1]
    assert [e["row"].get("EVENTID") or e["row"]["ID"] for e in _mined(db)[mined_before:]] == ["150", "51"]


def test_a_provisioned_database_logs_everything(redo_db):
    db, resource = redo_db
    with resource.client() as c:
        c.execute(INSERT_CLICK, _click(60, "jdoe", T0))
    assert db.redo_lines_unminable == 0 and _mined(db) == _lines(db)


# ---- explicit event times -------------------------------------------------------------------------------


def test_explicit_event_times_are_logged_as_given_and_window_by_event_time(redo_db, clock):
    """Rows inserted now with event times minutes in the past, out of order, across minute boundaries:
    the redo carries each EVENTTIMESTAMP as given (ts_ms is the commit time), so the ksqlDB double's
    windowed count puts each row in the minute of its own event time."""
    from tests.doubles.ksql_windowed_count import WindowedCount

    db, resource = redo_db
    before = len(_lines(db))
    now = dt.datetime.fromtimestamp(NOW, tz=dt.UTC).replace(tzinfo=None)
    minute = now.replace(second=0, microsecond=0)
    events = [  # (event id, name, event time)
        (70, "jdoe", minute - dt.timedelta(minutes=3) + dt.timedelta(seconds=59, microseconds=999000)),
        (71, "jdoe", minute - dt.timedelta(minutes=2)),
        (72, "alice", minute - dt.timedelta(minutes=5, seconds=-1)),
        (73, "jdoe", minute - dt.timedelta(minutes=3)),
    ]
    with resource.client() as c:
        c.execute_many(INSERT_CLICK, [_click(n, name, ts) for n, name, ts in events])
    new = _lines(db)[before:]
    assert [e["row"]["EVENTTIMESTAMP"] for e in new] == [epoch_millis(ts) for _, _, ts in events]
    assert {e["ts_ms"] for e in new} == {int(NOW * 1000)}  # commit time, not event time

    wc = WindowedCount(60_000, 10 * 60_000, cache_max_bytes=0)
    for e in new:
        wc.add(e["row"]["NAME"], e["row"]["NAME"].encode(), e["row"]["EVENTTIMESTAMP"])
    m0 = epoch_millis(minute)
    assert wc.counts() == {("jdoe", m0 - 3 * 60_000): 2, ("jdoe", m0 - 2 * 60_000): 1, ("alice", m0 - 5 * 60_000): 1}
    assert all(start + 60_000 <= int(NOW * 1000) for _, start in wc.counts())  # all in the past
