"""The local profile's "must show" behaviour, on the real processes of the session stack: PostgreSQL 15 ->
Debezium PostgreSQL -> Kafka -> Flink SQL (JobManager + SQL Gateway) -> our Redis JSON sink -> Redis.

One pipeline (a tagged copy of pipeline.local.yaml, tests/integration/local_env.py) is provisioned once for the
module and shared: the tests run in file order and each leaves it as the next expects (rows a few minutes back
in event time, the counts they produce, the spec edits). Every wait polls for a state, then the test asserts once.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.integration.local_env import LocalPipeline, wait_until

pytestmark = pytest.mark.integration

MIN = 60_000
CLICK_COLUMNS = ("EVENTID", "ID", "NAME", "SESSIONID", "EVENTTYPE", "PAGEURL", "EVENTTIMESTAMP")


# ---------------------------------------------------------------------------------------------------- helpers


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure of the run: message, cause chain and stack, as a person would read them."""
    parts = []
    for ev in result.all_events:
        if ev.is_step_failure:
            err = ev.step_failure_data.error
            parts.append(err.to_string() if err else ev.message or "")
        elif ev.is_failure:
            parts.append(ev.message or "")
    return "\n".join(parts)


def minute(offset_minutes: int, seconds: int = 0) -> dt.datetime:
    """A naive UTC time `offset_minutes` whole minutes from the start of the current minute, plus seconds."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(second=0, microsecond=0) + dt.timedelta(minutes=offset_minutes, seconds=seconds)


def ms(t: dt.datetime) -> int:
    return int(t.replace(tzinfo=dt.UTC).timestamp() * 1000)


def insert_clicks(p: LocalPipeline, rows: list[tuple[str, str, dt.datetime]], table: str = "POC_CLICKSTREAM") -> None:
    """(EVENTID, NAME, event time) rows, in one transaction, in the given order."""
    columns = ", ".join(f'"{c}"' for c in CLICK_COLUMNS)
    sql = f'INSERT INTO "{p.schema}"."{table}" ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)'
    p.sql(*[(sql, [eid, "101", name, "s1", "click", f"https://example.com/{eid}", ts]) for eid, name, ts in rows])


def settled(p: LocalPipeline, windows: dict[str, int], aggregate: str | None = None, sink: str | None = None):
    """A probe: Redis holds each name's expected window (start ms), the sink has no lag, and the aggregate topic
    stopped growing since the previous probe. Returns the documents then."""
    from resources.kafka import KafkaClient

    state: dict[str, Any] = {}

    def probe():
        docs = p.docs(aggregate)
        with KafkaClient(p.stack["KAFKA_BOOTSTRAP_SERVERS"]) as kc:
            end = kc.topic_counts([aggregate or p.aggregate])[aggregate or p.aggregate].end_offset
        quiet, state["end"] = state.get("end") == end, end
        ok = all(docs.get(n, {}).get("WINDOW_START") == w for n, w in windows.items())
        return docs if ok and quiet and p.sink_lag(sink) == 0 else None

    return probe


def wait_docs(p: LocalPipeline, windows: dict[str, int], timeout: float = 90, **kw) -> dict[str, dict]:
    return wait_until(f"Redis windows {windows}", settled(p, windows, **kw), timeout=timeout, every=1.0)


def doc(name: str, count: int, start: int, count_field: str = "EVENT_COUNT") -> dict:
    return {"NAME": name, count_field: count, "WINDOW_START": start, "WINDOW_END": start + MIN}


def data_quality(p: LocalPipeline, defs: dg.Definitions | None = None) -> dict[str, Any]:
    result = p.run("data_quality", defs)
    return check_results(result)


def _path(uri: str) -> str:
    """A savepoint location as a plain path: Flink answers 'file:/x/' in one place and '/x' in another."""
    return uri.removeprefix("file:").rstrip("/")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------- fixture


@pytest.fixture(scope="module")
def pipe(stack, tmp_path_factory):
    p = LocalPipeline(stack, tmp_path_factory.mktemp("local-profile"))
    try:
        first = p.run("provision_pipeline")
        assert first.success, failure_text(first)
        p.first = first
        # the tests' event times: two minutes back and one minute back (set once, so every test agrees)
        p.t2, p.t1 = minute(-2), minute(-1)
        yield p
    finally:
        left = p.close()
        assert not left, f"clean-up left: {left}"


# ---------------------------------------------------------------------------------------------------- 1. rows reach Redis


def test_first_provision_creates_every_hop(pipe):
    mats = materializations(pipe.first)
    actions = {k: v["action"] for k, v in mats.items()}
    assert actions[f"postgres/role/{pipe.doc['source']['role']['name']}"] == "created"
    assert actions["postgres/table/POC_CLICKSTREAM"] == "created"
    assert actions[f"flink/{pipe.aggregate}"] == "created"
    assert {k: a for k, a in actions.items() if k.startswith("connect/")} == {
        f"connect/{c['name']}": "created" for c in [*pipe.doc["source"]["connectors"], *pipe.doc["sinks"]]
    }
    checks = check_results(pipe.first)
    failed = {k: e.metadata for k, e in checks.items() if not e.passed}
    assert not failed, failed
    assert f"flink/{pipe.aggregate}:job_running" in checks


def test_inserted_rows_reach_redis_counted_by_event_time(pipe):
    p, t2, t1 = pipe, pipe.t2, pipe.t1
    # ann: two clicks two minutes back, one a minute back; bob: two a minute back. Windowed by arrival
    # (record) time every row would fall into the current minute (ann 3, bob 2).
    insert_clicks(
        p,
        [
            ("a1", "ann", t2 + dt.timedelta(seconds=5)),
            ("a2", "ann", t2 + dt.timedelta(seconds=50)),
            ("b1", "bob", t1 + dt.timedelta(seconds=10)),
            ("a3", "ann", t1 + dt.timedelta(seconds=30)),
            ("b2", "bob", t1 + dt.timedelta(seconds=40)),
        ],
    )
    docs = wait_docs(p, {"ann": ms(t1), "bob": ms(t1)})
    assert docs["ann"] == doc("ann", 1, ms(t1))
    assert docs["bob"] == doc("bob", 2, ms(t1))
    # the spec's initial click (an hour back) is there too, in its own window
    assert docs["jdoe"]["EVENT_COUNT"] == 1 and docs["jdoe"]["WINDOW_START"] < ms(t2)

    checks = data_quality(p)
    matches = checks[f"redis/{p.aggregate}:matches_postgres"]
    assert matches.passed, matches.metadata
    assert matches.metadata["keys_checked"].value == 3 and matches.metadata["mismatches"].value == 0


def test_data_check_names_a_corrupted_document_and_a_wrong_key(pipe):
    p = pipe
    r = p.redis()
    good = p.docs()["ann"]
    r.json().set(p.key("ann"), "$.EVENT_COUNT", 7)
    r.json().set(p.key("mallory"), "$", doc("bob", 1, ms(p.t1)))  # bob's document under mallory's key
    try:
        checks = data_quality(p)
    finally:
        r.json().set(p.key("ann"), "$", good)
        r.delete(p.key("mallory"))
    matches = checks[f"redis/{p.aggregate}:matches_postgres"]
    assert not matches.passed
    rows = {(rec.data["name"], rec.data["problem"]): rec.data for rec in matches.metadata["mismatch_table"].value.records}
    assert set(rows) == {("ann", "count"), ("mallory", "wrong_key")}, rows
    assert rows[("ann", "count")]["redis_count"] == 7 and rows[("ann", "count")]["source_count"] == 1
    assert rows[("mallory", "wrong_key")]["key"] == p.key("mallory")
    assert "ann (count)" in matches.description and "mallory (wrong_key)" in matches.description
    assert data_quality(p)[f"redis/{p.aggregate}:matches_postgres"].passed


# ---------------------------------------------------------------------------------------------------- 2. update / delete


def test_update_keeps_counts_and_delete_retracts(pipe):
    p = pipe
    before = p.docs()
    p.sql(
        (
            f'UPDATE "{p.schema}"."POC_CLICKSTREAM" SET "PAGEURL" = %s, "EVENTTYPE" = %s WHERE "EVENTID" = %s',
            ["https://example.com/changed", "page_view", "a3"],
        )
    )
    p.sql((f'DELETE FROM "{p.schema}"."POC_CLICKSTREAM" WHERE "EVENTID" = %s', ["b1"]))
    # the delete commits after the update: once its retraction is in Redis, the update went through too
    wait_until("bob's count retracted", lambda: p.docs()["bob"]["EVENT_COUNT"] != 2, timeout=90)
    docs = wait_docs(p, {"ann": ms(p.t1), "bob": ms(p.t1)})
    assert docs["ann"] == before["ann"] == doc("ann", 1, ms(p.t1))
    assert docs["bob"] == doc("bob", 1, ms(p.t1))
    assert data_quality(p)[f"redis/{p.aggregate}:matches_postgres"].passed


# ---------------------------------------------------------------------------------------------------- 3. idempotence, edits


def test_second_provision_writes_nothing(pipe):
    result = pipe.run("provision_pipeline")
    assert result.success, failure_text(result)
    mats = materializations(result)
    assert len(mats) == len(materializations(pipe.first))
    writes = {k: (v["action"], v["writes"]) for k, v in mats.items() if v["writes"] or v["action"] not in ("unchanged", "observed")}
    assert not writes, writes


def test_grace_edit_updates_only_the_flink_job_through_a_savepoint(pipe):
    p = pipe
    old_job = p.our_jobs()[0]
    defs = p.use(p.edited(lambda d: d["engine"]["objects"][1]["aggregate"]["window"].update(grace="2 MINUTE")), "grace2")

    plan = p.run("plan", defs)
    summary = plan.output_for_node("plan_pipeline")
    assert [d["object"] for d in summary["drift"]] == [p.aggregate], summary
    [drift] = summary["drift"]
    assert drift["action"] == "would_update" and any("from the savepoint of" in c for c in drift["changes"]), drift

    result = p.run("provision_pipeline", defs)
    assert result.success, failure_text(result)
    mats = materializations(result)
    changed = {k: v["action"] for k, v in mats.items() if v["writes"] or v["action"] not in ("unchanged", "observed")}
    assert changed == {f"flink/{p.aggregate}": "updated"}, changed
    md = mats[f"flink/{p.aggregate}"]
    savepoints = md["savepoints"]
    assert list(savepoints) == [old_job.jid]
    assert md["restore_from"] == savepoints[old_job.jid] and md["restore_from"].startswith("file:")
    # the JobManager confirms the new job started from that savepoint
    new_id = md["job_id"]
    with httpx.Client(base_url=p.stack["FLINK_REST_URL"], timeout=10) as http:
        restored = http.get(f"/jobs/{new_id}/checkpoints").json()["latest"]["restored"]
    assert _path(restored["external_path"]) == _path(md["restore_from"]), (restored, md["restore_from"])

    # counts carry on from the restored state: one more click of ann in the same window makes 2
    insert_clicks(p, [("a4", "ann", p.t1 + dt.timedelta(seconds=50))])
    wait_until("ann's new click counted", lambda: p.docs()["ann"]["EVENT_COUNT"] != 1, timeout=90)
    docs = wait_docs(p, {"ann": ms(p.t1)})
    assert docs["ann"] == doc("ann", 2, ms(p.t1))


def test_window_size_change_is_reported_as_a_rebuild(pipe):
    p = pipe
    defs = p.use(p.edited(lambda d: d["engine"]["objects"][1]["aggregate"]["window"].update(size="2 MINUTE")), "window2")
    try:
        plan = p.run("plan", defs)
        summary = plan.output_for_node("plan_pipeline")
    finally:
        p.use(p.edited(lambda d: d["engine"]["objects"][1]["aggregate"]["window"].update(size="1 MINUTE")), "grace2")
    assert [d["object"] for d in summary["drift"]] == [p.aggregate], summary
    text = " ".join(summary["drift"][0]["changes"])
    assert "window size changed (60000 ms -> 120000 ms)" in text, text
    assert "the state is rebuilt from the source topic" in text, text
    assert p.our_jobs()  # a plan writes nothing: the job still runs


# ---------------------------------------------------------------------------------------------------- 4. self-healing


def test_flink_health_resubmits_a_cancelled_job(pipe):
    p = pipe
    [job] = p.our_jobs()
    with p.flink_jobs() as jobs:  # the repair resumes from the latest retained checkpoint: let one complete
        wait_until("a completed checkpoint", lambda: jobs.latest_checkpoint_path(job.jid), timeout=30)
    with httpx.Client(base_url=p.stack["FLINK_REST_URL"], timeout=10) as http:
        assert http.patch(f"/jobs/{job.jid}", params={"mode": "cancel"}).status_code == 202
    wait_until("job cancelled", lambda: p.our_jobs(states=("CANCELED",)), timeout=60)

    sensor = p.defs.resolve_sensor_def("flink_health")
    with dg.build_sensor_context(instance=p.instance, resources=p.resources()) as ctx:
        result = sensor(ctx)
    [request] = result.run_requests
    assert request.job_name == "repair_flink_jobs"
    assert request.run_config == {"ops": {"repair_flink": {"config": {"objects": [p.aggregate]}}}}
    assert "CANCELED" in request.tags["cdc/reason"]

    repair = p.run("repair_flink_jobs", run_config=request.run_config)
    assert repair.success, failure_text(repair)
    md = materializations(repair)[f"flink/{p.aggregate}"]
    assert md["action"] == "repaired" and md["restore_from"], md  # from the cancelled job's retained checkpoint
    [running] = p.our_jobs()
    assert running.name == job.name and running.jid == md["job_id"] != job.jid

    insert_clicks(p, [("b3", "bob", p.t1 + dt.timedelta(seconds=55))])
    wait_until("bob's new click counted", lambda: p.docs()["bob"]["EVENT_COUNT"] != 1, timeout=90)
    docs = wait_docs(p, {"bob": ms(p.t1)})
    assert docs["bob"] == doc("bob", 2, ms(p.t1))
    assert docs["ann"] == doc("ann", 2, ms(p.t1))


def test_connector_health_reregisters_a_deleted_connector(pipe):
    p = pipe
    name = p.doc["source"]["connectors"][1]["name"]  # the clickstream capture
    with p.connect() as c:
        c.delete(name)
        wait_until(f"{name} gone", lambda: name not in c.list_connectors(), timeout=30)

    sensor = p.defs.resolve_sensor_def("connector_health")
    with dg.build_sensor_context(instance=p.instance, resources=p.resources()) as ctx:
        result = sensor(ctx)
    [request] = result.run_requests
    assert request.job_name == "reregister_connectors"
    assert request.run_config == {"ops": {"reregister": {"config": {"connectors": [name]}}}}

    run = p.run("reregister_connectors", run_config=request.run_config)
    assert run.success, failure_text(run)
    with p.connect() as c:
        status = c.status(name)
    assert status["connector"]["state"] == "RUNNING" and [t["state"] for t in status["tasks"]] == ["RUNNING"]

    # it resumes from its slot: a click made now flows through
    insert_clicks(p, [("c1", "cat", p.t1 + dt.timedelta(seconds=58))])
    docs = wait_docs(p, {"cat": ms(p.t1)})
    assert docs["cat"] == doc("cat", 1, ms(p.t1))
    assert data_quality(p)[f"redis/{p.aggregate}:matches_postgres"].passed


# ---------------------------------------------------------------------------------------------------- 5. a table added in YAML


def _with_purchases(p: LocalPipeline):
    tag = p.tag
    agg = f"E2E_{tag.upper()}_PURCHASES"

    def edit(d: dict) -> None:
        d["source"]["tables"].append(
            {
                "name": "POC_PURCHASES",
                "columns": [
                    {"name": "PURCHASEID", "type": "VARCHAR(50)", "primary_key": True},
                    {"name": "NAME", "type": "VARCHAR(50)"},
                    {"name": "AMOUNT", "type": "NUMERIC(10,2)"},
                    {"name": "PURCHASETIME", "type": "TIMESTAMP"},
                ],
            }
        )
        d["source"]["connectors"].append(
            {"name": f"e2e-{tag}-pg-purchases", "tables": ["POC_PURCHASES"], "slot_name": f"e2e_{tag}_purchases"}
        )
        d["engine"]["objects"] += [
            {"name": "POC_PURCHASES_STREAM", "source": {"table": "POC_PURCHASES"}, "timestamp": "PURCHASETIME"},
            {
                "name": agg,
                "aggregate": {
                    "from": "POC_PURCHASES_STREAM",
                    "group_by": "NAME",
                    "count_as": "PURCHASE_COUNT",
                    "window": {"size": "1 MINUTE", "grace": "1 MINUTE"},
                },
            },
        ]
        d["sinks"].append(
            {
                "kind": "redis",
                "name": f"e2e-{tag}-redis-sink-purchases",
                "object": agg,
                "plugin": "cdcplane-redis-json",
                "command": "JSONSET",
                "keyspace": "${topic}",
                "separator": ":",
            }
        )

    return agg, edit


def test_a_table_added_only_in_yaml_flows_end_to_end(pipe):
    p = pipe
    agg, edit = _with_purchases(p)
    defs = p.use(p.edited(edit), "purchases")
    result = p.run("provision_pipeline", defs)
    assert result.success, failure_text(result)
    changed = {k: v["action"] for k, v in materializations(result).items() if v["writes"] or v["action"] not in ("unchanged", "observed")}
    assert changed == {
        "postgres/table/POC_PURCHASES": "created",
        f"postgres/publication/{p.doc['source']['publication']}": "updated",
        f"connect/e2e-{p.tag}-pg-purchases": "created",
        # Debezium creates a table's topic on its first change; the control plane creates it up front
        f"kafka/e2e{p.tag}_{p.schema}_POC_PURCHASES": "created",
        f"flink/{agg}": "created",
        f"kafka/{agg}": "created",
        f"connect/e2e-{p.tag}-redis-sink-purchases": "created",
    }, changed

    sql = f'INSERT INTO "{p.schema}"."POC_PURCHASES" ("PURCHASEID", "NAME", "AMOUNT", "PURCHASETIME") VALUES (%s, %s, %s, %s)'
    p.sql(
        (sql, ["p1", "ann", 9.5, p.t2 + dt.timedelta(seconds=20)]),
        (sql, ["p2", "ann", 3.0, p.t1 + dt.timedelta(seconds=5)]),
        (sql, ["p3", "dan", 1.25, p.t1 + dt.timedelta(seconds=7)]),
        (sql, ["p4", "dan", 2.0, p.t1 + dt.timedelta(seconds=9)]),
    )
    sink = f"e2e-{p.tag}-redis-sink-purchases"
    docs = wait_docs(p, {"ann": ms(p.t1), "dan": ms(p.t1)}, aggregate=agg, sink=sink)
    assert docs == {"ann": doc("ann", 1, ms(p.t1), "PURCHASE_COUNT"), "dan": doc("dan", 2, ms(p.t1), "PURCHASE_COUNT")}

    checks = data_quality(p, defs)
    for space in (p.aggregate, agg):
        assert checks[f"redis/{space}:matches_postgres"].passed, checks[f"redis/{space}:matches_postgres"].metadata


# ---------------------------------------------------------------------------------------------------- 6. unreachable systems


def _assert_clear_failure(p: LocalPipeline, result: dg.ExecuteInProcessResult, endpoint: str) -> str:
    assert not result.success
    text = failure_text(result)
    assert endpoint in text, text
    for var in ("POSTGRES_ADMIN_PASSWORD", "POSTGRES_CDC_PASSWORD"):
        assert p.stack[var] not in text
    return text


def test_postgres_down_fails_provision_naming_the_endpoint(pipe):
    from resources.postgres import PostgresResource

    p, port = pipe, closed_port()
    down = PostgresResource(
        host="127.0.0.1",
        port=port,
        dbname=p.stack["POSTGRES_DB"],
        user=p.stack["POSTGRES_ADMIN_USER"],
        password=dg.EnvVar("POSTGRES_ADMIN_PASSWORD"),
    )
    _, defs = p.build(p.doc, "pg-down", postgres=down)
    result = p.run("provision_pipeline", defs)
    text = _assert_clear_failure(p, result, f"127.0.0.1:{port}")
    assert "PostgreSQL" in text
    assert not materializations(result)  # nothing downstream of the database ran


def test_flink_down_fails_provision_naming_the_endpoint(pipe):
    from resources.flink import FlinkResource

    p, port = pipe, closed_port()
    down = FlinkResource(gateway_url=f"http://127.0.0.1:{port}", rest_url=f"http://127.0.0.1:{port}", max_retries=1, backoff_seconds=0.1)
    _, defs = p.build(p.doc, "flink-down", flink=down)
    result = p.run("provision_pipeline", defs)
    _assert_clear_failure(p, result, f"http://127.0.0.1:{port}")
    assert not any(k.startswith("flink/") for k in materializations(result))


def test_gateway_error_fails_provision_naming_the_endpoint_and_the_next_provision_recovers(pipe):
    p = pipe
    aggregates = [o["name"] for o in p.doc["engine"]["objects"] if "aggregate" in o]
    old = {a: p.our_jobs(a)[0].jid for a in aggregates}
    # a session property Flink cannot parse: the running jobs are stopped with a savepoint, then the gateway
    # fails the new version's first statement
    _, bad = p.build(p.edited(lambda d: d["engine"].update(settings={"properties": {"parallelism.default": "many"}})), "bad-gateway")
    result = p.run("provision_pipeline", bad)
    text = _assert_clear_failure(p, result, p.stack["FLINK_GATEWAY_URL"])
    assert 'For input string: "many"' in text, text
    assert not any(p.our_jobs(a) for a in aggregates)

    # the spec as it was: the next provision resumes each job from the savepoint its stop left
    with httpx.Client(base_url=p.stack["FLINK_REST_URL"], timeout=10) as http:
        savepoints = {a: http.get(f"/jobs/{jid}/checkpoints").json()["latest"]["savepoint"]["external_path"] for a, jid in old.items()}
    result = p.run("provision_pipeline")
    assert result.success, failure_text(result)
    mats = materializations(result)
    assert {a: (mats[f"flink/{a}"]["action"], mats[f"flink/{a}"]["restore_from"]) for a in aggregates} == {
        a: ("created", savepoints[a]) for a in aggregates
    }
    insert_clicks(p, [("b4", "bob", p.t1 + dt.timedelta(seconds=57))])
    wait_until("bob's new click counted", lambda: p.docs()["bob"]["EVENT_COUNT"] != 2, timeout=90)
    docs = wait_docs(p, {"bob": ms(p.t1)})
    assert docs["bob"] == doc("bob", 3, ms(p.t1))


# ---------------------------------------------------------------------------------------------------- 3. (last: it rebuilds)


def test_window_size_change_is_provisioned_as_a_rebuild(pipe):
    p = pipe
    [old] = p.our_jobs()
    defs = p.use(p.edited(lambda d: d["engine"]["objects"][1]["aggregate"]["window"].update(size="2 MINUTE")), "window2")
    result = p.run("provision_pipeline", defs)
    assert result.success, failure_text(result)
    mats = materializations(result)
    changed = {k: v["action"] for k, v in mats.items() if v["writes"] or v["action"] not in ("unchanged", "observed")}
    assert changed == {f"flink/{p.aggregate}": "updated"}, changed
    md = mats[f"flink/{p.aggregate}"]
    assert md["action"] == "updated" and list(md["savepoints"]) == [old.jid]
    assert "restore_from" not in md  # the old state does not fit 2-minute windows
    changes = md["changes"]
    assert "window size changed (60000 ms -> 120000 ms)" in changes and "rebuilt from the source topic" in changes, changes
    [new] = p.our_jobs()
    assert new.name.endswith("-w120000") and new.jid == md["job_id"]
    # What Redis holds afterwards is NOT asserted here: the rebuilt job's 2-minute windows start at or before the
    # 1-minute windows already stored, and the sink keeps the newest window start per key, so the old documents
    # stay (the data check then reports bad_window / missing_in_redis). Reported as an open product issue.
