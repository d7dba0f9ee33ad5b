"""The pure decisions of the data rebuild (rebuild_decisions), of connector offsets (connect/offsets)
and of the Redis persistence finding: a simulated sequence of check evaluations through the backoff."""

from __future__ import annotations

import pytest

from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.offsets import offset_rows, sink_offset, sink_positions, validate_entries
from pipeline_defs.systems.redis import rebuild_decisions as rd
from pipeline_defs.systems.redis.persistence import persistence_state

pytestmark = pytest.mark.unit
POLICY = HealthPolicy(backoff_minutes=(0, 2, 6), max_restarts=3)


def fail(i: int, *problems: str, rebuild: bool = False) -> rd.CheckObservation:
    return rd.CheckObservation(i, False, problems or ("count",), rebuild)


def ok(i: int) -> rd.CheckObservation:
    return rd.CheckObservation(i, True)


def test_a_new_failure_rebuilds_once_and_the_same_evaluation_never_again():
    mem = rd.SinkMemory()
    d = rd.decide_rebuild("s", fail(5, "missing_in_redis", "count"), mem, 0, POLICY)
    assert (d.action, d.attempt, d.detail["problems"]) == ("rebuild", 1, ["count", "missing_in_redis"])
    assert rd.decide_rebuild("s", fail(5), mem, 60, POLICY).reason == "no_new_evaluation"


def test_backoff_between_attempts_then_the_incident_once_attempts_are_spent():
    mem = rd.SinkMemory()
    assert rd.decide_rebuild("s", fail(1), mem, 0, POLICY).action == "rebuild"
    d = rd.decide_rebuild("s", fail(2), mem, 60, POLICY)  # 1 minute later; the 2nd attempt waits 2
    assert (d.action, d.reason) == ("none", "backoff") and d.detail["next_rebuild_in_minutes"] == 1.0
    assert rd.decide_rebuild("s", fail(2), mem, 121, POLICY).action == "rebuild"  # the same evaluation, after the wait
    assert rd.decide_rebuild("s", fail(3), mem, 121 + 6 * 60, POLICY).action == "rebuild"
    d = rd.decide_rebuild("s", fail(4), mem, 121 + 12 * 60 + 1, POLICY)
    assert (d.action, d.reason, d.attempt) == ("incident", "exhausted", 3)
    for i, t in ((5, 10_000), (6, 20_000)):  # one incident, not a loop
        assert rd.decide_rebuild("s", fail(i), mem, t, POLICY).reason == "exhausted"


def test_a_failed_rebuild_recheck_is_its_own_incident_and_stops_the_loop_until_a_pass():
    mem = rd.SinkMemory()
    assert rd.decide_rebuild("s", fail(1), mem, 0, POLICY).action == "rebuild"
    assert rd.decide_rebuild("s", fail(2, rebuild=True), mem, 30, POLICY).reason == "rebuild_failed"
    assert rd.decide_rebuild("s", fail(3), mem, 10_000, POLICY).reason == "exhausted"
    assert rd.decide_rebuild("s", ok(4), mem, 10_100, POLICY).reason == "passing"
    # passing again opens the way; the count is kept until the check has been stable a whole backoff step
    d = rd.decide_rebuild("s", fail(5), mem, 10_200, POLICY)
    assert (d.action, d.attempt) == ("rebuild", 2)


def test_the_attempt_count_resets_after_a_stable_stretch():
    mem = rd.SinkMemory()
    rd.decide_rebuild("s", fail(1), mem, 0, POLICY)
    rd.decide_rebuild("s", ok(2), mem, 100, POLICY)
    rd.decide_rebuild("s", ok(2), mem, 100 + 2 * 60, POLICY)  # stable for the 2-minute step
    assert mem.attempts == 0
    assert rd.decide_rebuild("s", fail(3), mem, 400, POLICY).attempt == 1


def test_problems_a_replay_cannot_fix_are_left_to_a_person():
    mem = rd.SinkMemory()
    d = rd.decide_rebuild("s", fail(1, "not_in_source", "unreadable_key"), mem, 0, POLICY)
    assert (d.action, d.reason) == ("none", "not_rebuildable") and mem.attempts == 0
    assert rd.decide_rebuild("s", None, mem, 0, POLICY).reason == "no_evaluation"


def test_memory_survives_the_cursor_and_a_bad_cursor_starts_fresh():
    mem = rd.RebuildMemory({"s": rd.SinkMemory(2, 10.0, 7, True, None)})
    assert rd.RebuildMemory.from_cursor(mem.to_cursor()) == mem
    assert rd.RebuildMemory.from_cursor("{not json") == rd.RebuildMemory()


def R(p, off, name, w):
    return rd.TopicRecord(p, off, name, w)


def test_replay_starts_at_the_earliest_last_record_of_the_needed_windows():
    records = [R(0, 0, "jdoe", 0), R(0, 1, "jdoe", 60), R(0, 2, "rsmith", 60), R(0, 3, "jdoe", 60), R(0, 4, "amary", 60)]
    plan = rd.plan_replay(records, {"jdoe": 60, "rsmith": 60}, {0: (0, 5)}, "T")
    assert plan.possible and plan.offsets == {0: 2}  # rsmith's only record; jdoe's last is at 3
    assert rd.plan_replay(records, {"amary": 60}, {0: (0, 5)}, "T").offsets == {0: 4}


def test_replay_names_the_cause_when_the_topic_lost_the_windows():
    assert "does not exist" in rd.plan_replay([], {"jdoe": 60}, None, "T").cause
    assert "is empty" in rd.plan_replay([], {"jdoe": 60}, {0: (0, 0)}, "T").cause
    cut = rd.plan_replay([R(0, 7, "jdoe", 0)], {"jdoe": 60}, {0: (7, 8)}, "T")
    assert not cut.possible and cut.missing == {"jdoe": 60} and "retention deleted records up to offset p0:7" in cut.cause
    never = rd.plan_replay([R(0, 0, "jdoe", 0)], {"jdoe": 60}, {0: (0, 1)}, "T")
    assert "holds no record of the needed windows" in never.cause


def test_lag_and_cdc_topic_verdicts():
    assert rd.lag_settled({0: 10, 1: 3}, {0: 10, 1: 3}) and not rd.lag_settled({0: 9}, {0: 10})
    assert rd.lag_settled({}, {0: 0})  # an empty partition needs no commit
    assert rd.cdc_topics_complete({"cdc.a": {0: (0, 9)}}) == ""
    assert "cdc.a was truncated (records before offset p0:4" in rd.cdc_topics_complete({"cdc.a": {0: (4, 9)}})
    assert "cdc.b does not exist" in rd.cdc_topics_complete({"cdc.b": None})


def test_sink_offset_entries_are_validated_with_their_position():
    e = sink_offset("T", 0, 5)
    assert validate_entries([e], "sink") == [e] and sink_positions([e]) == {("T", 0): 5}
    assert validate_entries([sink_offset("T", 1, None)], "sink")[0]["offset"] is None
    assert validate_entries([{"partition": e["partition"], "offset": {}}], "sink")[0]["offset"] is None
    with pytest.raises(ValueError, match=r"offsets\[0\].offset: a sink offset is"):
        validate_entries([{"partition": {"kafka_topic": "T", "kafka_partition": 0}, "offset": {"kafka_offset": -1}}], "sink")
    with pytest.raises(ValueError, match=r"offsets\[1\].partition"):
        validate_entries([e, {"partition": {"topic": "T"}, "offset": None}], "sink")
    with pytest.raises(ValueError, match="at least one"):
        validate_entries([], "source")
    src = {"partition": {"server": "cdc"}, "offset": {"lsn": 123}}
    assert validate_entries([src], "source") == [src]
    assert offset_rows([src]) == [{"partition": '{"server":"cdc"}', "offset": '{"lsn":123}'}]


def test_redis_without_aof_or_rdb_is_a_finding():
    ok_aof, md = persistence_state({"aof_enabled": 1, "aof_last_write_status": "ok"}, {"appendonly": "yes", "save": ""})
    assert ok_aof and md["aof"] and "problem" not in md
    ok_rdb, _ = persistence_state({"aof_enabled": 0}, {"appendonly": "no", "save": "3600 1"})
    assert ok_rdb
    bad, md = persistence_state({"aof_enabled": 0}, {"appendonly": "no", "save": ""})
    assert not bad and "neither AOF" in md["problem"]
    broken, md = persistence_state({"aof_enabled": 1, "aof_last_write_status": "err"}, {"appendonly": "yes", "save": ""})
    assert not broken and "last write failed" in md["problem"]


def test_no_rebuild_while_the_pipeline_before_redis_is_down_then_the_next_evaluation_is_judged():
    # the TaskManager died: the data check fails (Redis behind) in the same run as the engine's job_running
    mem = rd.SinkMemory()
    down = rd.CheckObservation(7, False, ("count",), upstream_failed=("flink/USER_AGGREGATE_EVENTS:job_running",), lag_only=True)
    d = rd.decide_rebuild("s", down, mem, 0, POLICY)
    assert (d.action, d.reason, d.detail["checks"]) == ("none", "upstream_unhealthy", ["flink/USER_AGGREGATE_EVENTS:job_running"])
    assert mem.attempts == 0 and mem.seen_id == 7 and not mem.exhausted  # no attempt spent, no incident
    assert rd.decide_rebuild("s", down, mem, 30, POLICY).reason == "no_new_evaluation"
    # upstream checks still running: wait without marking the evaluation seen
    pending = rd.CheckObservation(8, False, ("count",), upstream_pending=("connect/redis-sink-json:running",), lag_only=True)
    assert rd.decide_rebuild("s", pending, mem, 40, POLICY).reason == "upstream_pending" and mem.seen_id == 7
    # pipeline running again and Redis still wrong: now it is Redis's to rebuild
    d = rd.decide_rebuild("s", fail(8, "missing_in_redis"), mem, 60, POLICY)
    assert (d.action, d.attempt) == ("rebuild", 1)


def test_the_sensor_reads_upstream_health_checks_of_the_keyspace():
    import dagster as dg

    from pipeline_defs.lineage import build_lineage
    from pipeline_defs.spec import load_spec
    from pipeline_defs.systems.redis.rebuild_sensor import upstream_check_keys

    spec = load_spec("pipeline.local.yaml")
    lineage = build_lineage(spec)
    [node] = lineage.by_kind("redis_keys")
    keys = {k.to_user_string() for k in upstream_check_keys(lineage, node.key)}
    assert {"connect/redis-sink-json:running", "connect/pg-clickstream:running", "flink/USER_AGGREGATE_EVENTS:job_running"} <= keys
    assert not any(k.startswith("redis/") for k in keys)  # its own checks are not upstream
    assert dg.AssetCheckKey(dg.AssetKey(["connect", "pg-userdata"]), "running").to_user_string() not in keys  # another table's connector


def test_data_an_outage_cannot_explain_is_rebuilt_even_while_the_pipeline_is_down():
    # a count above the source (a corrupted key): the rebuild runs, and if it cannot succeed its incident names why
    mem = rd.SinkMemory()
    obs = rd.CheckObservation(3, False, ("count",), upstream_failed=("flink/X:job_running",), lag_only=False)
    assert rd.decide_rebuild("s", obs, mem, 0, POLICY).action == "rebuild"


def test_lag_only_is_judged_from_the_mismatch_table():
    from pipeline_defs.systems.redis.rebuild_sensor import _short_of_source

    assert _short_of_source({"problem": "count", "redis_count": 3, "source_count": 5})
    assert _short_of_source({"problem": "missing_in_redis", "redis_count": "", "source_count": 2})
    assert _short_of_source({"problem": "behind"})
    assert not _short_of_source({"problem": "count", "redis_count": 77, "source_count": 2})
    assert not _short_of_source({"problem": "wrong_key"})


def test_redis_only_short_of_the_source_is_rebuilt_once_a_later_check_confirms_it_past_the_grace():
    mem = rd.SinkMemory()

    def short(i):
        return rd.CheckObservation(i, False, ("count", "missing_in_redis"), lag_only=True)

    d = rd.decide_rebuild("s", short(1), mem, 0, POLICY, lag_grace_seconds=120)
    assert (d.action, d.reason, d.detail["recheck_after_seconds"]) == ("none", "lag_grace", 120)
    assert rd.decide_rebuild("s", short(2), mem, 60, POLICY, lag_grace_seconds=120).reason == "lag_grace"
    # the pipeline caught up: the grace starts over
    assert rd.decide_rebuild("s", ok(3), mem, 90, POLICY, lag_grace_seconds=120).reason == "passing"
    assert rd.decide_rebuild("s", short(4), mem, 100, POLICY, lag_grace_seconds=120).reason == "lag_grace"
    assert rd.decide_rebuild("s", short(4), mem, 300, POLICY, lag_grace_seconds=120).reason == "no_new_evaluation"
    d = rd.decide_rebuild("s", short(5), mem, 221, POLICY, lag_grace_seconds=120)
    assert (d.action, d.attempt) == ("rebuild", 1) and mem.attempts == 1
    # a count above the source is never lag: at once
    mem2 = rd.SinkMemory()
    assert rd.decide_rebuild("s", fail(1, "count"), mem2, 0, POLICY, lag_grace_seconds=120).action == "rebuild"
