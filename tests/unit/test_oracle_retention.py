"""The Oracle redo-retention guard: offsets -> resume SCN, logs -> horizon, and the judgement; and the
Oracle double's V$ARCHIVED_LOG / V$LOG / CURRENT_SCN read through the real probe SQL."""

from __future__ import annotations

import itertools

import pytest

from pipeline_defs.systems.oracle import retention as ret

pytestmark = pytest.mark.unit


def test_resume_scn_reads_both_flavors_offsets():
    # Confluent contract double: {"database": ...} -> {"scn": int, "pos": int}
    assert ret.resume_scn([{"partition": {"database": "ORCLCDB"}, "offset": {"scn": 1200, "pos": 77}}]) == 1200
    # Debezium Oracle: scn as a decimal string; snapshot_scn (the first streaming run rewinds to it) counts
    dbz = {"scn": "5000", "commit_scn": "5004:1:0a001b00", "snapshot_scn": "4900", "snapshot_commit_scn": "5000"}
    assert ret.resume_scn([{"partition": {"server": "ORCLCDB"}, "offset": dbz}]) == 4900
    # several partitions: the oldest position decides; offsets without an SCN are no position
    assert ret.resume_scn([{"offset": {"scn": "10"}}, {"offset": {"scn": 7}}, {"offset": None}]) == 7
    assert ret.resume_scn([]) is None
    # a deleted connector's offsets stay in Connect under its name: another database's partition is not a position
    stale = [{"partition": {"database": "OLDDB"}, "offset": {"scn": 3}}, {"partition": {"database": "ORCLCDB"}, "offset": {"scn": 9}}]
    assert ret.resume_scn(stale, "orclcdb") == 9 and ret.resume_scn(stale) == 3
    assert ret.resume_scn([{"partition": {"server": "OLDDB"}, "offset": {"scn": "3"}}], "ORCLCDB") is None
    assert ret.resume_scn([{"offset": {"lcr_position": "0000abc"}}]) is None
    assert ret.resume_scn([{"offset": {"scn": "not-a-number", "x": True}}]) is None
    # any integer *scn key counts, the lowest wins; other keys and Debezium's composite commit_scn do not
    assert ret.resume_scn([{"offset": {"scn": 900, "safe_resume_scn": "850", "pos": 3, "txId": 12}}]) == 850
    assert ret.resume_scn([{"offset": {"scn": "40", "commit_scn": "41:1:tx", "description": 1}}]) == 40


def _arch(seq, first, thread=1):
    return {"THREAD#": thread, "SEQUENCE#": seq, "FIRST_CHANGE#": first, "NEXT_CHANGE#": first + 100}


def test_horizon_is_the_start_of_the_unbroken_chain():
    online = [
        {"THREAD#": 1, "SEQUENCE#": 5, "FIRST_CHANGE#": 500, "STATUS": "CURRENT"},
        {"THREAD#": 1, "SEQUENCE#": 4, "FIRST_CHANGE#": 400, "STATUS": "INACTIVE"},
        {"THREAD#": 1, "SEQUENCE#": 0, "FIRST_CHANGE#": 0, "STATUS": "UNUSED"},
    ]
    full = ret.horizon(ret.log_files([_arch(s, s * 100) for s in (1, 2, 3, 4)], online))
    assert (full.scn, full.logs, full.gap) == (100, 5, None)
    # sequence 2 purged while 1 survived: mining cannot cross the gap
    gap = ret.horizon(ret.log_files([_arch(s, s * 100) for s in (1, 3, 4)], online))
    assert gap.scn == 300 and "sequence 2 is gone" in gap.gap
    # every archived copy purged: the online logs remain
    assert ret.horizon(ret.log_files([], online)).scn == 400
    assert ret.horizon([]).scn is None
    # logs of an earlier incarnation (sequences restart after OPEN RESETLOGS) do not count
    old_inc = [{**_arch(9, 50), "RESETLOGS_CHANGE#": 7}, {**_arch(10, 60), "RESETLOGS_CHANGE#": 7}]
    mixed = [{**_arch(s, s * 100), "RESETLOGS_CHANGE#": 40} for s in (1, 2, 3, 4)] + old_inc
    assert ret.horizon(ret.log_files(mixed, online, 40)).scn == 100
    # RAC: every thread must cover the SCN
    rac = ret.horizon(ret.log_files([_arch(1, 100, 1), _arch(2, 200, 1), _arch(7, 150, 2)], []))
    assert rac.scn == 150


def test_judge_ok_warn_error_and_no_offset():
    hz = ret.Horizon(1000, 4)
    ok, md = ret.judge({"a": 5000}, hz, 9000, 1000, "fix it")
    assert ok and md["severity"] == "OK" and md["connectors"][0]["scn_ahead_of_horizon"] == 4001
    assert md["connectors"][0]["scn_behind_current"] == 4000
    ok, md = ret.judge({"a": 1500, "b": 9000}, hz, 9000, 1000, "fix it")
    assert not ok and md["severity"] == "WARN" and "a resumes at SCN 1501, only 501 SCNs" in md["problem"]
    assert [c["severity"] for c in md["connectors"]] == ["WARN", "OK"]
    # exactly at the horizon is still minable (a WARN: no margin left); one below is not
    ok, md = ret.judge({"a": 999}, hz, 9000, 1, "fix it")
    assert not ok and md["severity"] == "WARN" and "only 0 SCNs" in md["problem"]
    ok, md = ret.judge({"a": 998, "b": 1500}, hz, 9000, 1000, "restore or re-snapshot")
    assert not ok and md["severity"] == "ERROR"
    assert "a resumes at SCN 999, but the oldest redo still available starts at SCN 1000" in md["problem"]
    assert "restore or re-snapshot" in md["problem"] and "b resumes at SCN 1501" in md["problem"]
    ok, md = ret.judge({"a": None}, hz, 9000, 1000, "x")
    assert ok and "no committed offset yet" in md["connectors"][0]["note"] and "problem" not in md
    ok, md = ret.judge({"a": 20000}, hz, 9000, 1000, "x")
    assert not ok and md["severity"] == "WARN" and "beyond the database's CURRENT_SCN" in md["problem"]
    ok, md = ret.judge({"a": 5}, ret.Horizon(None, 0), 9000, 1000, "x")
    assert ok and "no redo log" in md["connectors"][0]["note"]


def test_double_archives_purges_and_answers_the_probes(oracle_db, oracle_resource):
    db = oracle_db
    first = db.switch_logfile()
    assert first["SEQUENCE#"] == 1 and first["DELETED"] == "NO" and first["STATUS"] == "A"
    for _ in range(3):
        db.switch_logfile()
    with oracle_resource.admin_client() as admin:
        archived = admin.query(ret.ARCHIVED_LOGS_SQL)
        online = admin.query(ret.ONLINE_LOGS_SQL)
        current = admin.query(ret.CURRENT_SCN_SQL)
    assert [r["SEQUENCE#"] for r in archived] == [1, 2, 3, 4]
    assert [r["STATUS"] for r in online] == ["INACTIVE", "INACTIVE", "CURRENT"] and online[-1]["SEQUENCE#"] == 5
    # consecutive logs meet: each NEXT_CHANGE# is the next log's FIRST_CHANGE#
    assert all(a["NEXT_CHANGE#"] == b["FIRST_CHANGE#"] for a, b in itertools.pairwise(archived))
    assert current[0]["CURRENT_SCN"] >= archived[-1]["NEXT_CHANGE#"]
    assert {r["RESETLOGS_CHANGE#"] for r in archived} == {current[0]["RESETLOGS_CHANGE#"]}
    assert ret.horizon(ret.log_files(archived, online)).scn == first["FIRST_CHANGE#"]

    assert db.redo_horizon() == first["FIRST_CHANGE#"]
    assert db.purge_archived_logs(through_sequence=2) == 2
    assert db.redo_horizon() == archived[2]["FIRST_CHANGE#"]
    with oracle_resource.admin_client() as admin:
        left = admin.query(ret.ARCHIVED_LOGS_SQL)
        gone = admin.query("SELECT SEQUENCE# FROM V$ARCHIVED_LOG WHERE DELETED = 'YES' AND STATUS = 'D'")
        online = admin.query(ret.ONLINE_LOGS_SQL)
    assert [r["SEQUENCE#"] for r in left] == [3, 4] and [r["SEQUENCE#"] for r in gone] == [1, 2]
    assert ret.horizon(ret.log_files(left, online)).scn == left[0]["FIRST_CHANGE#"]
    # purging the archived copies of logs still online leaves the online groups as the horizon
    db.purge_archived_logs(until_scn=current[0]["CURRENT_SCN"])
    with oracle_resource.admin_client() as admin:
        assert admin.query(ret.ARCHIVED_LOGS_SQL) == []
        online = admin.query(ret.ONLINE_LOGS_SQL)
    assert ret.horizon(ret.log_files([], online)).scn == online[0]["FIRST_CHANGE#"]
    with pytest.raises(ValueError, match="through_sequence or until_scn"):
        db.purge_archived_logs()


def test_purge_publishes_the_horizon_for_the_cdc_source_double(tmp_path):
    import json

    from tests.doubles.oracle_database import FakeOracleDatabase

    db = FakeOracleDatabase(redo_dir=tmp_path, redo_database="RETDB")
    rows = [db.switch_logfile() for _ in range(4)]
    assert not (tmp_path / "archived-logs.RETDB.json").exists()  # nothing purged: every log since the start
    db.purge_archived_logs(through_sequence=2)
    published = json.loads((tmp_path / "archived-logs.RETDB.json").read_text())
    assert published == {"database": "RETDB", "horizon_scn": rows[2]["FIRST_CHANGE#"]}
