"""The Oracle redo-retention guard on the real Connect worker: the Confluent Oracle CDC contract double
commits its offset SCNs through Connect, the Oracle double archives and (as RMAN would) purges logs,
and the `log_retention` check reads both: OK, then WARN once the purge brings the oldest redo within
the spec's margin of a stopped connector's position, then ERROR once the log it needs is gone; resumed
then, the connector fails as LogMiner does (ORA-01291 missing logfile)."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from pipeline_defs.definitions import build_definitions
from pipeline_defs.spec import parse_spec
from pipeline_defs.systems.oracle import retention as ret
from pipeline_defs.systems.oracle.catalog import insert_statement
from tests.integration.pipeline_env import _spec_text, checks, insert_click, pipeline_env, run, wait_state

pytestmark = pytest.mark.integration
CHECK = "oracle/role/C__CDC_PRIVS:log_retention"
CONNECTORS = ("userdata_avro", "clickstream_avro")


@pytest.fixture(scope="module")
def env(stack, connect_plugin_doubles, tmp_path_factory):
    yield from pipeline_env(stack, connect_plugin_doubles, tmp_path_factory)


def _offset_scn(env, name: str, above: int, timeout: float = 60.0) -> int:
    """The connector's committed resume SCN once it is above `above` (the worker flushes every second)."""
    deadline = time.monotonic() + timeout
    scn = None
    while time.monotonic() < deadline:
        scn = ret.resume_scn(env.connect.offsets(name), env.database)
        if scn is not None and scn > above:
            return scn
        time.sleep(0.5)
    raise AssertionError(f"{name}'s offset SCN never passed {above} (last {scn})")


def _check(env, defs):
    result = defs.resolve_job_def("data_quality").execute_in_process(instance=env.instance, raise_on_error=False)
    return checks(result)[CHECK]


def _severity(ev):
    return ev.metadata["severity"].value


def test_offsets_then_purges_give_ok_warn_error(env):
    # no connector, no offset: no position to lose yet, a pass with a note
    first = _check(env, env.defs)
    assert first.passed and _severity(first) == "OK", first.metadata
    assert [r["offset_scn"] for r in first.metadata["connectors"].value] == [None, None]
    assert all("no committed offset yet" in r["note"] for r in first.metadata["connectors"].value)

    assert run(env, "provision_pipeline").success

    assert run(env, "seed_demo_events").success
    switched = env.db.switch_logfile()  # sequence 1 archived; sequence 2 current from n1
    n1 = switched["NEXT_CHANGE#"]
    # a change on each captured table after the switch moves both connectors into sequence 2
    user = env.spec.source.table("POC_USERDATA")
    with env.resources["oracle"].admin_client() as admin:
        admin.apply([insert_statement(env.spec.source.user.name, user, {"ID": "199", "NAME": "retention"})])
    insert_click(env, "retention")
    scns = {name: _offset_scn(env, name, n1) for name in CONNECTORS}
    for name in CONNECTORS:  # the connectors go down and keep their position (KIP-875 STOPPED)
        env.connect.stop(name)
    for name in CONNECTORS:
        assert ret.resume_scn(env.connect.offsets(name), env.database) == scns[name]
    for _ in range(3):
        env.db.switch_logfile()  # archived 1..4, online groups 3, 4 and current 5

    # margin: just more than the stopped connectors are ahead of sequence 2's start
    margin = max(scns.values()) + 1 - n1 + 1
    spec = parse_spec(_spec_text(env.database, **{"source.log_retention": {"warn_margin_scn": margin}}), "m.yaml", env=os.environ)
    defs = build_definitions(spec, env.resources)
    try:
        ok = _check(env, defs)
        assert ok.passed and _severity(ok) == "OK", ok.metadata
        assert {r["connector"]: r["offset_scn"] for r in ok.metadata["connectors"].value} == scns

        assert env.db.purge_archived_logs(through_sequence=1) == 1  # RMAN: DELETE ARCHIVELOG UNTIL sequence 1
        warn = _check(env, defs)
        assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN, warn.metadata
        assert _severity(warn) == "WARN" and warn.metadata["horizon_scn"].value == n1
        assert "the next log purge would strand it" in warn.metadata["problem"].value

        assert env.db.purge_archived_logs(through_sequence=2) == 1  # the log both connectors resume in
        err = _check(env, defs)
        assert not err.passed and err.severity == dg.AssetCheckSeverity.ERROR, err.metadata
        problem = err.metadata["problem"].value
        for name in CONNECTORS:
            assert f"{name} resumes at SCN {scns[name] + 1}, but the oldest redo still available starts at SCN" in problem
        assert "a restart would fail for lack of logs" in problem and "reset_connector_offsets" in problem
    finally:
        for name in CONNECTORS:
            env.connect.resume(name)
    # and it does: the CDC source double, like LogMiner, cannot resume without the log
    for name in CONNECTORS:
        status = wait_state(env, name, "FAILED", timeout=60)
        trace = " ".join(t.get("trace") or "" for t in status.get("tasks", []))
        assert f"ORA-01291: missing logfile: resuming at SCN {scns[name] + 1}" in trace, status
