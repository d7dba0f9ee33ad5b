"""Failure causes produced for real on the session stack: the real Debezium PostgreSQL task fails because of
a dropped publication or a revoked REPLICATION attribute, and the connector_health sensor, ticked over a
simulated hour against a real Dagster instance, raises the incident at once with the cause and the fix in
words, and requests no restart: Connect keeps the task FAILED with the same trace. A wrong password is shown
as Debezium 3.6.1 really behaves: its task keeps RUNNING in its own login retry loop with no trace; the sensor
learns it from the database (the source plug-in's connector_faults) and raises the same immediate incident.

Everything carries the module's own tag (role, schema, publication, slot, connector, topics): the session
stack's other tests are never touched, and close() removes it all."""

from __future__ import annotations

import json
import os
import time
import uuid

import dagster as dg
import pytest

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage
from pipeline_defs.lineage import build_lineage
from pipeline_defs.systems.connect.causes import classify
from pipeline_defs.systems.connect.healing import HealthPolicy
from pipeline_defs.systems.connect.health import build_connector_health_sensor
from pipeline_defs.systems.postgres.dagster_checks import postgres_checks
from resources.connect import connector_health
from tests.integration.local_env import LocalPipeline, renamed_spec, wait_until

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The tagged local spec with only its POC_USERDATA connector provisioned (role, tables, publication,
    connector): the rest of the pipeline is not needed to fail a CDC task."""

    def __init__(self, stack, tmp):
        tag = uuid.uuid4().hex[:6]
        doc = renamed_spec(tag)
        # Debezium retries a streaming error once, 1 s later, then fails the task (product default: 3 tries, 10 s)
        doc["source"]["debezium"] = {"errors_max_retries": 1, "retriable_restart_wait_ms": 1000}
        self.p = LocalPipeline(stack, tmp, tag, doc)
        src = self.p.spec.source
        self.role, self.pub, self.schema = src.role.name, src.publication, src.schema_name
        self.name = src.connectors[0].name
        self.slot = src.connectors[0].slot_name
        lineage = build_lineage(self.p.spec)
        self.node = next(n for n in lineage.by_system("connect") if n.name == self.name)
        self.source_keys = [dg.AssetKey(list(n.key)) for n in lineage.by_system("postgres")]
        self.clock = Clock()
        # the sensor watches this one connector (the spec's others are never created here)
        # and asks the source database about it, as the product's sensor does (connector_faults)
        plugin = registry.source_of(self.p.spec)
        self.sensor = build_connector_health_sensor(
            Lineage([self.node], []),
            policy=HealthPolicy(),
            clock=self.clock,
            source_faults=lambda resources: plugin.connector_faults(self.p.spec, resources),
            fault_resource_keys=plugin.fault_resource_keys,
        )
        self.cursor: str | None = None
        self.resources = self.p.resources()
        self.connect = self.p.connect()

    def provision(self, keys: list[dg.AssetKey]) -> None:
        job = self.p.defs.resolve_job_def("provision_pipeline")
        result = job.execute_in_process(instance=self.p.instance, raise_on_error=False, asset_selection=keys)
        assert result.success, [e.message for e in result.all_events if e.is_failure][:3]

    def status(self) -> dict:
        return self.connect.status(self.name)

    def wait(self, state: str, timeout: float = 60) -> dict:
        return wait_until(f"{self.name} {state}", lambda: s if connector_health(s := self.status())[0] == state else None, timeout)

    def tick(self):
        with dg.build_sensor_context(
            instance=self.p.instance,
            cursor=self.cursor,
            resources={k: self.resources[k] for k in ("connect", "kafka", "postgres")},
        ) as ctx:
            result = self.sensor(ctx)
        if isinstance(result, dg.SensorResult):
            self.cursor = result.cursor
        return result

    def insert(self, key: str) -> None:
        self.p.sql((f'INSERT INTO "{self.schema}"."POC_USERDATA" ("ID", "NAME") VALUES (%s, %s)', [key, "cause"]))


@pytest.fixture(scope="module")
def src(stack, tmp_path_factory):
    s = Source(stack, tmp_path_factory.mktemp("causes"))
    try:
        s.provision([*s.source_keys, dg.AssetKey(list(s.node.key))])
        s.wait("RUNNING")
        yield s
    finally:
        s.connect.close()
        problems = s.p.close()
        assert not problems, problems


def _trace(status: dict) -> str:
    return "\n".join(t.get("trace", "") for t in status["tasks"] if t["state"] == "FAILED")


def assert_incident_without_restart(src: Source, cause: str, words: list[str]) -> None:
    """The FAILED task gets one incident at the first tick, naming the cause and the fix, and no restart over
    a simulated hour of ticks; Connect still shows the same failed task afterwards."""
    failed = src.wait("FAILED")
    trace = _trace(failed)
    assert classify(trace).name == cause, trace[:3000]
    assert_one_incident(src, cause, words)
    time.sleep(2)  # a restart would show within this (the task fails again in ~1 s, with a new trace)
    after = src.status()
    assert connector_health(after)[0] == "FAILED" and _trace(after) == trace, "Connect saw no restart"


def assert_one_incident(src: Source, cause: str, words: list[str]) -> None:
    requests, evaluations = [], []
    for _ in range(0, 3600 + 1, 150):  # over a simulated hour: a transient cause would be restarted at 0, 2, 8, 20, 40 min
        result = src.tick()
        if isinstance(result, dg.SensorResult):
            requests.append(list(result.run_requests or []))
            evaluations += [e for e in result.asset_events or [] if isinstance(e, dg.AssetCheckEvaluation)]
        src.clock.now += 150
    [incident] = requests[0]
    assert incident.job_name == "connector_incident" and incident.tags["cdc/reason"] == cause
    assert all(r == [] for r in requests[1:]), "no restart, and the incident only once"
    [ev] = evaluations
    assert ev.check_name == "running" and not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    assert ev.metadata["cause"].value == cause
    for w in words:
        assert w in ev.description, ev.description
    config = incident.run_config["ops"]["raise_incident"]["config"]
    assert config["cause"] == cause and config["restarts"] == 0 and config["fix"] in ev.description
    run = src.p.defs.resolve_job_def("connector_incident").execute_in_process(
        instance=src.p.instance, run_config=incident.run_config, tags=incident.tags, raise_on_error=False
    )
    assert not run.success  # the incident is a failed run: loud


def slot_active(src: Source) -> bool:
    with src.p.pg() as conn:
        row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [src.slot]).fetchone()
    return bool(row and row[0])


def heal(src: Source) -> None:
    """A person's fix is in; they restart the task; the sensor sees it healthy (and forgets the incident)."""
    src.connect.restart(src.name, include_tasks=True, only_failed=True)
    src.wait("RUNNING")
    wait_until("slot streaming", lambda: slot_active(src), 30)  # RUNNING shows at once; streaming proves the fix
    src.insert(f"healed-{uuid.uuid4().hex[:6]}")
    time.sleep(1)
    assert connector_health(src.status())[0] == "RUNNING" and slot_active(src)
    src.clock.now += 30
    result = src.tick()
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    assert result.skip_reason.skip_message == "all connectors healthy"


def test_dropped_publication_is_an_incident_at_once_and_not_restarted(src):
    src.p.sql(f'DROP PUBLICATION "{src.pub}"')
    src.insert("cause-pub")  # the walsender decodes it and finds no publication
    assert_incident_without_restart(src, "publication_missing", ["publication_missing", "publication", "provision_pipeline"])
    pub_key = next(k for k in src.source_keys if k.path[1] == "publication")
    src.provision([pub_key])  # the fix the incident names, in its two steps:
    # PostgreSQL 15 decodes each change with the catalog as of that change: the row written while the publication
    # was gone fails again after it is back ('publication "..." does not exist' in the change callback), so the
    # slot is moved past it
    with src.p.pg() as conn:
        conn.execute("SELECT pg_replication_slot_advance(%s, pg_current_wal_lsn())", [src.slot])
    heal(src)


def test_revoked_replication_is_an_incident_at_once_and_not_restarted(src):
    src.p.sql(f'ALTER ROLE "{src.role}" NOREPLICATION')
    try:
        src.connect.restart(src.name, include_tasks=True, only_failed=False)  # e.g. a worker restart
        assert_incident_without_restart(src, "missing_privilege", ["missing_privilege", "grant", "provision_pipeline"])
    finally:
        src.p.sql(f'ALTER ROLE "{src.role}" REPLICATION')
    heal(src)


def _role_check(src: Source) -> dg.AssetCheckResult:
    """The product's role_grants check, run with the real postgres resource."""
    lineage = build_lineage(src.p.spec)
    [role] = lineage.by_kind("postgres_role")
    [check] = [c for c in postgres_checks(role, lineage) if next(iter(c.check_keys)).name == "role_grants"]
    with dg.build_op_context(resources={"postgres": src.resources["postgres"]}) as ctx:
        return check(ctx)


def test_wrong_password_is_an_incident_at_once_though_the_task_stays_running(src):
    """Debezium 3.6.1 wraps a failed login at task start in a RetriableException ("Couldn't obtain encoding for
    database") and retries it every retriable.restart.connector.wait.ms without bound (errors.max.retries only
    bounds streaming errors): the task stays RUNNING and Connect holds no trace. The sensor asks the database
    (PostgreSQL's connector_faults): the slot is not streaming and the role's stored SCRAM verifier is not the
    password the connectors use, so the incident is raised at once, naming the cause and the fix, and nothing
    is restarted. The role_grants check says the same."""
    assert _role_check(src).passed
    src.p.sql(f"ALTER ROLE \"{src.role}\" PASSWORD 'not-the-secret-{uuid.uuid4().hex[:6]}'")
    try:
        src.connect.restart(src.name, include_tasks=True, only_failed=False)  # the task logs in again
        time.sleep(4)  # several of Debezium's 1 s retries
        status = src.status()
        assert connector_health(status)[0] == "RUNNING" and not _trace(status), status
        assert not slot_active(src)  # nothing streams: the task is in its login retry loop
        assert_one_incident(src, "authentication_failed", ["authentication_failed", "password"])
        assert connector_health(src.status())[0] == "RUNNING", "the sensor restarted nothing"
        check = _role_check(src)
        md = {k: v.value for k, v in check.metadata.items()}
        assert not check.passed and md["password_matches"] is False
        assert f"role {src.role}'s password differs from POSTGRES_CDC_PASSWORD" in md["problem"]
        assert "provision_pipeline" in md["fix"]
        assert os.environ["POSTGRES_CDC_PASSWORD"] not in json.dumps(md)
    finally:
        role_key = next(k for k in src.source_keys if k.path[1] == "role")
        src.provision([role_key])  # the fix the check names
    assert _role_check(src).passed
    # Debezium's next retry logs in: the slot streams again, with no restart by anyone
    wait_until("slot active again", lambda: slot_active(src), 30)
    assert connector_health(src.status())[0] == "RUNNING"
