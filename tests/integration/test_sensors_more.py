"""The other sensors on the real stack: ksqldb_health repairs a failed persistent query,
data_quality_trigger fires on new aggregates at most once per interval, connector_health sees a
RUNNING sink that no longer moves (its Redis cut off behind a proxy), and alert_on_run_failure posts
a redacted alert to a webhook."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time

import dagster as dg
import pytest

from pipeline_defs.definitions import build_definitions
from pipeline_defs.lineage import build_lineage
from pipeline_defs.sensors import ALERT_WEBHOOK_ENV, build_alert_sensor
from pipeline_defs.spec import parse_spec
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import build_connector_health_sensor
from pipeline_defs.systems.ksqldb.plugin import _health_sensor as build_ksqldb_health_sensor
from pipeline_defs.systems.oracle.catalog import insert_statement
from pipeline_defs.systems.redis.plugin import data_quality_sensor
from resources.connect import connector_health
from resources.ksqldb import KsqlDbResource
from tests.integration.pipeline_env import pipeline_env, run

pytestmark = pytest.mark.integration

AGG = "USER_AGGREGATE_EVENTS"
SINK = "redis-sink-json"
GROUP = f"connect-{SINK}"


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    gen = pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)
    ctx = next(gen)
    assert run(ctx, "provision_pipeline").success
    yield ctx
    gen.close()


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def insert_click(env, name: str) -> None:
    table = env.spec.source.table("POC_CLICKSTREAM")
    row = {
        "EVENTID": f"more-{time.time_ns()}",
        "ID": "101",
        "NAME": name,
        "SESSIONID": "s",
        "EVENTTYPE": "click",
        "PAGEURL": "https://example.com/more",
        "EVENTTIMESTAMP": "CURRENT_TIMESTAMP",
    }
    with env.resources["oracle"].admin_client() as admin:
        admin.apply([insert_statement(env.spec.source.user.name, table, row)])


def agg_end(env) -> int:
    counts = env.kafka.topic_counts([AGG])
    return counts[AGG].end_offset if AGG in counts else 0


def sink_lag(env) -> int:
    return env.kafka.consumer_group_lag(GROUP).total


def quiet(env, settle: float = 3.0, timeout: float = 90.0) -> tuple[int, int]:
    """Wait until the aggregate topic stops growing and the sink has caught up."""
    deadline = time.monotonic() + timeout
    seen, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (agg_end(env), sink_lag(env))
        if now != seen:
            seen, since = now, time.monotonic()
        elif now[1] == 0 and time.monotonic() - since >= settle:
            return now
        time.sleep(0.5)
    raise AssertionError(f"pipeline never went quiet: aggregate end offset / sink lag {seen}")


def redis_doc(env, name: str):
    key = f"{AGG}:{name}"
    if env.redis.r.type(key) != "ReJSON-RL":
        return None
    return env.redis.json_mget([key])[key]


def latest_count(env, name: str) -> int | None:
    """The aggregation's count of the newest window of `name` (what the sink keeps in Redis)."""
    windows = {start: n for (group, start), n in env.ksql.aggregation(AGG).counts().items() if group == name}
    return windows[max(windows)] if windows else None


def requests_of(result) -> list[dg.RunRequest]:
    if isinstance(result, dg.SensorResult):
        return list(result.run_requests or [])
    if isinstance(result, list):
        return result
    return [result] if isinstance(result, dg.RunRequest) else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- ksqldb_health ----------------------------------------------------------------------------------


def _agg_query(env):
    with env.resources["ksqldb"].get_client() as client:
        found = [q for q in client.list_queries() if AGG in q.sinks]
    assert len(found) == 1, found
    return found[0]


def test_failed_query_is_recreated_and_the_aggregation_flows_again(env):
    sensor = build_ksqldb_health_sensor(env.spec)
    resources = {"ksqldb": env.resources["ksqldb"]}
    old = _agg_query(env)
    assert old.is_running
    with dg.build_sensor_context(instance=env.instance, resources=resources) as sctx:
        assert sensor(sctx).skip_message == "2 persistent queries RUNNING"

    env.ksql.fail_query(old.id)
    assert _agg_query(env).state == "ERROR" and not env.ksql.aggregation(old.id).running
    with dg.build_sensor_context(instance=env.instance, resources=resources) as sctx:
        [rr] = requests_of(sensor(sctx))
    assert rr.job_name == "repair_ksql_queries"
    assert rr.run_config == {"ops": {"repair_ksql": {"config": {"objects": [AGG]}}}}
    assert rr.tags == {"cdc/ksql_object": AGG, "cdc/reason": "ERROR"}
    assert rr.run_key == f"ksql:{AGG}:{old.id}:ERROR"

    result = env.defs.resolve_job_def(rr.job_name).execute_in_process(run_config=rr.run_config, instance=env.instance, tags=rr.tags)
    assert result.success
    new = _agg_query(env)
    assert new.id != old.id and new.is_running
    assert any(c.upper().startswith("DROP TABLE IF EXISTS") and AGG in c and "DELETE TOPIC" not in c.upper() for c in env.ksql.commands), (
        env.ksql.commands
    )
    agg = env.ksql.aggregation(AGG)
    assert agg.plan.sink == AGG and env.ksql.aggregation(new.id) is agg and agg.running

    # the new query counts new clicks, and the sink carries them to Redis
    insert_click(env, "ksqlfix")
    assert agg.wait(lambda a: latest_count(env, "ksqlfix") == 1, timeout=60), agg.processing_log[-5:]
    doc = wait_for(lambda: redis_doc(env, "ksqlfix"), 60, "USER_AGGREGATE_EVENTS:ksqlfix in Redis")
    assert doc["USER_NAME"] == "ksqlfix" and doc["EVENT_COUNT"] == 1
    with dg.build_sensor_context(instance=env.instance, resources=resources) as sctx:
        assert sensor(sctx).skip_message == "2 persistent queries RUNNING"


def test_failed_insert_writer_of_the_deltas_is_started_again(env):
    """The deltas stream's INSERT INTO (an update's retraction) fails: the sensor asks for a repair of the deltas
    stream, which terminates that query and starts it again; the stream, its CSAS and the aggregate stay."""
    sensor = build_ksqldb_health_sensor(env.spec)
    resources = {"ksqldb": env.resources["ksqldb"]}
    deltas = "POC_CLICKSTREAM_DELTAS"
    with env.resources["ksqldb"].get_client() as client:
        writers = {q.id.split("_")[0]: q for q in client.list_queries() if deltas in q.sinks}
    env.ksql.fail_query(writers["INSERTQUERY"].id)
    with dg.build_sensor_context(instance=env.instance, resources=resources) as sctx:
        [rr] = requests_of(sensor(sctx))
    assert rr.run_config == {"ops": {"repair_ksql": {"config": {"objects": [deltas]}}}}
    assert rr.tags == {"cdc/ksql_object": deltas, "cdc/reason": "ERROR"}
    result = env.defs.resolve_job_def(rr.job_name).execute_in_process(run_config=rr.run_config, instance=env.instance, tags=rr.tags)
    assert result.success
    with env.resources["ksqldb"].get_client() as client:
        after = {q.id.split("_")[0]: q for q in client.list_queries() if deltas in q.sinks}
        agg = [q for q in client.list_queries() if AGG in q.sinks]
    assert after["CSAS"].id == writers["CSAS"].id and after["INSERTQUERY"].id != writers["INSERTQUERY"].id
    assert all(q.is_running for q in [*after.values(), *agg])
    assert env.ksql.aggregation(after["INSERTQUERY"].id).running
    with dg.build_sensor_context(instance=env.instance, resources=resources) as sctx:
        assert sensor(sctx).skip_message == "2 persistent queries RUNNING"


def test_unreachable_ksqldb_is_a_skip_naming_the_url(env):
    down = KsqlDbResource(url=f"http://127.0.0.1:{free_port()}", max_retries=0, backoff_seconds=0.01)
    with dg.build_sensor_context(instance=env.instance, resources={"ksqldb": down}) as sctx:
        result = build_ksqldb_health_sensor(env.spec)(sctx)
    assert isinstance(result, dg.SkipReason)
    assert f"ksqlDB at {down.url} unreachable" in result.skip_message


# -- data_quality_trigger -----------------------------------------------------------------------


def test_data_quality_trigger_fires_on_new_aggregates_at_most_once_per_interval(env):
    clock = Clock()
    sensor = data_quality_sensor(build_lineage(env.spec), min_run_interval_seconds=300, clock=clock)
    start = clock.now

    def tick(cursor):
        with dg.build_sensor_context(instance=env.instance, cursor=cursor, resources={"kafka": env.resources["kafka"]}) as sctx:
            return sensor(sctx), sctx.cursor

    end0, _ = quiet(env)
    first, cursor = tick(None)
    assert isinstance(first, dg.RunRequest) and first.job_name == "data_quality"
    state = json.loads(cursor)
    assert state["last_run"] == start and json.loads(state["signature"])["topics"] == {AGG: end0}

    clock.now += 30
    second, cursor2 = tick(cursor)
    assert isinstance(second, dg.SkipReason)
    assert second.skip_message == "no new aggregates since the last data-quality run"
    assert cursor2 == cursor

    insert_click(env, "dqtrigger")
    wait_for(lambda: agg_end(env) > end0, 60, "the aggregate topic to grow")
    clock.now += 30  # 60 s after the last run: inside the 300 s interval
    third, cursor3 = tick(cursor)
    assert isinstance(third, dg.SkipReason)
    assert third.skip_message == "aggregates advanced; next data-quality run allowed in 240s"
    assert cursor3 == cursor  # nothing consumed: the next tick past the interval still sees the change

    clock.now = start + 301
    fourth, cursor4 = tick(cursor3)
    assert isinstance(fourth, dg.RunRequest) and fourth.job_name == "data_quality"
    assert fourth.run_key != first.run_key
    state4 = json.loads(cursor4)
    assert state4["last_run"] == start + 301 and json.loads(state4["signature"])["topics"][AGG] > end0


# -- connector_health: a RUNNING sink that does not move ----------------------------------------


class TcpProxy:
    """127.0.0.1:<port> -> target, with a switch: cut() drops every connection and answers new ones
    by closing them at once (Redis "goes away" for the sink only); restore() forwards again."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self.rejected = 0
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="redis-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                self.rejected += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._socks |= {client, upstream}
            self.forwarded += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        for s in socks:
            with self._lock:
                self._socks.discard(s)
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            socks = list(self._socks)
        self._drop(*socks)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._thread.join(5)
        self.listener.close()


def _wait_running(env, name: str, timeout: float = 60) -> dict:
    def running():
        try:
            status = env.connect.status(name)
        except Exception:
            return None
        return status if connector_health(status)[0] == "RUNNING" else None

    return wait_for(running, timeout, f"{name} RUNNING")


def test_running_sink_that_does_not_move_gets_a_warning_then_a_restart(env, stack):
    host, port = stack["REDIS_URL"].split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    proxy = TcpProxy(host, int(port))
    spec_env = {**os.environ, "CDC_CONNECT_REDIS_URI": f"redis://127.0.0.1:{proxy.port}"}
    proxied = parse_spec(env.spec_file.read_text(), str(env.spec_file), env=spec_env)
    proxied_defs = build_definitions(proxied, env.resources)
    original_uri = env.connect.get_config(SINK)["redis.uri"]
    reregister = {"ops": {"reregister": {"config": {"connectors": [SINK]}}}}
    try:
        # the sink writes through the proxy: re-registered from the edited spec (one PUT)
        assert run(env, "reregister_connectors", defs=proxied_defs, run_config=reregister).success
        assert env.connect.get_config(SINK)["redis.uri"] == f"redis://127.0.0.1:{proxy.port}"
        _wait_running(env, SINK)
        insert_click(env, "stuck")
        wait_for(lambda: redis_doc(env, "stuck"), 60, "the first click through the proxy in Redis")
        assert proxy.forwarded >= 1
        quiet(env)

        # Redis goes away for the sink only; new clicks keep arriving
        proxy.cut()
        time.sleep(2)
        lag0 = sink_lag(env)
        bound = lag0 + 2
        clock = Clock()
        sensor = build_connector_health_sensor(
            build_lineage(proxied), clock=clock, policy=HealthPolicy(lag_window_ticks=2, lag_restart_bound=bound)
        )
        cursor, seen, warnings, restarts = None, [], [], []
        for i in range(6):
            with dg.build_sensor_context(
                instance=env.instance, cursor=cursor, resources={"connect": env.resources["connect"], "kafka": env.resources["kafka"]}
            ) as sctx:
                result = sensor(sctx)
            assert isinstance(result, dg.SensorResult), result
            cursor = result.cursor
            seen.append(json.loads(cursor)["connectors"][SINK]["lag_history"][-1])
            warnings += [(i, e) for e in result.asset_events or [] if isinstance(e, dg.AssetCheckEvaluation)]
            restarts += [(i, r) for r in requests_of(result)]
            if restarts:
                break
            assert connector_health(env.connect.status(SINK))[0] == "RUNNING"  # not FAILED: stuck
            before = sink_lag(env)
            insert_click(env, "stuck")
            wait_for(lambda: sink_lag(env) > before, 60, "the sink's lag to grow")
            clock.now += 30
        print(f"lag per tick {seen}, bound {bound}, proxy rejected {proxy.rejected} reconnects")

        assert seen == list(range(lag0, lag0 + len(seen)))  # one more aggregate per click, none consumed
        [(wi, warning)] = warnings
        assert warning.asset_key == dg.AssetKey(["connect", SINK]) and warning.check_name == "consumer_lag"
        assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
        assert warning.metadata["lag_history"].value == [lag0, lag0 + 1, lag0 + 2]
        assert warning.metadata["lag"].value == lag0 + 2 == bound
        [(ri, rr)] = restarts
        assert ri == wi + 1 and seen[ri] == bound + 1
        assert rr.job_name == "restart_connectors"
        assert rr.tags == {"cdc/connector": SINK, "cdc/reason": "stuck"}
        assert rr.run_config["ops"]["restart"]["config"] == {"connectors": [SINK], "include_tasks": True, "only_failed": False}
        assert proxy.rejected >= 1  # the sink really tried to write and was turned away

        # Redis is back: the requested restart runs, the sink catches up and Redis has the newest count
        proxy.restore()
        restarted = proxied_defs.resolve_job_def(rr.job_name).execute_in_process(
            run_config=rr.run_config, instance=env.instance, tags=rr.tags, raise_on_error=False
        )
        assert restarted.success
        wait_for(lambda: sink_lag(env) == 0, 120, "the sink to catch up")
        wait_for(
            lambda: (redis_doc(env, "stuck") or {}).get("EVENT_COUNT") == latest_count(env, "stuck"),
            60,
            "Redis to hold the aggregation's newest count for 'stuck'",
        )
        clock.now += 30
        with dg.build_sensor_context(
            instance=env.instance, cursor=cursor, resources={"connect": env.resources["connect"], "kafka": env.resources["kafka"]}
        ) as sctx:
            after = sensor(sctx)
        assert requests_of(after) == [] and not after.asset_events
    finally:
        proxy.restore()
        put_back = run(env, "reregister_connectors", run_config=reregister)
        try:
            assert put_back.success
            assert env.connect.get_config(SINK)["redis.uri"] == original_uri
            _wait_running(env, SINK)
        finally:
            proxy.close()


# -- alert_on_run_failure ---------------------------------------------------------------------------


class Webhook:
    def __init__(self, status: int = 204):
        self.bodies: list[bytes] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                hook.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_alert_on_run_failure_posts_a_redacted_alert(env, monkeypatch):
    secret = os.environ["ORACLE_PASSWORD"]  # the env sets it; the sensor redacts every secret env var
    assert secret
    hook = Webhook()
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, hook.url)
    try:
        trace = f"java.sql.SQLException: ORA-01017 for jdbc:oracle:thin:C##MYUSER/{secret}@oracle:1521/ORCLCDB"
        tags = {"cdc/connector": SINK, "cdc/reason": "exhausted"}
        failed = env.defs.resolve_job_def("connector_incident").execute_in_process(
            run_config={"ops": {"raise_incident": {"config": {"connector": SINK, "reason": "exhausted", "restarts": 12, "trace": trace}}}},
            instance=env.instance,
            tags=tags,
            raise_on_error=False,
        )
        assert not failed.success
        failure = failed.get_run_failure_event()
        assert failure.event_type == dg.DagsterEventType.RUN_FAILURE

        sensor = build_alert_sensor()
        sctx = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_instance=env.instance, dagster_run=failed.dagster_run, dagster_event=failure
        )
        assert sensor(sctx.for_run_failure()) is None  # delivered: nothing to report on the tick

        [body] = hook.bodies
        alert = json.loads(body)
        assert alert["alert"] == "cdc_run_failed"
        assert alert["job"] == "connector_incident" and alert["run_id"] == failed.run_id
        assert alert["connector"] == SINK and alert["reason"] == "exhausted"
        assert "connector_incident" in alert["error"]
        # the step's own error says why, and the secret the trace carried is masked in it
        [step] = alert["steps"]
        assert step["step"] == "raise_incident" and f"connector {SINK} is still exhausted" in step["error"]
        assert secret not in body.decode()
        # the incident's metadata in the event log is scrubbed too
        md_text = " ".join(str(e.dagster_event) for e in env.instance.all_logs(failed.run_id) if e.dagster_event)
        assert "ORA-01017" in md_text and secret not in md_text
    finally:
        hook.close()


def _failed_incident_run(env):
    failed = env.defs.resolve_job_def("connector_incident").execute_in_process(
        run_config={"ops": {"raise_incident": {"config": {"connector": SINK, "reason": "exhausted", "restarts": 3, "trace": "boom"}}}},
        instance=env.instance,
        tags={"cdc/connector": SINK, "cdc/reason": "exhausted"},
        raise_on_error=False,
    )
    assert not failed.success
    return failed


def _alert(env, failed):
    sensor = build_alert_sensor()
    sctx = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=env.instance, dagster_run=failed.dagster_run, dagster_event=failed.get_run_failure_event()
    )
    return sensor(sctx.for_run_failure())


def test_alert_webhook_error_status_is_a_skip_naming_the_status(env, monkeypatch):
    hook = Webhook(status=503)
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, hook.url)
    try:
        failed = _failed_incident_run(env)
        result = _alert(env, failed)
        assert len(hook.bodies) == 1  # it was tried once
        assert isinstance(result, dg.SkipReason)
        assert result.skip_message == f"alert for run {failed.run_id} NOT delivered: webhook answered HTTP 503"
    finally:
        hook.close()


def test_alert_webhook_unreachable_is_a_skip_naming_the_error(env, monkeypatch):
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{free_port()}/alerts")
    failed = _failed_incident_run(env)
    result = _alert(env, failed)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == f"alert for run {failed.run_id} NOT delivered: webhook unreachable (ConnectError)"
