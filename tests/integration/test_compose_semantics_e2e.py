"""The compose profile's data semantics end to end (issue 14): Oracle double -> Confluent Oracle CDC double in the
real Connect worker -> real Kafka -> ksqlDB double running the spec's statements on the real topics -> OUR Redis sink
in the real worker -> real Redis, provisioned by the Dagster jobs (tests/integration/pipeline_env.py).

- "Count of the click rows that exist" per NAME and 1-minute event-time window: rows with explicit event times, a
  minute and more before the newest one and across minute boundaries; an update that keeps NAME and event time
  changes no count; an update that moves NAME or event time moves the row's count; a delete retracts it. The seed's
  pipeline (op_type dropped, COUNT(*) over the change records) counts every update as one more click, so the
  reconciliation check below fails on it.
- Late events: a late row inside the grace period updates its older window in Kafka, but the Redis key keeps the
  newest window.

Every wait is for a state (Redis documents equal to what the source says), then the check runs once.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pipeline_defs.systems.oracle.catalog import insert_statement
from pipeline_defs.systems.oracle.sql import Statement
from tests.integration.pipeline_env import checks, pipeline_env, run

pytestmark = pytest.mark.integration

MINUTE = 60_000
PREFIX = "USER_AGGREGATE_EVENTS:"


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    yield from pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)


@pytest.fixture(scope="module")
def windows(env):
    """(P, C): the start of the previous and of the current minute when the module starts, epoch ms. Every row
    lies in one of them; the newest at C + 50 s, so P stays inside the 1-minute grace (its end C > C + 50 s - 60 s)."""
    now = int(time.time() * 1000)
    c = now - now % MINUTE
    return c - MINUTE, c


def _ts(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)  # naive UTC, as the CDC connectors read it


def _apply(env, *statements: Statement) -> None:
    with env.resources["oracle"].admin_client() as admin:
        admin.apply(statements)


def _insert(env, eventid: str, name: str, at_ms: int) -> Statement:
    table = env.spec.source.table("POC_CLICKSTREAM")
    row = {
        "EVENTID": eventid,
        "ID": "101",
        "NAME": name,
        "SESSIONID": "s14",
        "EVENTTYPE": "click",
        "PAGEURL": "https://example.com/p",
        "EVENTTIMESTAMP": _ts(at_ms),
    }
    return insert_statement(env.spec.source.user.name, table, row)


def _dml(env, sql: str, **params) -> Statement:
    owner = env.spec.source.user.name
    sql = sql.replace("T.", f"{owner}.POC_CLICKSTREAM")
    return Statement(kind="seed_rows", sql=sql, display=sql, params=params)


def _wait_docs(env, want: dict[str, tuple[int, int]], timeout: float = 90.0) -> dict:
    """Until every NAME in `want` has the document {window start, count} in Redis; the documents."""
    deadline = time.monotonic() + timeout
    docs: dict = {}
    while time.monotonic() < deadline:
        docs = env.redis.read_prefix(PREFIX)
        got = {k[len(PREFIX) :]: (d.get("WINDOW_START"), d.get("EVENT_COUNT")) for k, d in docs.items() if isinstance(d, dict)}
        if all(got.get(n) == w for n, w in want.items()):
            return docs
        time.sleep(0.5)
    raise AssertionError(f"Redis never held {want}; it holds {got}")


def _matches_oracle(env):
    dq = run(env, "data_quality")
    return checks(dq)["redis/USER_AGGREGATE_EVENTS:matches_oracle"]


def test_1_provisioned_with_the_deltas_stream_and_our_sink(env):
    result = run(env, "provision_pipeline")
    assert result.success, [str(ev.event_specific_data) for ev in result.all_events if ev.is_failure]
    cfg = env.connect.get_config("redis-sink-json")
    assert cfg["connector.class"] == "com.cdcplane.redis.RedisJsonSinkConnector" and cfg["redis.window.field"] == "WINDOW_START"
    src = env.connect.get_config("clickstream_avro")
    assert (src["output.op.type.field"], src["output.before.state.field"]) == ("OP_TYPE", "BEFORE_STATE")
    assert "op_type" not in src["transforms.dropExtraFields.blacklist"]
    writers = sorted(q.id.split("_")[0] for q in env.ksql.queries.values() if q.sink == "POC_CLICKSTREAM_DELTAS")
    assert writers == ["CSAS", "INSERTQUERY"]
    c = checks(result)
    for name in (
        "ksqldb/POC_CLICKSTREAM_DELTAS:query_running",
        "ksqldb/POC_CLICKSTREAM_DELTAS:matches_spec",
        "ksqldb/USER_AGGREGATE_EVENTS:matches_spec",
    ):
        assert c[name].passed, (name, c[name].metadata)


def test_2_updates_and_deletes_count_the_rows_that_exist(env, windows):
    p, c = windows
    _apply(
        env,
        _insert(env, "s14-1", "alice14", p + 10_000),
        _insert(env, "s14-2", "alice14", c + 5_000),
        _insert(env, "s14-3", "alice14", c + 20_000),
        _insert(env, "s14-4", "bob14", p + 30_000),
        _insert(env, "s14-5", "bob14", c + 10_000),
        _insert(env, "s14-6", "carol14", c + 15_000),
        _insert(env, "s14-7", "carol14", c + 50_000),
    )
    _wait_docs(env, {"alice14": (c, 2), "bob14": (c, 1), "carol14": (c, 2)})
    _apply(
        env,
        # keeps NAME and event time: no count changes
        _dml(env, "UPDATE T. SET PAGEURL = :u WHERE EVENTID = :e", u="https://example.com/changed", e="s14-3"),
        # moves NAME: bob14's current window loses it, carol14's gains it
        _dml(env, "UPDATE T. SET NAME = :n WHERE EVENTID = :e", n="carol14", e="s14-5"),
        # moves event time a minute back: carol14's current window loses it, its previous window gains it
        _dml(env, "UPDATE T. SET EVENTTIMESTAMP = :t WHERE EVENTID = :e", t=_ts(p + 40_000), e="s14-6"),
        # deletes retract
        _dml(env, "DELETE FROM T. WHERE EVENTID = :e", e="s14-2"),
    )
    # bob14's newest window with a row is now P (1 row); its key keeps window C, whose count fell to 0
    docs = _wait_docs(env, {"alice14": (c, 1), "bob14": (c, 0), "carol14": (c, 2)})
    agg = env.ksql.aggregation("USER_AGGREGATE_EVENTS")
    assert agg.wait(lambda a: a.counts().get(("carol14", p)) == 1 and a.counts().get(("bob14", p)) == 1, timeout=30), (
        {k: v for k, v in agg.counts().items() if str(k[0]).endswith("14")},
        (p, c),
        agg.processing_log[-5:],
    )
    assert docs[PREFIX + "alice14"]["USER_NAME"] == "alice14"
    check = _matches_oracle(env)
    assert check.passed, check.metadata
    assert check.metadata["mismatches"].value == 0


def test_3_a_late_event_never_moves_a_key_back_to_an_older_window(env, windows):
    p, c = windows
    _apply(env, _insert(env, "s14-8", "dave14", c + 30_000))
    _wait_docs(env, {"dave14": (c, 1)})
    # late, but inside the grace period (window P ends at C, after stream time C + 50 s - 60 s grace): counted in
    # Kafka, not written over the newer window in Redis
    _apply(env, _insert(env, "s14-9", "dave14", p + 5_000))
    agg = env.ksql.aggregation("USER_AGGREGATE_EVENTS")
    assert agg.wait(lambda a: a.emitted_counts().get(("dave14", p)) == 1, timeout=60), agg.processing_log[-3:]
    # a marker produced after the late window on the same partition: once Redis has it, the sink has seen the late one
    _apply(env, _insert(env, "s14-10", "erin14", c + 35_000))
    docs = _wait_docs(env, {"erin14": (c, 1)})
    assert (docs[PREFIX + "dave14"]["WINDOW_START"], docs[PREFIX + "dave14"]["EVENT_COUNT"]) == (c, 1)
    check = _matches_oracle(env)
    assert check.passed, check.metadata


def test_4_the_seeds_count_of_change_records_gets_the_same_changes_wrong(env, windows):
    """Today's (the seed's) aggregate over the same CDC topic: COUNT(*) of the change records, so the update that
    kept alice14's NAME and event time and the delete both count as more clicks; the source has 1 row there."""
    p, c = windows
    from resources.ksqldb import KsqlDbClient

    with KsqlDbClient(env.ksql.url) as client:
        client.execute(
            "CREATE TABLE SEED_COUNTS WITH (KAFKA_TOPIC='SEED_COUNTS_14', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON') AS "
            "SELECT NAME, COUNT(*) AS EVENT_COUNT FROM POC_CLICKSTREAM_STREAM "
            "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE) GROUP BY NAME EMIT CHANGES;",
            {"auto.offset.reset": "earliest"},
        )
        seed = env.ksql.aggregation("SEED_COUNTS")
        try:
            # two inserts, the NAME-keeping update and the delete: 4 change records in alice14's window C
            assert seed.wait(lambda a: a.counts().get(("alice14", c)) == 4, timeout=30), seed.counts()
            assert env.ksql.aggregation("USER_AGGREGATE_EVENTS").counts()[("alice14", c)] == 1
        finally:
            client.drop("TABLE", "SEED_COUNTS", delete_topic=True)
