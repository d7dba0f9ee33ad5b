"""The wiring between compose/docker-compose.yml, compose/dagster.yaml, compose/workspace.yaml and the Dagster
image: which service and which run container gets each endpoint and secret, the code server and its workspace, the
instance settings.
"""

from __future__ import annotations

import os
import shlex

import pytest
import yaml

from resources import endpoints
from tests.compose_support import (
    COMPOSE_DIR,
    REQUIRED_SECRETS,
    RUN_LAUNCHER_SERVICE,
    USER_CODE_DOCKERFILE,
    USER_CODE_SERVICE,
    _compose_config,
    _dockerfile,
    _env_mapping,
    _filled_env_text,
    _instructions,
    _load_yaml,
    _pyproject,
)

pytestmark = pytest.mark.unit

WORKSPACE_YAML = COMPOSE_DIR / "workspace.yaml"
DAGSTER_POSTGRES_VARS = [
    "DAGSTER_POSTGRES_HOST",
    "DAGSTER_POSTGRES_PORT",
    "DAGSTER_POSTGRES_USER",
    "DAGSTER_POSTGRES_PASSWORD",
    "DAGSTER_POSTGRES_DB",
]


def _secret_env_names() -> list[str]:
    return sorted(v for k, v in vars(endpoints).items() if k.endswith("_ENV") and isinstance(v, str) and v.isupper())


def _dagster_env_refs(node) -> set[str]:
    """Every `{env: NAME}` in a dagster.yaml tree."""
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"env"}:
            found.add(node["env"])
        for v in node.values():
            found |= _dagster_env_refs(v)
    elif isinstance(node, list):
        for v in node:
            found |= _dagster_env_refs(v)
    return found


def _launcher_env_var_names(dagster_cfg: dict) -> list[str]:
    return [e.split("=", 1)[0] for e in dagster_cfg["run_launcher"]["config"]["env_vars"]]


def _exec_form(value: str) -> list[str]:
    import json

    return json.loads(value)


def test_run_containers_get_the_endpoints_but_no_pipeline_secret_globally(resolved_compose, dagster_cfg):
    """env_vars go to every run container: the endpoints and Dagster's PostgreSQL, never a pipeline secret. Secrets
    are only in secret_env_vars, which the launcher hands out per job (tests/test_compose_run_secrets.py)."""
    forwarded = _launcher_env_var_names(dagster_cfg)
    assert len(forwarded) == len(set(forwarded)), "duplicate env_vars"
    secrets = set(_secret_env_names())
    assert {"ORACLE_PASSWORD", "ORACLE_ADMIN_PASSWORD", "REDIS_PASSWORD", "CONFLUENT_LICENSE"} <= secrets
    leaked = sorted(secrets & set(forwarded))
    assert not leaked, f"run_launcher.config.env_vars gives every run {leaked}"
    needed = [s.env for s in endpoints.ALL_SETTINGS] + DAGSTER_POSTGRES_VARS
    missing = [n for n in needed if n not in forwarded]
    assert not missing, f"run_launcher.config.env_vars lacks {missing}"
    # the run containers load the instance from dagster.yaml: its {env: X} must reach them too
    missing_refs = sorted(_dagster_env_refs(dagster_cfg) - set(forwarded))
    assert not missing_refs, f"dagster.yaml reads {missing_refs} but does not forward them to runs"

    launcher_cfg = dagster_cfg["run_launcher"]["config"]
    run_secrets = set(launcher_cfg["secret_env_vars"])
    assert run_secrets <= secrets and "CONFLUENT_LICENSE" not in run_secrets  # the Connect worker's alone
    services = resolved_compose["services"]
    daemon = _env_mapping(services[RUN_LAUNCHER_SERVICE])
    undefined = [n for n in needed + sorted(run_secrets) if not daemon.get(n)]
    assert not undefined, f"{RUN_LAUNCHER_SERVICE} does not define {undefined}"
    # no other Dagster service holds a pipeline secret
    for svc in (USER_CODE_SERVICE, "dagster-webserver"):
        env = _env_mapping(services[svc])
        assert not secrets & set(env), f"{svc} has {sorted(secrets & set(env))}"
    user_code = _env_mapping(services[USER_CODE_SERVICE])
    assert all(user_code.get(s.env) for s in endpoints.ALL_SETTINGS), "the code server's sensors need the endpoints"
    # webserver + daemon + user code all reach the same Postgres
    for svc in (RUN_LAUNCHER_SERVICE, USER_CODE_SERVICE, "dagster-webserver"):
        env = _env_mapping(services[svc])
        assert env["DAGSTER_POSTGRES_HOST"] == "dagster-postgres"
        assert env["DAGSTER_POSTGRES_PORT"] == "5432"


def test_secrets_reach_only_the_services_that_use_them(tmp_path):
    """The "who sees which secret" table of compose/README.md: render the stack with a distinct value per secret and
    find every service whose rendered definition (environment, command, build args) carries it."""
    import json

    markers = {n: f"Zq9{n.replace('_', '')}Marker" for n in [*REQUIRED_SECRETS, "CONFLUENT_LICENSE"]}
    env_file = tmp_path / ".env"
    env_file.write_text(_filled_env_text(**markers))
    proc = _compose_config(env_file)
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    expected = {
        "ORACLE_ADMIN_PASSWORD": {"oracle", RUN_LAUNCHER_SERVICE},
        "ORACLE_PASSWORD": {"connect", RUN_LAUNCHER_SERVICE},
        "REDIS_PASSWORD": {"redis", "connect", RUN_LAUNCHER_SERVICE},
        "CONFLUENT_LICENSE": {"connect", "control-center"},
        "DAGSTER_POSTGRES_PASSWORD": {"dagster-postgres", USER_CODE_SERVICE, "dagster-webserver", RUN_LAUNCHER_SERVICE},
    }
    for secret, holders in expected.items():
        seen = {name for name, service in services.items() if markers[secret] in json.dumps(service)}
        assert seen == holders, f"{secret} reaches {sorted(seen)}, expected {sorted(holders)}"


def test_docker_run_launcher_resolves_every_env_var_in_the_daemon_environment(resolved_compose, dagster_cfg, monkeypatch):
    """What the daemon does at launch time: the launcher turns bare names into values from its own env."""
    from dagster._core.utils import parse_env_var

    daemon_env = _env_mapping(resolved_compose["services"][RUN_LAUNCHER_SERVICE])
    for k in list(os.environ):
        monkeypatch.delenv(k)
    for k, v in daemon_env.items():
        monkeypatch.setenv(k, v or "")
    cfg = dagster_cfg["run_launcher"]["config"]
    resolved = dict(parse_env_var(e) for e in cfg["env_vars"] + cfg["secret_env_vars"])
    assert resolved["KAFKA_BOOTSTRAP_SERVERS"] == "broker:29092"
    assert resolved["DAGSTER_POSTGRES_HOST"] == "dagster-postgres"
    assert all(resolved[n] for n in cfg["secret_env_vars"])  # from .env


def test_user_code_image_is_the_run_image_and_the_workspace_matches(raw_compose):
    services = raw_compose["services"]
    user_code = services[USER_CODE_SERVICE]
    env = _env_mapping(user_code)
    assert env["DAGSTER_CURRENT_IMAGE"] == user_code["image"]
    assert user_code["build"] == {"context": "..", "dockerfile": "compose/Dockerfile"}
    workspace_in_image = "/opt/dagster/dagster_home/workspace.yaml"

    tool = _pyproject()["tool"]["dagster"]
    workspace = _load_yaml(WORKSPACE_YAML)
    (entry,) = workspace["load_from"]
    grpc = entry["grpc_server"]
    assert grpc["host"] == USER_CODE_SERVICE
    assert grpc["location_name"] == tool["code_location_name"] == "cdc_pipeline"

    cmd = _exec_form(_instructions(USER_CODE_DOCKERFILE, "CMD")[-1])
    assert cmd == [
        "dagster",
        "code-server",
        "start",
        "-h",
        "0.0.0.0",
        "-p",
        str(grpc["port"]),
        "-m",
        tool["module_name"],
        "--location-name",
        tool["code_location_name"],
    ]
    assert user_code["healthcheck"]["test"] == ["CMD", "dagster", "api", "grpc-health-check", "-p", str(grpc["port"])]

    # webserver/daemon wait for the code server and the database
    for svc in ("dagster-webserver", RUN_LAUNCHER_SERVICE):
        assert set(services[svc]["depends_on"]) >= {"dagster-postgres", USER_CODE_SERVICE}
        assert "/var/run/docker.sock:/var/run/docker.sock" in services[svc]["volumes"]
    web = services["dagster-webserver"]
    assert "/server_info" in " ".join(web["healthcheck"]["test"])
    assert web["entrypoint"][:1] == ["dagster-webserver"] and web["entrypoint"][-2:] == ["-w", workspace_in_image]
    assert services[RUN_LAUNCHER_SERVICE]["entrypoint"] == ["dagster-daemon", "run", "-w", workspace_in_image]
    # the image holds the instance, that workspace and the launch command run-main uses
    copies = [shlex.split(v) for v in _instructions(USER_CODE_DOCKERFILE, "COPY")]
    assert ["compose/dagster.yaml", "compose/workspace.yaml", "${DAGSTER_HOME}/"] in copies
    assert ["compose/launch_job.py", "/usr/local/bin/cdc-launch-job"] in copies
    assert dict(_dockerfile(USER_CODE_DOCKERFILE).envs)["DAGSTER_HOME"] + "/workspace.yaml" == workspace_in_image


def test_dagster_yaml_settings():
    from dagster._core.instance.config import dagster_instance_config

    # the schema check dagster runs at startup (no storage connection needed)
    cfg, _ = dagster_instance_config(str(COMPOSE_DIR), "dagster.yaml")
    assert cfg["run_launcher"]["class"] == "SecretScopedDockerRunLauncher"
    assert cfg["run_launcher"]["module"] == "resources.run_launcher"
    # finished run containers are removed, so they never hold the storage volume or cdc_net at `down -v`
    assert cfg["run_launcher"]["config"]["container_kwargs"]["auto_remove"] is True
    rc = cfg["run_coordinator"]
    assert rc["class"] == "QueuedRunCoordinator"
    limits = rc["config"]["tag_concurrency_limits"]
    assert {"key": "cdc/connector", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert cfg["run_monitoring"]["enabled"] is True
    assert set(cfg["storage"]["postgres"]["postgres_db"]) >= {"hostname", "port", "username", "password", "db_name"}
