"""FlinkResource against the local stack's real Flink 2.2.1 session cluster and SQL Gateway
(scripts/stack.py; endpoints from the stack fixture: FLINK_GATEWAY_URL, FLINK_REST_URL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from resources.flink import FlinkResource, FlinkStatementError

pytestmark = pytest.mark.integration

SOURCE = (
    "CREATE TABLE clicks (id BIGINT, name STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '20', "
    "'fields.id.kind' = 'random', 'fields.id.min' = '1', 'fields.id.max' = '9', 'fields.name.length' = '4')"
)
SINK = "CREATE TABLE counts (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole')"
# a shuffle between the source and the aggregate: two vertices, so both have record counts
INSERT = "INSERT INTO counts SELECT id % 3, COUNT(*) FROM clicks GROUP BY id % 3"


@pytest.fixture
def flink(stack):
    resource = FlinkResource(gateway_url=stack["FLINK_GATEWAY_URL"], rest_url=stack["FLINK_REST_URL"])
    yield resource
    resource.close_clients()


def _eventually(fn, timeout: float = 30.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def test_bounded_statement_and_error_cause(flink):
    gw = flink.get_gateway_client()
    assert gw.info()["productName"] == "Apache Flink"
    with gw.session({"execution.runtime-mode": "streaming"}, name="test-bounded") as s:
        result = gw.execute(s, "SELECT id, name FROM (VALUES (1, 'alice'), (2, 'bob')) AS t(id, name)")
        assert result.columns == ("id", "name")
        assert result.rows == ({"id": 1, "name": "alice"}, {"id": 2, "name": "bob"}) and result.complete
        with pytest.raises(FlinkStatementError) as e:
            gw.execute(s, "SELECT * FROM no_such_table")
        assert "Object 'no_such_table' not found" in e.value.cause and "\tat " not in str(e.value)


def test_insert_job_listed_checkpointed_stopped_with_savepoint_and_another_cancelled(flink, tmp_path: Path):
    gw, jobs = flink.get_gateway_client(), flink.get_jobs_client()
    with gw.session({"execution.runtime-mode": "streaming", "parallelism.default": "1"}) as s:
        gw.execute(s, SOURCE)
        gw.execute(s, SINK)
        first = gw.execute(s, INSERT, execution_config={"pipeline.name": "res-test-stop"}).job_id
        assert first and len(first) == 32
        details = jobs.wait_for_state(first, {"RUNNING"}, timeout=60)
        assert details.name == "res-test-stop" and len(details.vertices) == 2
        assert first in [j.jid for j in jobs.running("res-test-stop")]

        # records flow through both vertices; a checkpoint completes (the stack checkpoints every 5 s)
        counts = _eventually(lambda: (c := jobs.record_counts(first)) and all(sum(v.values()) > 0 for v in c.values()) and c, timeout=45)
        assert counts, f"no records counted: {jobs.record_counts(first)}"
        checkpoint = _eventually(lambda: jobs.latest_checkpoint_path(first), timeout=45)
        assert checkpoint and "chk-" in checkpoint

        savepoint = jobs.stop_with_savepoint(first, tmp_path.as_uri(), drain=False, timeout=120)
        # Flink answers "file:/path" (one slash), whatever form the target had
        assert savepoint.startswith(f"file:{tmp_path}/savepoint-")
        assert (Path(savepoint.removeprefix("file:")) / "_metadata").is_file()
        assert jobs.wait_for_state(first, {"FINISHED"}, timeout=60).state == "FINISHED"

        second = gw.execute(s, INSERT, execution_config={"pipeline.name": "res-test-cancel"}).job_id
        jobs.wait_for_state(second, {"RUNNING"}, timeout=60)
        jobs.cancel(second)
        assert jobs.wait_for_state(second, {"CANCELED"}, timeout=60).state == "CANCELED"
        assert {j.jid: j.state for j in jobs.overview()}[second] == "CANCELED"
