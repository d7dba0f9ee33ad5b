"""Per-job secrets in the compose stack: pipeline_defs/run_secrets.py says which secrets each job's run container gets,
resources/run_launcher.py hands out exactly those, compose/dagster.yaml allows nothing more.

- the table is derived from the code, both ways: every secret a job's resources read is in its entry (else the run
  fails or, for the optional Redis password, silently connects without it), and nothing else is;
- the definitions load and each job's run config resolves in an environment holding only that job's secrets (what
  a run container has);
- the launcher, loaded from the unmodified compose/dagster.yaml on a real PostgreSQL, passes each run exactly the
  shared env_vars plus its job's secrets to `containers.create` (the Docker client is the only stand-in: there is
  no engine here), ignores a tag added at launch time, refuses names outside secret_env_vars.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGSTER_YAML = ROOT / "compose" / "dagster.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures_postgres import PostgresServer, postgres_server  # noqa: F401  (the session fixture, by name)

from pipeline_defs import run_secrets
from resources import endpoints
from resources import run_launcher as launcher_mod

pytestmark = pytest.mark.unit

ALL_SECRETS = [
    endpoints.ORACLE_ADMIN_PASSWORD_ENV,
    endpoints.ORACLE_PASSWORD_ENV,
    endpoints.REDIS_PASSWORD_ENV,
    endpoints.CONFLUENT_LICENSE_ENV,
]
# run config a job cannot do without (everything else has defaults)
REQUIRED_RUN_CONFIG = {
    "connector_incident": {"ops": {"raise_incident": {"config": {"connector": "c", "reason": "FAILED"}}}},
    "alter_connector_offsets": {"ops": {"alter_offsets": {"config": {"connector": "c", "offsets": []}}}},
    "reset_connector_offsets": {"ops": {"reset_offsets": {"config": {"connectors": ["c"]}}}},
}


def _definitions_with_env(monkeypatch, present: set[str]) -> dg.Definitions:
    """The definitions as a run container builds them: only `present` of the secrets set."""
    for name in ALL_SECRETS:
        if name in present:
            monkeypatch.setenv(name, f"value-of-{name}-Aa1")
        else:
            monkeypatch.delenv(name, raising=False)
    from pipeline_defs.definitions import build_definitions

    return build_definitions()


def _env_var_names(resource) -> set[str]:
    return {v.env_var_name for v in vars(resource).values() if isinstance(v, dg.EnvVar)}


def test_every_job_has_an_entry_and_every_entry_is_a_job(monkeypatch):
    defs = _definitions_with_env(monkeypatch, set(ALL_SECRETS))
    jobs = {j.name for j in defs.get_repository_def().get_all_jobs()}
    assert run_secrets.IMPLICIT_ASSET_JOB in jobs
    assert set(run_secrets.JOB_SECRETS) == jobs, (
        f"jobs without an entry: {sorted(jobs - set(run_secrets.JOB_SECRETS))}; "
        f"entries without a job: {sorted(set(run_secrets.JOB_SECRETS) - jobs)}"
    )
    with pytest.raises(KeyError, match="pipeline_defs/run_secrets.py"):
        run_secrets.secrets_for("no_such_job")
    # a job of the other profile (or a new one) gets the tag with no secret at all
    assert run_secrets.job_tags("repair_flink_jobs") == {run_secrets.SECRETS_TAG: ""}


def test_each_job_gets_exactly_the_secrets_its_resources_read(monkeypatch):
    """With every secret set, each resource shows the EnvVars it reads; a job's entry must equal the union over the
    resources the job requires (so REDIS_PASSWORD, optional in the wiring, is not silently missing either)."""
    from pipeline_defs.wiring import build_resources

    defs = _definitions_with_env(monkeypatch, set(ALL_SECRETS))
    resources = build_resources()
    assert _env_var_names(resources["oracle"]) == {endpoints.ORACLE_PASSWORD_ENV, endpoints.ORACLE_ADMIN_PASSWORD_ENV}
    assert _env_var_names(resources["redis"]) == {endpoints.REDIS_PASSWORD_ENV}
    for job in defs.get_repository_def().get_all_jobs():
        read = set().union(*(_env_var_names(resources[k]) for k in job.required_resource_keys if k in resources))
        assert set(run_secrets.JOB_SECRETS[job.name]) == read, (
            f"{job.name}: its resources ({sorted(job.required_resource_keys)}) read {sorted(read)}, "
            f"run_secrets gives it {sorted(run_secrets.JOB_SECRETS[job.name])}"
        )
    # the admin password is only for jobs that act on Oracle as admin; connector and ksqlDB jobs get nothing
    admin = {j for j, names in run_secrets.JOB_SECRETS.items() if endpoints.ORACLE_ADMIN_PASSWORD_ENV in names}
    # (rebuild_redis compares with the source through the same Oracle resource, which holds both)
    assert admin == {"provision_pipeline", "plan", "data_quality", "seed_demo_events", "rebuild_redis", run_secrets.IMPLICIT_ASSET_JOB}
    for job in ("reregister_connectors", "restart_connectors", "repair_ksql_queries", "connector_incident"):
        assert run_secrets.JOB_SECRETS[job] == ()
    assert endpoints.CONFLUENT_LICENSE_ENV not in run_secrets.RUN_SECRET_NAMES


@pytest.mark.parametrize("job_name", sorted(run_secrets.JOB_SECRETS))
def test_each_job_resolves_its_run_config_with_only_its_secrets(monkeypatch, job_name):
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.system_config.objects import ResolvedRunConfig

    own = set(run_secrets.JOB_SECRETS[job_name])
    job = _definitions_with_env(monkeypatch, own).get_repository_def().get_job(job_name)
    ResolvedRunConfig.build(job, REQUIRED_RUN_CONFIG.get(job_name, {}))  # raises on a missing EnvVar
    # and each Oracle secret it has is really needed: without it the config does not resolve
    for name in own - {endpoints.REDIS_PASSWORD_ENV}:
        job = _definitions_with_env(monkeypatch, own - {name}).get_repository_def().get_job(job_name)
        with pytest.raises(DagsterInvalidConfigError, match=name):
            ResolvedRunConfig.build(job, REQUIRED_RUN_CONFIG.get(job_name, {}))


def test_compose_dagster_yaml_allows_exactly_the_table(monkeypatch):
    cfg = yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]["config"]
    assert tuple(sorted(cfg["secret_env_vars"])) == run_secrets.RUN_SECRET_NAMES
    assert cfg["implicit_asset_job_secrets"] == list(run_secrets.JOB_SECRETS[run_secrets.IMPLICIT_ASSET_JOB])
    assert launcher_mod.SECRETS_TAG == run_secrets.SECRETS_TAG
    assert launcher_mod.IMPLICIT_ASSET_JOB == run_secrets.IMPLICIT_ASSET_JOB
    assert not set(run_secrets.RUN_SECRET_NAMES) & {e.split("=")[0] for e in cfg["env_vars"]}


# ------------------------------------------------------------------------------------------ the launcher itself


class _RecordingDockerClient:
    """Stands in for docker.client.from_env(): records what the launcher asks containers.create for."""

    def __init__(self):
        self.created: list[dict] = []
        outer = self

        class _Container:
            id = "c0ffee"

            def start(self):
                return None

        class _Containers:
            def create(self, **kwargs):
                outer.created.append(kwargs)
                return _Container()

        self.containers = _Containers()


@dg.op
def _noop() -> None:
    return None


def _job(name: str, tags: dict[str, str] | None = None) -> dg.JobDefinition:
    @dg.job(name=name, tags=tags or {})
    def _j():
        _noop()

    return _j


@pytest.fixture
def compose_instance(request, tmp_path, monkeypatch):
    """compose/dagster.yaml, unmodified, on a real PostgreSQL; the daemon's environment: endpoints + secrets."""
    from dagster import DagsterInstance

    pg: PostgresServer = request.getfixturevalue("postgres_server")

    db = pg.create_database()  # a fresh one per test
    for k, v in {
        "DAGSTER_POSTGRES_HOST": pg.host,
        "DAGSTER_POSTGRES_PORT": str(pg.port),
        "DAGSTER_POSTGRES_USER": pg.user,
        "DAGSTER_POSTGRES_PASSWORD": pg.password,
        "DAGSTER_POSTGRES_DB": db,
    }.items():
        monkeypatch.setenv(k, v)
    for s in endpoints.ALL_SETTINGS:
        monkeypatch.setenv(s.env, s.default)
    for name in run_secrets.RUN_SECRET_NAMES:
        monkeypatch.setenv(name, f"daemon-{name}-Aa1")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _launch(instance, run, monkeypatch) -> dict:
    """The launcher's real container launch, up to the Docker API call; the environment the container gets."""
    import docker

    client = _RecordingDockerClient()
    monkeypatch.setattr(docker.client, "from_env", lambda: client)
    instance.run_launcher._launch_container_with_command(run, "cdc-dagster:local", ["dagster", "api", "execute_run"])
    (created,) = client.created
    return created


def test_launcher_gives_each_run_exactly_its_jobs_secrets(compose_instance, monkeypatch):
    instance = compose_instance
    launcher = instance.run_launcher
    assert isinstance(launcher, launcher_mod.SecretScopedDockerRunLauncher)
    shared = {e.split("=", 1)[0] for e in launcher.env_vars}
    assert not shared & set(run_secrets.RUN_SECRET_NAMES)
    for job_name, secrets in run_secrets.JOB_SECRETS.items():
        if job_name == run_secrets.IMPLICIT_ASSET_JOB:
            continue
        run = instance.create_run_for_job(_job(job_name, run_secrets.job_tags(job_name)))
        created = _launch(instance, run, monkeypatch)
        env = created["environment"]
        assert set(env) == shared | set(secrets) | {"DAGSTER_RUN_JOB_NAME"}, job_name
        for name in secrets:
            assert env[name] == os.environ[name]  # the value from the daemon's environment
        assert created["network"] == "cdc_net" and created["auto_remove"] is True
        assert created["labels"]["dagster/job_name"] == job_name
        # the run's event log names the secrets it got, never their values
        events = [e.message for e in instance.all_logs(run.run_id) if e.message and "secret" in e.message]
        assert events, f"{job_name}: no engine event lists the run's secrets"
        assert all(os.environ[n] not in m for m in events for n in run_secrets.RUN_SECRET_NAMES)
        if secrets:
            assert ", ".join(secrets) in events[-1]


def test_a_tag_added_at_launch_time_does_not_widen_a_jobs_secrets(compose_instance, monkeypatch):
    instance = compose_instance
    forged = {run_secrets.SECRETS_TAG: endpoints.ORACLE_ADMIN_PASSWORD_ENV}
    run = instance.create_run_for_job(_job("restart_connectors", run_secrets.job_tags("restart_connectors")), tags=forged)
    assert run.tags[run_secrets.SECRETS_TAG] == endpoints.ORACLE_ADMIN_PASSWORD_ENV  # the run carries the forged tag
    env = _launch(instance, run, monkeypatch)["environment"]
    assert not set(run_secrets.RUN_SECRET_NAMES) & set(env)
    # a job without the tag gets no secret at all, whatever the run's tags say
    run = instance.create_run_for_job(_job("untagged_job"), tags=forged)
    assert not set(run_secrets.RUN_SECRET_NAMES) & set(_launch(instance, run, monkeypatch)["environment"])
    events = [e.message for e in instance.all_logs(run.run_id) if e.message and "secret" in e.message]
    assert events[-1].endswith("Run container gets no secret (job untagged_job has no cdc/run-secrets tag (pipeline_defs/run_secrets.py))")


def test_implicit_asset_job_runs_get_the_provisioning_secrets(compose_instance, monkeypatch):
    @dg.asset
    def some_asset() -> None:
        return None

    asset_job = dg.Definitions(assets=[some_asset]).resolve_implicit_global_asset_job_def()
    assert asset_job.name == run_secrets.IMPLICIT_ASSET_JOB
    run = compose_instance.create_run_for_job(asset_job)
    env = _launch(compose_instance, run, monkeypatch)["environment"]
    assert set(run_secrets.RUN_SECRET_NAMES) & set(env) == set(run_secrets.JOB_SECRETS[run_secrets.IMPLICIT_ASSET_JOB])


def test_launcher_refuses_secrets_outside_its_allowlist_or_missing_in_the_daemon(compose_instance, monkeypatch):
    import docker

    instance = compose_instance
    calls = []
    monkeypatch.setattr(docker.client, "from_env", lambda: calls.append("docker") or _RecordingDockerClient())
    for name in ("CONFLUENT_LICENSE", "DAGSTER_POSTGRES_PASSWORD", "HOME"):
        run = instance.create_run_for_job(_job(f"greedy_{name.lower()}", {run_secrets.SECRETS_TAG: name}))
        with pytest.raises(launcher_mod.RunSecretError, match=f"asks for \\['{name}'\\].*secret_env_vars"):
            instance.run_launcher._launch_container_with_command(run, "cdc-dagster:local", [])
    monkeypatch.delenv(endpoints.ORACLE_ADMIN_PASSWORD_ENV)
    run = instance.create_run_for_job(_job("plan", run_secrets.job_tags("plan")))
    with pytest.raises(launcher_mod.RunSecretError, match="needs \\['ORACLE_ADMIN_PASSWORD'\\].*dagster-daemon"):
        instance.run_launcher._launch_container_with_command(run, "cdc-dagster:local", [])
    assert calls == [], "the launcher reached Docker although it refused the run"


def test_asset_job_definition_tags_reach_the_launcher(compose_instance, monkeypatch):
    """provision_pipeline and data_quality are asset jobs (define_asset_job): their tags land in the snapshot too."""

    @dg.asset
    def provisioned() -> None:
        return None

    asset_job = dg.define_asset_job("provision_pipeline", selection=[provisioned], tags=run_secrets.job_tags("provision_pipeline"))
    job = dg.Definitions(assets=[provisioned], jobs=[asset_job]).resolve_job_def("provision_pipeline")
    run = compose_instance.create_run_for_job(job)
    env = _launch(compose_instance, run, monkeypatch)["environment"]
    assert set(run_secrets.RUN_SECRET_NAMES) & set(env) == set(run_secrets.JOB_SECRETS["provision_pipeline"])


def test_every_job_carries_its_run_secrets_tag():
    from pipeline_defs import defs, run_secrets

    for job in defs.get_repository_def().get_all_jobs():
        if job.name != run_secrets.IMPLICIT_ASSET_JOB:
            assert job.tags.get(run_secrets.SECRETS_TAG) == run_secrets.job_tags(job.name)[run_secrets.SECRETS_TAG], job.name
