"""Flink SQL Gateway and JobManager clients over httpx.MockTransport.

Response bodies follow the Flink REST docs (nightlies.apache.org/flink/flink-docs-stable/docs/ops/rest_api/ and
.../dev/table/sql-gateway/rest/; apache/flink docs/static/generated/rest_v1_dispatcher.yml and
rest_v*_sql_gateway.yml) and the gateway's ResultInfoSerializer ("columns", "rowFormat", "data": [{"kind",
"fields"}]). The integration test (tests/integration/test_flink_resource.py) runs the same calls on a real cluster.
"""

from __future__ import annotations

import json

import httpx
import pytest

from resources.flink import (
    FlinkJobNotFound,
    FlinkJobsClient,
    FlinkResource,
    FlinkSavepointError,
    FlinkSqlGatewayClient,
    FlinkStatementError,
    FlinkUnreachable,
    root_cause,
)

pytestmark = pytest.mark.unit

SESSION = "5f8e1a7e-5c4c-4a39-8c5e-0d1f0e7b9a11"
OP = "0b4b0c43-1d8e-4f35-a8a3-9f1c2a3b4c5d"
JOB = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
VERTEX = "cbc357ccb763df2852fee8c4fc7d55f2"
TRIGGER = "7d6a4c1e2b3f40a59e8d7c6b5a493827"

JAVA_TRACE = (
    "<Exception on server side:\n"
    "org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n"
    "\tat org.apache.flink.table.gateway.rest.handler.statement.FetchResultsHandler.handleRequest(FetchResultsHandler.java:91)\n"
    "Caused by: org.apache.flink.table.gateway.service.utils.SqlExecutionException: Failed to execute the operation.\n"
    "\tat org.apache.flink.table.gateway.service.operation.OperationManager$Operation.processThrowable(OperationManager.java:414)\n"
    "Caused by: org.apache.flink.table.api.ValidationException: SQL validation failed. From line 1, column 15 to "
    "line 1, column 19: Object 'nope' not found\n"
    "\tat org.apache.flink.table.planner.calcite.FlinkPlannerImpl.validate(FlinkPlannerImpl.scala:200)\n"
    "\t... 12 more\n\nEnd of exception on server side>"
)


def column(name: str, type_root: str) -> dict:
    return {"name": name, "logicalType": {"type": type_root, "nullable": True}, "comment": None}


class FakeFlink:
    """Answers like a SQL Gateway + JobManager pair; records every request."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.pages: list[dict] = []
        self.savepoint_polls = 0
        self.fail_fetch = False
        self.unavailable = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        p, m = request.url.path, request.method
        if self.unavailable:
            self.unavailable -= 1
            return httpx.Response(503, json={"errors": ["Service temporarily unavailable due to an ongoing leader election."]})
        if (m, p) == ("POST", "/v1/sessions"):
            return httpx.Response(200, json={"sessionHandle": SESSION})
        if (m, p) == ("POST", f"/v1/sessions/{SESSION}/statements"):
            return httpx.Response(200, json={"operationHandle": OP})
        if (m, p) == ("GET", f"/v1/sessions/{SESSION}/operations/{OP}/status"):
            return httpx.Response(200, json={"status": "FINISHED"})
        if m == "GET" and p.startswith(f"/v1/sessions/{SESSION}/operations/{OP}/result/"):
            if self.fail_fetch:
                return httpx.Response(500, json={"errors": ["Internal server error.", JAVA_TRACE]})
            token = int(p.rsplit("/", 1)[1])
            return httpx.Response(200, json=self.pages[token])
        if (m, p) == ("DELETE", f"/v1/sessions/{SESSION}/operations/{OP}/close"):
            return httpx.Response(200, json={"status": "CLOSED"})
        if (m, p) in (("POST", f"/v1/sessions/{SESSION}/heartbeat"), ("DELETE", f"/v1/sessions/{SESSION}")):
            return httpx.Response(200, json={"status": "CLOSED"} if m == "DELETE" else {})
        if (m, p) == ("GET", "/jobs/overview"):
            return httpx.Response(
                200,
                json={
                    "jobs": [
                        {
                            "jid": JOB,
                            "name": "insert-into_default_catalog.default_database.counts",
                            "state": "RUNNING",
                            "start-time": 1796131620000,
                            "end-time": -1,
                            "duration": 5321,
                            "last-modification": 1796131620500,
                            "tasks": {"total": 2, "running": 2, "finished": 0, "canceling": 0, "canceled": 0, "failed": 0},
                        },
                        {"jid": "f" * 32, "name": "collect", "state": "FINISHED", "start-time": 1, "end-time": 2, "duration": 1},
                    ]
                },
            )
        if (m, p) == ("GET", f"/jobs/{JOB}"):
            return httpx.Response(
                200,
                json={
                    "jid": JOB,
                    "name": "insert-into_default_catalog.default_database.counts",
                    "isStoppable": False,
                    "state": "RUNNING",
                    "start-time": 1796131620000,
                    "end-time": -1,
                    "duration": 5321,
                    "maxParallelism": -1,
                    "now": 1796131625321,
                    "timestamps": {"RUNNING": 1796131620100, "CREATED": 1796131620000},
                    "vertices": [
                        {
                            "id": VERTEX,
                            "name": "Source: clicks -> Calc -> Sink: counts",
                            "maxParallelism": 128,
                            "parallelism": 1,
                            "status": "RUNNING",
                            "start-time": 1796131620200,
                            "end-time": -1,
                            "duration": 5121,
                            "tasks": {"RUNNING": 1},
                            "metrics": {"read-bytes": 0, "read-records": 0, "write-bytes": 0, "write-records": 0},
                        }
                    ],
                    "status-counts": {"RUNNING": 1},
                    "plan": {"jid": JOB, "name": "counts", "nodes": []},
                },
            )
        if (m, p) == ("GET", f"/jobs/{'0' * 32}"):
            return httpx.Response(
                404,
                json={
                    "errors": [
                        (
                            f"org.apache.flink.runtime.rest.NotFoundException: Job {'0' * 32} not found\n\tat org.apache.flink...\n"
                            f"Caused by: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job "
                            f"({'0' * 32})"
                        )
                    ]
                },
            )
        if (m, p) == ("PATCH", f"/jobs/{JOB}"):
            return httpx.Response(202, json={})
        if (m, p) == ("POST", f"/jobs/{JOB}/stop"):
            return httpx.Response(202, json={"request-id": TRIGGER})
        if (m, p) == ("GET", f"/jobs/{JOB}/savepoints/{TRIGGER}"):
            self.savepoint_polls += 1
            if self.savepoint_polls < 3:
                return httpx.Response(200, json={"status": {"id": "IN_PROGRESS"}, "operation": None})
            if getattr(self, "savepoint_fails", False):
                return httpx.Response(
                    200,
                    json={
                        "status": {"id": "COMPLETED"},
                        "operation": {
                            "failure-cause": {
                                "class": "java.util.concurrent.CompletionException",
                                "stack-trace": "java.util.concurrent.CompletionException: ...\nCaused by: "
                                "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator "
                                "is suspending.\n\tat ...",
                                "serialized-throwable": "rO0ABXNy",
                            }
                        },
                    },
                )
            return httpx.Response(
                200, json={"status": {"id": "COMPLETED"}, "operation": {"location": "file:/tmp/savepoints/savepoint-a1b2c3-0123456789ab"}}
            )
        if (m, p) == ("GET", f"/jobs/{JOB}/checkpoints"):
            return httpx.Response(
                200,
                json={
                    "counts": {"restored": 0, "total": 3, "in_progress": 0, "completed": 3, "failed": 0},
                    "summary": {},
                    "history": [],
                    "latest": {
                        "completed": {
                            "@class": "completed",
                            "id": 3,
                            "status": "COMPLETED",
                            "is_savepoint": False,
                            "external_path": "file:/tmp/checkpoints/a1b2c3/chk-3",
                            "discarded": False,
                        },
                        "savepoint": None,
                        "failed": None,
                        "restored": None,
                    },
                },
            )
        if (m, p) == ("GET", f"/jobs/{JOB}/vertices/{VERTEX}/subtasks/metrics"):
            names = request.url.params["get"].split(",")
            values = {"numRecordsIn": 42.0, "numRecordsOut": 7.0}
            return httpx.Response(
                200,
                json=[
                    {"id": n, "min": values[n], "max": values[n], "avg": values[n], "sum": values[n], "skew": 0.0}
                    for n in names
                    if n in values
                ],
            )
        return httpx.Response(404, json={"errors": ["Not found: " + p]})


@pytest.fixture
def fake():
    return FakeFlink()


def gateway(fake, **kw) -> FlinkSqlGatewayClient:
    return FlinkSqlGatewayClient("http://gateway:8091", transport=httpx.MockTransport(fake), sleep=lambda s: None, **kw)


def jobs(fake, **kw) -> FlinkJobsClient:
    return FlinkJobsClient("http://jobmanager:8081", transport=httpx.MockTransport(fake), sleep=lambda s: None, **kw)


def result_uri(token: int) -> str:
    return f"/v1/sessions/{SESSION}/operations/{OP}/result/{token}?rowFormat=JSON"


def test_session_statement_and_paged_results_until_eos(fake):
    fake.pages = [
        {"resultType": "NOT_READY", "isQueryResult": False, "resultKind": "SUCCESS_WITH_CONTENT", "nextResultUri": result_uri(1)},
        {
            "resultType": "PAYLOAD",
            "isQueryResult": True,
            "jobID": JOB,
            "resultKind": "SUCCESS_WITH_CONTENT",
            "results": {
                "columns": [column("NAME", "VARCHAR"), column("EVENT_COUNT", "BIGINT")],
                "rowFormat": "JSON",
                "data": [{"kind": "INSERT", "fields": ["alice", 3]}, {"kind": "INSERT", "fields": ["bob", 1]}],
            },
            "nextResultUri": result_uri(2),
        },
        {
            "resultType": "PAYLOAD",
            "isQueryResult": True,
            "jobID": JOB,
            "resultKind": "SUCCESS_WITH_CONTENT",
            "results": {
                "columns": [column("NAME", "VARCHAR"), column("EVENT_COUNT", "BIGINT")],
                "rowFormat": "JSON",
                "data": [{"kind": "UPDATE_AFTER", "fields": ["alice", 4]}],
            },
            "nextResultUri": result_uri(3),
        },
        {
            "resultType": "EOS",
            "isQueryResult": True,
            "jobID": JOB,
            "resultKind": "SUCCESS_WITH_CONTENT",
            "results": {"columns": [column("NAME", "VARCHAR"), column("EVENT_COUNT", "BIGINT")], "rowFormat": "JSON", "data": []},
        },
    ]
    client = gateway(fake)
    with client.session({"execution.runtime-mode": "batch", "parallelism.default": 1}, name="preview") as s:
        assert s == SESSION
        result = client.execute(s, "SELECT NAME, COUNT(*) AS EVENT_COUNT FROM clicks GROUP BY NAME")
        client.heartbeat(s)
    assert result.columns == ("NAME", "EVENT_COUNT")
    assert result.rows == ({"NAME": "alice", "EVENT_COUNT": 3}, {"NAME": "bob", "EVENT_COUNT": 1}, {"NAME": "alice", "EVENT_COUNT": 4})
    assert result.kinds == ("INSERT", "INSERT", "UPDATE_AFTER") and result.job_id == JOB and result.complete
    calls = [(r.method, r.url.path) for r in fake.requests]
    opened = json.loads(fake.requests[0].content)
    assert opened == {"properties": {"execution.runtime-mode": "batch", "parallelism.default": "1"}, "sessionName": "preview"}
    fetches = [r for r in fake.requests if "/result/" in r.url.path]
    assert [r.url.path.rsplit("/", 1)[1] for r in fetches] == ["0", "1", "2", "3"]
    assert all(r.url.params["rowFormat"] == "JSON" for r in fetches)
    assert ("DELETE", f"/v1/sessions/{SESSION}/operations/{OP}/close") in calls
    assert calls[-2:] == [("POST", f"/v1/sessions/{SESSION}/heartbeat"), ("DELETE", f"/v1/sessions/{SESSION}")]


def test_insert_returns_its_job_id_and_max_rows_stops_an_unbounded_fetch(fake):
    fake.pages = [
        {
            "resultType": "PAYLOAD",
            "isQueryResult": False,
            "jobID": JOB,
            "resultKind": "SUCCESS_WITH_CONTENT",
            "results": {"columns": [column("job id", "VARCHAR")], "rowFormat": "JSON", "data": [{"kind": "INSERT", "fields": [JOB]}]},
            "nextResultUri": result_uri(1),
        },
        {
            "resultType": "EOS",
            "isQueryResult": False,
            "jobID": JOB,
            "resultKind": "SUCCESS_WITH_CONTENT",
            "results": {"columns": [column("job id", "VARCHAR")], "rowFormat": "JSON", "data": []},
        },
    ]
    client = gateway(fake)
    assert client.execute(SESSION, "INSERT INTO counts SELECT * FROM clicks").job_id == JOB
    fake.pages = [
        {
            "resultType": "PAYLOAD",
            "results": {
                "columns": [column("N", "INTEGER")],
                "rowFormat": "JSON",
                "data": [{"kind": "INSERT", "fields": [i]} for i in range(5)],
            },
            "nextResultUri": result_uri(0),
        }
    ]
    preview = client.execute(SESSION, "SELECT N FROM unbounded", max_rows=3)
    assert [r["N"] for r in preview.rows] == [0, 1, 2] and not preview.complete


def test_failed_statement_surfaces_the_last_caused_by_line_not_the_trace(fake):
    fake.fail_fetch = True
    with pytest.raises(FlinkStatementError) as e:
        gateway(fake).execute(SESSION, "SELECT * FROM nope")
    assert e.value.cause == (
        "org.apache.flink.table.api.ValidationException: SQL validation failed. From line 1, "
        "column 15 to line 1, column 19: Object 'nope' not found"
    )
    assert "\tat " not in str(e.value) and "SELECT * FROM nope" in str(e.value) and e.value.status == 500
    # the operation is closed even when its results failed
    assert any(r.method == "DELETE" and r.url.path.endswith("/close") for r in fake.requests)


def test_root_cause():
    assert root_cause(JAVA_TRACE).endswith("Object 'nope' not found")
    assert root_cause("java.lang.IllegalStateException: only this\n\tat x") == "java.lang.IllegalStateException: only this"
    assert root_cause("") == ""


def test_jobs_overview_details_metrics_and_checkpoints(fake):
    client = jobs(fake)
    overview = client.overview()
    assert [(j.jid, j.state) for j in overview] == [(JOB, "RUNNING"), ("f" * 32, "FINISHED")]
    assert [j.jid for j in client.running("insert-into_default_catalog.default_database.counts")] == [JOB]
    details = client.job(JOB)
    assert details.name.endswith(".counts") and details.state == "RUNNING" and details.vertices[0].id == VERTEX
    assert client.record_counts(JOB) == {"Source: clicks -> Calc -> Sink: counts": {"numRecordsIn": 42.0, "numRecordsOut": 7.0}}
    metrics_call = next(r for r in fake.requests if r.url.path.endswith("/subtasks/metrics"))
    assert metrics_call.url.params["get"] == "numRecordsIn,numRecordsOut" and metrics_call.url.params["agg"] == "sum"
    assert client.latest_checkpoint_path(JOB) == "file:/tmp/checkpoints/a1b2c3/chk-3"
    with pytest.raises(FlinkJobNotFound) as e:
        client.job("0" * 32)
    assert "Could not find Flink job" in str(e.value) and "\tat " not in str(e.value)
    with pytest.raises(ValueError):
        client.job("../../jobs/overview")


def test_cancel_and_stop_with_savepoint(fake):
    client = jobs(fake)
    client.cancel(JOB)
    cancel = next(r for r in fake.requests if r.method == "PATCH")
    assert cancel.url.path == f"/jobs/{JOB}" and cancel.url.params["mode"] == "cancel"
    path = client.stop_with_savepoint(JOB, "file:/tmp/savepoints")
    assert path == "file:/tmp/savepoints/savepoint-a1b2c3-0123456789ab" and fake.savepoint_polls == 3
    stop = next(r for r in fake.requests if r.url.path.endswith("/stop"))
    assert json.loads(stop.content) == {"drain": False, "targetDirectory": "file:/tmp/savepoints"}
    fake.savepoint_polls, fake.savepoint_fails = 0, True
    with pytest.raises(FlinkSavepointError) as e:
        client.stop_with_savepoint(JOB, "file:/tmp/savepoints")
    assert "Checkpoint Coordinator is suspending" in str(e.value)


def test_503_is_retried_then_answers(fake):
    fake.unavailable = 2
    delays: list[float] = []
    client = FlinkJobsClient(
        "http://jobmanager:8081", transport=httpx.MockTransport(fake), sleep=delays.append, backoff=0.5, backoff_max=4.0
    )
    assert client.overview()
    assert len(delays) == 2 and 0 <= delays[0] <= 0.5 and 0 <= delays[1] <= 1.0


def test_resource_owns_both_clients_and_names_the_endpoint_when_unreachable(monkeypatch):
    monkeypatch.setenv("FLINK_GATEWAY_URL", "http://nohost.invalid:8091")
    monkeypatch.delenv("FLINK_REST_URL", raising=False)  # a session stack exports its own
    resource = FlinkResource(max_retries=1, backoff_seconds=0.01, timeout_seconds=2)
    gw = resource.get_gateway_client()
    assert gw is resource.get_gateway_client() and gw.base_url == "http://nohost.invalid:8091"
    with pytest.raises(FlinkUnreachable) as e:
        gw.open_session()
    assert "http://nohost.invalid:8091" in str(e.value) and "2 attempt(s)" in str(e.value)
    assert resource.get_jobs_client().base_url == "http://127.0.0.1:8081"  # the local stack's default
    resource.close_clients()
    assert gw.closed


@pytest.mark.parametrize(
    "latest,expected",
    [
        # stopped with a savepoint: the job FINISHED and Flink discarded its checkpoints
        (
            {
                "completed": {"id": 2, "external_path": "file:/c/chk-2", "discarded": True},
                "savepoint": {"id": 3, "external_path": "file:/s/savepoint-3", "discarded": False},
            },
            "file:/s/savepoint-3",
        ),
        # checkpoints taken after an older savepoint are newer
        (
            {
                "completed": {"id": 9, "external_path": "file:/c/chk-9", "discarded": False},
                "savepoint": {"id": 3, "external_path": "file:/s/savepoint-3", "discarded": False},
            },
            "file:/c/chk-9",
        ),
        ({"completed": {"id": 2, "external_path": "file:/c/chk-2", "discarded": True}, "savepoint": None}, None),
        ({"completed": None, "savepoint": None}, None),
    ],
)
def test_latest_checkpoint_path_is_the_newest_kept_one(latest, expected):
    body = {"counts": {}, "summary": {}, "history": [], "latest": {**latest, "failed": None, "restored": None}}
    client = FlinkJobsClient("http://flink", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    assert client.latest_checkpoint_path(JOB) == expected
