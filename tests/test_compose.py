"""Static checks of the compose stack (compose/): there is no Docker engine here, so everything that can be checked
without running containers is checked with the real tools:

- `docker-compose config` (Debian's docker-compose 1.29 parses, interpolates and validates without an engine) and
  the Compose Specification JSON schema (vendored by the `check-jsonschema` package);
- the wiring between resources/endpoints.py, docker-compose.yml, dagster.yaml, workspace.yaml and .env.example;
- compose/dagster.yaml as a real DagsterInstance on a real PostgreSQL (tests/fixtures_postgres.py), running a job;
- the Dockerfiles: parsed (dockerfile-parse), linted (hadolint), the user-code build context rebuilt and the
  project built from exactly what the Dockerfile copies, the Connect image's Maven Central step replayed against
  the local Maven repository (checksums, plugin layout), its Redis sink stage built with Maven from exactly the
  build context the Dockerfile and its .dockerignore let through;
- the shell healthchecks linted (shellcheck) and the Oracle init SQL compared with what the Oracle asset checks query.

A missing tool fails the test (never skips): scripts/bootstrap installs the Debian packages, the dev extras the rest.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from dagster import job, op

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DAGSTER_YAML = COMPOSE_DIR / "dagster.yaml"
WORKSPACE_YAML = COMPOSE_DIR / "workspace.yaml"
USER_CODE_DOCKERFILE = COMPOSE_DIR / "Dockerfile"
CONNECT_DOCKERFILE = COMPOSE_DIR / "connect" / "Dockerfile"
FETCH_PLUGIN = COMPOSE_DIR / "connect" / "fetch_plugin.py"
ORACLE_INIT_DIR = COMPOSE_DIR / "oracle" / "init"
SHELL_SCRIPTS = [
    COMPOSE_DIR / "oracle" / "healthcheck.sh",
    COMPOSE_DIR / "connect" / "healthcheck.sh",
    ROOT / "scripts" / "run-main",
    ROOT / "scripts" / "run-local",
]

try:  # the PostgreSQL fixture; this module is also loaded by path in dagster's run subprocesses
    from fixtures_postgres import PostgresServer, postgres_server
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fixtures_postgres import PostgresServer, postgres_server  # noqa: F401

try:
    from resources import endpoints
except ImportError:
    sys.path.insert(0, str(ROOT))
    from resources import endpoints

pytestmark = pytest.mark.unit

CP_VERSION = "7.9.0"  # Confluent Platform 7.9.0 ships Apache Kafka 3.9.0
KAFKA_VERSION = "3.9.0"
SEED_PORTS = {1521, 6379, 8081, 8083, 8088, 9021, 9092}
DAGSTER_UI_PORT = 3000
RUN_LAUNCHER_SERVICE = "dagster-daemon"
USER_CODE_SERVICE = "dagster-user-code"
DAGSTER_POSTGRES_VARS = [
    "DAGSTER_POSTGRES_HOST",
    "DAGSTER_POSTGRES_PORT",
    "DAGSTER_POSTGRES_USER",
    "DAGSTER_POSTGRES_PASSWORD",
    "DAGSTER_POSTGRES_DB",
]
# .env values that have no published default: compose refuses to start while one is empty
REQUIRED_SECRETS = ["ORACLE_ADMIN_PASSWORD", "ORACLE_PASSWORD", "REDIS_PASSWORD", "DAGSTER_POSTGRES_PASSWORD"]
PINNED_DOWNLOADS = ["ORACLE_IMAGE", "ORACLE_CDC_SHA256", "REDIS_SINK_SHA256"]
FAKE_ORACLE_IMAGE = "heartu41/oracle19c@sha256:" + "ab" * 32  # well-formed; the real digest is the user's to pin


# ---------------------------------------------------------------------------------------------------- helpers


def _tool(name: str) -> str:
    """A CLI from the venv (dev extras) or PATH; fails (never skips) when it is missing."""
    venv_bin = Path(sys.executable).parent / name
    if venv_bin.exists():
        return str(venv_bin)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` is not installed; run scripts/bootstrap (Debian packages + dev extras)", pytrace=False)
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: the caller's KAFKA_*/ORACLE_* etc. must not override .env.example in interpolation."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(extra)
    return env


def _load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def _env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose .env file (comments and blank lines ignored, one level of quotes removed)."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f"{path.name}: not KEY=VALUE: {raw!r}"
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _env_mapping(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            k, sep, v = item.partition("=")
            out[k] = v if sep else None
        return out
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def _container_ports(service: dict) -> set[int]:
    """Container-side ports a service publishes (`ports`) or exposes (`expose`), any syntax."""
    ports: set[int] = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    for p in service.get("expose") or []:
        ports.add(int(str(p).split("/")[0]))
    return ports


def _published_ports(service: dict) -> set[int]:
    out: set[int] = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out.add(int(p["published"]))
        else:
            parts = str(p).split("/")[0].split(":")
            out.add(int(parts[-2] if len(parts) >= 2 else parts[-1]))
    return out


def _secret_env_names() -> list[str]:
    return sorted(v for k, v in vars(endpoints).items() if k.endswith("_ENV") and isinstance(v, str) and v.isupper())


def _pipeline_env_names() -> list[str]:
    return [s.env for s in endpoints.ALL_SETTINGS] + _secret_env_names()


def _filled_env_text(**overrides: str) -> str:
    """.env.example with every empty required value filled the way a user (or run-main) fills it."""
    import secrets as pysecrets

    fill = {n: "Aa1" + pysecrets.token_hex(12) for n in REQUIRED_SECRETS}
    fill |= {"ORACLE_IMAGE": FAKE_ORACLE_IMAGE, "ORACLE_CDC_SHA256": "1" * 64, "REDIS_SINK_SHA256": "2" * 64}
    fill |= overrides
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#") and key in fill:
            line = f"{key}={fill[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _compose_config(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("docker-compose"), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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


def _dockerfile(path: Path):
    """dockerfile-parse on any file name (its `path=` wants a directory or a file called Dockerfile)."""
    import io

    from dockerfile_parse import DockerfileParser

    return DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))


def _instructions(path: Path, name: str) -> list[str]:
    return [i["value"] for i in _dockerfile(path).structure if i["instruction"] == name]


def _copy_sources(path: Path) -> list[str]:
    """Sources of every COPY without --from (flags dropped, destination dropped)."""
    sources: list[str] = []
    for value in _instructions(path, "COPY"):
        words = shlex.split(value)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources += [w.rstrip("/") for w in words[:-1]]
    return sources


def _exec_form(value: str) -> list[str]:
    import json

    return json.loads(value)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalize_sql(text: str) -> str:
    return re.sub(r"\s+", " ", text).upper()


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return _load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def filled_env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose-env") / ".env"
    path.write_text(_filled_env_text())
    return path


@pytest.fixture(scope="module")
def resolved_compose(filled_env_file) -> dict:
    """`docker-compose config` with a filled .env: interpolated, merged, validated by docker-compose itself."""
    proc = _compose_config(filled_env_file)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def dagster_cfg() -> dict:
    return _load_yaml(DAGSTER_YAML)


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return _env_file(ENV_EXAMPLE)


# ---------------------------------------------------------------------------------------------------- compose file


def test_docker_compose_config_accepts_the_file_with_a_filled_env(filled_env_file):
    proc = _compose_config(filled_env_file)
    assert proc.returncode == 0, proc.stderr
    # the optional Confluent UIs are there, behind profiles
    services = yaml.safe_load(proc.stdout)["services"]
    assert services["rest-proxy"]["profiles"] == ["rest-proxy"]
    assert services["control-center"]["profiles"] == ["control-center"]


def test_env_example_publishes_no_password_and_compose_refuses_it_as_is(env_example):
    """.env.example carries no usable secret or pin: copied as it is, compose refuses to render."""
    for name in REQUIRED_SECRETS + PINNED_DOWNLOADS:
        assert name in env_example and env_example[name] == "", f".env.example publishes a value for {name}"
    proc = _compose_config(ENV_EXAMPLE)
    assert proc.returncode != 0
    assert "compose/.env" in proc.stderr


@pytest.mark.parametrize("missing", REQUIRED_SECRETS + PINNED_DOWNLOADS)
def test_docker_compose_config_fails_without_each_secret_and_pin(tmp_path, missing):
    """Each secret and pin comes from .env only: without it compose refuses to render (`${VAR:?...}`)."""
    env_file = tmp_path / ".env"
    env_file.write_text(_filled_env_text(**{missing: ""}))
    proc = _compose_config(env_file)
    assert proc.returncode != 0, f"compose rendered without {missing}"
    assert missing in proc.stderr and "compose/.env" in proc.stderr  # the `:?` message says what and where


def test_compose_file_validates_against_the_compose_specification_schema(resolved_compose, tmp_path):
    check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    proc = subprocess.run([*check, str(COMPOSE_FILE)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the file docker-compose renders from it
    resolved = tmp_path / "resolved.yml"
    resolved.write_text(yaml.safe_dump(resolved_compose))
    proc = subprocess.run([*check, str(resolved)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # negative control: the schema really rejects a malformed file (an unknown service key, a bad depends_on condition)
    broken = copy.deepcopy(_load_yaml(COMPOSE_FILE))
    broken["services"]["broker"]["healthcheck_typo"] = {"test": ["CMD", "true"]}
    broken["services"]["connect"]["depends_on"]["broker"]["condition"] = "service_ready"
    bad = tmp_path / "broken.yml"
    bad.write_text(yaml.safe_dump(broken))
    proc = subprocess.run([*check, str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0, "the compose-spec schema accepted a malformed file"


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [x for v in node for x in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_every_compose_variable_is_defined_in_env_example(raw_compose, env_example):
    text = "\n".join(_strings(raw_compose))  # what compose interpolates: every key and value, no comments
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    used |= set(re.findall(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "no variables found: the regex is broken"
    missing = sorted(used - set(env_example))
    assert not missing, f"used in docker-compose.yml but not defined in compose/.env.example: {missing}"


def test_secrets_come_from_env_and_env_is_gitignored(raw_compose, env_example):
    text = COMPOSE_FILE.read_text()
    for secret in REQUIRED_SECRETS:
        assert secret in env_example and not env_example[secret], f"{secret} must be listed, empty, in .env.example"
        # required (no default): `${NAME:?message}`
        refs = re.findall(r"\$\{" + secret + r"(:?[-?][^}]*)?\}", text)
        assert refs and all(r.startswith(":?") for r in refs), f"{secret} must be ${{{secret}:?...}} everywhere"
    assert "CONFLUENT_LICENSE" in env_example
    # no literal password anywhere in the compose file
    for name, service in raw_compose["services"].items():
        for key, value in _env_mapping(service).items():
            if re.search(r"PASSWORD|PWD|LICENSE|SECRET", key) and value:
                assert "${" in value, f"{name}.{key} is a literal secret; take it from .env"
    proc = subprocess.run(["git", "check-ignore", "-q", "compose/.env"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, "compose/.env must be git-ignored"


def test_every_service_has_a_healthcheck(raw_compose):
    for name, service in raw_compose["services"].items():
        hc = service.get("healthcheck")
        assert hc and hc.get("test"), f"service {name} has no healthcheck"
        assert not hc.get("disable"), f"service {name} disables its healthcheck"
        assert hc["test"] != ["NONE"], f"service {name} disables its healthcheck"


def test_every_dependency_waits_for_health(raw_compose):
    services = raw_compose["services"]
    for name, service in services.items():
        deps = service.get("depends_on")
        if deps is None:
            continue
        assert isinstance(deps, dict), f"{name}: depends_on must be the long form with a condition"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = (spec or {}).get("condition")
            allowed = {"service_healthy"}
            if services[dep].get("restart") in (None, "no"):
                allowed.add("service_completed_successfully")  # a one-shot init job
            assert condition in allowed, f"{name} -> {dep}: condition {condition!r}, expected service_healthy"


def test_named_volumes_and_explicitly_named_network(raw_compose, dagster_cfg):
    declared = raw_compose.get("volumes") or {}
    for name, service in raw_compose["services"].items():
        for v in service.get("volumes") or []:
            source = v["source"] if isinstance(v, dict) else str(v).split(":", 1)[0]
            if source.startswith((".", "/")):
                # bind mounts only for read-only config/scripts and the Docker socket
                assert source == "/var/run/docker.sock" or str(v).endswith(":ro"), f"{name}: bind mount {v}"
            else:
                assert source in declared, f"{name}: volume {source} is not a declared named volume"
        assert "network_mode" not in service, f"{name} leaves the compose network"
        assert "networks" not in service, f"{name} must stay on the default network (cdc_net)"

    networks = raw_compose["networks"]
    assert set(networks) == {"default"}
    net_name = networks["default"]["name"]
    assert dagster_cfg["run_launcher"]["config"]["network"] == net_name == "cdc_net"

    # the run containers mount the storage volume by its explicit name
    storage_volume = declared["dagster-storage"]["name"]
    mounts = dagster_cfg["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert any(m.split(":", 1)[0] == storage_volume for m in mounts)
    for svc in (RUN_LAUNCHER_SERVICE, USER_CODE_SERVICE, "dagster-webserver"):
        targets = [str(v).split(":")[1] for v in raw_compose["services"][svc]["volumes"] if "dagster-storage" in str(v)]
        assert targets == [m.split(":")[1] for m in mounts], f"{svc} mounts the storage volume elsewhere"


def test_ports_of_the_seed_plus_dagster_ui(resolved_compose):
    published = set()
    for service in resolved_compose["services"].values():
        published |= _published_ports(service)
    assert SEED_PORTS | {DAGSTER_UI_PORT} <= published
    assert 3000 in _published_ports(resolved_compose["services"]["dagster-webserver"])


def test_no_two_services_build_the_same_image_tag(resolved_compose):
    """Each locally built tag has exactly one `build:`; services that reuse it only name it, and never pull it."""
    services = resolved_compose["services"]
    builders: dict[str, list[str]] = {}
    for name, service in services.items():
        if "build" in service:
            assert service.get("image"), f"{name} builds an image without naming its tag"
            builders.setdefault(service["image"], []).append(name)
    assert builders, "no service builds anything: the check is vacuous"
    duplicated = {tag: names for tag, names in builders.items() if len(names) > 1}
    assert not duplicated, f"several services build the same tag: {duplicated}"
    # the control plane: one image, built once by the code server, reused by the webserver, the daemon and the runs
    dagster_image = services[USER_CODE_SERVICE]["image"]
    assert builders[dagster_image] == [USER_CODE_SERVICE]
    for svc in ("dagster-webserver", RUN_LAUNCHER_SERVICE):
        assert services[svc]["image"] == dagster_image and "build" not in services[svc]
        assert services[svc].get("pull_policy") == "never", f"{svc} would try to pull the local tag {dagster_image}"
    assert _env_mapping(services[USER_CODE_SERVICE])["DAGSTER_CURRENT_IMAGE"] == dagster_image
    assert not (COMPOSE_DIR / "Dockerfile_dagster").exists()


def test_images_are_pinned(raw_compose, resolved_compose):
    built_here = {s["image"] for s in raw_compose["services"].values() if "build" in s}
    for name, service in raw_compose["services"].items():
        image = service.get("image", "")
        if "build" in service or image in built_here:
            continue  # built here from pinned bases
        if name == "oracle":
            # heartu41/oracle19c publishes only `latest`: the user pins it by digest in .env (README.md)
            assert image.startswith("${ORACLE_IMAGE:?"), image
            assert resolved_compose["services"]["oracle"]["image"] == FAKE_ORACLE_IMAGE
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        if repo.startswith("confluentinc/"):
            assert tag == CP_VERSION, f"{name}: Confluent Platform must be {CP_VERSION}, got {tag}"


def test_confluent_platform_matches_the_local_kafka_version():
    pom = (ROOT / "stack" / "pom.xml").read_text()
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert m and m.group(1) == KAFKA_VERSION, "the local stack's Kafka and CP 7.9.0 (Apache Kafka 3.9.0) diverge"


def test_kraft_broker_listeners(raw_compose):
    env = _env_mapping(raw_compose["services"]["broker"])
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://broker:29092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT_HOST://${KAFKA_HOST_ADVERTISED_NAME:-localhost}:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")


def test_kafka_host_listener_advertises_the_configured_host(resolved_compose, tmp_path):
    env = _env_mapping(resolved_compose["services"]["broker"])
    assert "PLAINTEXT_HOST://localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")  # .env.example default
    env_file = tmp_path / ".env"
    env_file.write_text(_filled_env_text(KAFKA_HOST_ADVERTISED_NAME="kafka.example.internal"))
    proc = _compose_config(env_file)
    assert proc.returncode == 0, proc.stderr
    listeners = _env_mapping(yaml.safe_load(proc.stdout)["services"]["broker"])["KAFKA_ADVERTISED_LISTENERS"]
    assert listeners.split(",") == ["PLAINTEXT://broker:29092", "PLAINTEXT_HOST://kafka.example.internal:9092"]


# ---------------------------------------------------------------------------------------------------- endpoints


def _endpoint_defaults() -> dict[str, tuple[str, int]]:
    """setting env name -> (host, port) for every endpoints.py default that names a host and port."""
    out: dict[str, tuple[str, int]] = {}
    for s in endpoints.ALL_SETTINGS:
        d = s.default
        if "://" in d:
            u = urlsplit(d)
            port = u.port or {"http": 80, "https": 443, "redis": 6379}[u.scheme]
            out[s.env] = (u.hostname, port)
        elif re.fullmatch(r"[A-Za-z0-9_.-]+:\d+", d):
            host, port = d.rsplit(":", 1)
            out[s.env] = (host, int(port))
    out["ORACLE_HOST"] = (endpoints.ORACLE_HOST.default, int(endpoints.ORACLE_PORT.default))
    return out


def test_every_endpoint_default_is_a_compose_service_exposing_that_port(raw_compose):
    services = raw_compose["services"]
    defaults = _endpoint_defaults()
    # not vacuous: every system of the pipeline is covered
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_CONNECT_URL",
        "KSQLDB_URL",
        "SCHEMA_REGISTRY_URL",
        "REDIS_URL",
        "ORACLE_HOST",
    } <= set(defaults)
    for env_name, (host, port) in defaults.items():
        assert host in services, f"{env_name}: default host {host!r} is not a compose service"
        service = services[host]
        exposed = _container_ports(service)
        env = _env_mapping(service)
        listeners = ",".join(filter(None, [env.get("KAFKA_ADVERTISED_LISTENERS"), env.get("KAFKA_LISTENERS")]))
        advertised = {int(p) for h, p in re.findall(r"//([^:,]+):(\d+)", listeners) if h == host}
        assert port in exposed or port in advertised, (
            f"{env_name}: service {host} does not expose port {port} (ports {sorted(exposed)}, listeners {listeners!r})"
        )
    # Kafka clients inside the network use the internal listener
    broker_env = _env_mapping(services["broker"])
    assert f"PLAINTEXT://{endpoints.KAFKA_BOOTSTRAP_SERVERS.default}" in broker_env["KAFKA_ADVERTISED_LISTENERS"]
    # the Oracle service name is the database's SID/CDB service
    assert _env_mapping(services["oracle"])["ORACLE_SID"] == endpoints.ORACLE_SERVICE_NAME.default


def test_env_example_and_compose_defaults_equal_the_endpoint_defaults(resolved_compose, env_example):
    daemon_env = _env_mapping(resolved_compose["services"][RUN_LAUNCHER_SERVICE])
    for s in endpoints.ALL_SETTINGS:
        assert env_example.get(s.env) == s.default, f".env.example {s.env} != endpoints.py default {s.default!r}"
        assert daemon_env.get(s.env) == s.default, f"daemon {s.env}={daemon_env.get(s.env)!r}, expected {s.default!r}"


# ---------------------------------------------------------------------------------------------------- Dagster wiring


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


@op
def produce() -> int:
    return 21


@op
def double(x: int) -> int:
    return 2 * x


@job(tags={"cdc/connector": "compose-smoke"})
def compose_smoke_job():
    """The small job of the instance test (module level: its step processes load it from this file)."""
    double(produce())


def test_compose_dagster_yaml_is_a_working_instance_on_postgres(postgres_server: PostgresServer, tmp_path, monkeypatch):
    """compose/dagster.yaml, unmodified, becomes a DagsterInstance on PostgreSQL with the Docker launcher and the
    queued coordinator; the same file with only the run launcher swapped for the default one executes a job whose
    run, events and steps land in PostgreSQL (the job runs multiprocess, so the step processes reload the instance
    from its ref with the DAGSTER_POSTGRES_* variables, as run containers do)."""
    from dagster import DagsterInstance, execute_job, reconstructable
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.scheduler import DagsterDaemonScheduler
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from resources.run_launcher import SecretScopedDockerRunLauncher

    db = postgres_server.create_database("dagster_compose")
    monkeypatch.setenv("DAGSTER_POSTGRES_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_POSTGRES_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_POSTGRES_USER", postgres_server.user)
    monkeypatch.setenv("DAGSTER_POSTGRES_PASSWORD", postgres_server.password)
    monkeypatch.setenv("DAGSTER_POSTGRES_DB", db)

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.scheduler, DagsterDaemonScheduler)
        launcher = instance.run_launcher
        assert isinstance(launcher, SecretScopedDockerRunLauncher) and isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == ["cdc_net"]
        assert "ORACLE_PASSWORD" not in launcher.env_vars and "ORACLE_PASSWORD" in launcher.secret_env_vars
        assert launcher.container_kwargs["volumes"] == ["cdc_dagster_storage:/opt/dagster/dagster_home/storage"]
        assert launcher.container_kwargs["auto_remove"] is True
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        queue = coordinator.get_run_queue_config()
        assert any(
            lim["key"] == "cdc/connector" and lim["limit"] == 1 and lim["value"] == {"applyLimitPerUniqueValue": True}
            for lim in queue.tag_concurrency_limits
        )
        assert instance.run_monitoring_enabled
        assert instance.get_runs() == []  # storage reachable and empty

    swapped = tmp_path / "dagster_home_default_launcher"
    swapped.mkdir()
    cfg = _load_yaml(DAGSTER_YAML)
    cfg["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    (swapped / "dagster.yaml").write_text(yaml.safe_dump(cfg))
    with DagsterInstance.from_config(str(swapped)) as instance:
        assert isinstance(instance.run_launcher, DefaultRunLauncher)
        with execute_job(reconstructable(compose_smoke_job), instance=instance) as result:
            assert result.success
            assert result.output_for_node("double") == 42
            run_id = result.run_id

    # straight from PostgreSQL: the run row and its events are there
    conn = postgres_server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchone() == ("SUCCESS",)
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'", (run_id,))
            assert cur.fetchone() == (2,)
    finally:
        conn.close()

    # and the unmodified compose instance reads it back
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        assert run.tags.get("cdc/connector") == "compose-smoke"


# ---------------------------------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("dockerfile", [USER_CODE_DOCKERFILE, CONNECT_DOCKERFILE], ids=lambda p: p.relative_to(COMPOSE_DIR).as_posix())
def test_dockerfiles_parse_and_pass_hadolint(dockerfile):
    parser = _dockerfile(dockerfile)
    assert parser.baseimage, f"{dockerfile}: no FROM"
    assert parser.structure[0]["instruction"] in ("FROM", "ARG", "COMMENT")
    proc = subprocess.run([_tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"hadolint {dockerfile.name}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shell_scripts_pass_shellcheck(script):
    proc = subprocess.run([_tool("shellcheck"), str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_user_code_dockerfile_installs_exactly_the_project():
    parser = _dockerfile(USER_CODE_DOCKERFILE)
    assert re.fullmatch(r"python:3\.(1[1-3])(\.\d+)?-slim(-\w+)?", parser.baseimage), parser.baseimage
    from packaging.specifiers import SpecifierSet

    minor = int(re.match(r"python:3\.(\d+)", parser.baseimage).group(1))
    requires = _pyproject()["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"3.{minor}.0"), f"{parser.baseimage} outside requires-python {requires}"

    sources = _copy_sources(USER_CODE_DOCKERFILE)
    for needed in ("pyproject.toml", "pipeline_defs", "resources", "pipeline.yaml"):
        assert needed in sources, f"compose/Dockerfile does not COPY {needed}"
    readme = _pyproject()["project"].get("readme")
    if isinstance(readme, str):
        assert readme in sources, f"pyproject.toml's readme {readme} is needed by `pip install .`"
    runs = " && ".join(_instructions(USER_CODE_DOCKERFILE, "RUN"))
    assert re.search(r"\bpip install \.(\s|$)", runs), "the project must be installed with `pip install .`"
    assert "pip install ." in (COMPOSE_DIR / "README.md").read_text()
    env = dict(parser.envs)
    assert env["CDC_PIPELINE_SPEC"].endswith("/pipeline.yaml")
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"

    # the BuildKit ignore file for this build context lets every COPY source through
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().splitlines()
    for src in sources:
        assert f"!{src}" in ignore or f"!{src}/" in ignore, f"Dockerfile.dockerignore hides {src}"


def test_user_code_build_context_builds_the_project(tmp_path):
    """Rebuild the Docker build context from exactly what compose/Dockerfile COPYs and build the project from it
    the way `pip install .` does in the image: a wheel, with build isolation (pyproject's build-system.requires is
    fetched from the package index, as in the Docker build); both packages must be inside."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for src in _copy_sources(USER_CODE_DOCKERFILE):
        path = ROOT / src
        assert path.exists(), f"compose/Dockerfile COPYs {src}, which is not in the repository"
        target = ctx / src
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, target)
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ctx)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("pipeline_defs/") for n in names)
    assert "resources/endpoints.py" in names


def test_the_one_dagster_image_has_the_webserver_daemon_and_launcher_packages():
    """Webserver, daemon and runs share compose/Dockerfile's image, which installs the project (`pip install .`):
    pyproject.toml must pin everything those processes import, from one Dagster release set."""
    deps = _pyproject()["project"]["dependencies"]
    pins = dict(re.fullmatch(r"([a-z-]+)==([\d.]+)", d).groups() for d in deps if re.fullmatch(r"dagster[a-z-]*==[\d.]+", d))
    assert pins["dagster"] == pins["dagster-webserver"] == pins["dagster-graphql"]
    assert pins["dagster-docker"] == pins["dagster-postgres"]
    # the launcher class the instance names is in a package the image installs
    packages = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    module = _load_yaml(DAGSTER_YAML)["run_launcher"]["module"]
    assert any(re.fullmatch(p.replace("*", ".*"), module.split(".")[0]) for p in packages), module
    assert "resources" in _copy_sources(USER_CODE_DOCKERFILE)


# ---------------------------------------------------------------------------------------------------- Connect image

CONNECT_ARCHIVES = {  # build arg holding the checksum -> (version arg, archive name template, unpacked top directory)
    "ORACLE_CDC_SHA256": (
        "ORACLE_CDC_VERSION",
        "confluentinc-kafka-connect-oracle-cdc-{v}.zip",
        "confluentinc-kafka-connect-oracle-cdc-{v}",
    ),
    "REDIS_SINK_SHA256": ("REDIS_SINK_VERSION", "redis-redis-kafka-connect-{v}.zip", "redis-redis-kafka-connect-{v}"),
    "DEBEZIUM_SHA256": ("DEBEZIUM_VERSION", "debezium-connector-oracle-{v}-plugin.tar.gz", "debezium-connector-oracle"),
}


def _connect_stage(index: int) -> list[dict]:
    structure = _dockerfile(CONNECT_DOCKERFILE).structure
    froms = [i for i, x in enumerate(structure) if x["instruction"] == "FROM"]
    assert len(froms) == 3, "connect/Dockerfile: expected a plugins stage, the redis-sink build stage and the worker stage"
    return structure[froms[index] : (froms[index + 1] if index + 1 < len(froms) else len(structure))]


def _connect_stages() -> tuple[list[str], list[str]]:
    """The RUN steps of the plugins stage and the COPY lines of the final stage."""
    first, last = _connect_stage(0), _connect_stage(2)
    return ([x["value"] for x in first if x["instruction"] == "RUN"], [x["value"] for x in last if x["instruction"] == "COPY"])


def _plugin_stage_args() -> dict[str, str | None]:
    """ARGs of the plugins stage: name -> default (None when it has none). dockerfile-parse's .args is the last
    stage's."""
    structure = _dockerfile(CONNECT_DOCKERFILE).structure
    froms = [i for i, x in enumerate(structure) if x["instruction"] == "FROM"]
    out: dict[str, str | None] = {}
    for x in structure[froms[0] : froms[1]]:
        if x["instruction"] == "ARG":
            name, sep, default = x["value"].partition("=")
            out[name.strip()] = default.strip() if sep else None
    return out


def test_connect_dockerfile_installs_every_plugin_from_a_checksummed_archive(raw_compose):
    parser = _dockerfile(CONNECT_DOCKERFILE)
    assert parser.baseimage == f"confluentinc/cp-kafka-connect:{CP_VERSION}"
    args = _plugin_stage_args()
    text = CONNECT_DOCKERFILE.read_text()
    assert "confluent-hub install" not in "\n".join(_instructions(CONNECT_DOCKERFILE, "RUN")), "deprecated CLI"
    runs, copies = _connect_stages()
    (step,) = runs
    for sha_arg, (version_arg, archive, _) in CONNECT_ARCHIVES.items():
        assert f"--sha256-name {sha_arg}" in step and f'"${{{sha_arg}}}"' in step
        assert archive.format(v=f"${{{version_arg}}}") in step
    assert args["REDIS_SINK_VERSION"] == "0.9.1"
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["ORACLE_CDC_VERSION"])
    # the Confluent Hub checksums have no default (none is published where we could read it): the build must be
    # given them, from .env, or fail
    for sha_arg in ("ORACLE_CDC_SHA256", "REDIS_SINK_SHA256"):
        assert sha_arg in args and args[sha_arg] is None, f"{sha_arg} must be a build arg without default"
        assert re.search(rf"^ARG {sha_arg}$", text, re.MULTILINE)
        assert raw_compose["services"]["connect"]["build"]["args"][sha_arg].startswith(f"${{{sha_arg}:?")
    assert re.fullmatch(r"[0-9a-f]{64}", args["DEBEZIUM_SHA256"])
    pom = (ROOT / "stack" / "pom.xml").read_text()
    assert args["DEBEZIUM_VERSION"] == re.search(r"<debezium\.version>([^<]+)<", pom).group(1) == "3.1.3.Final"
    assert args["MAVEN_CENTRAL"] == "https://repo1.maven.org/maven2"
    assert args["CONFLUENT_HUB"].startswith("https://")
    assert ["--from=plugins", "/plugins/", "/usr/share/confluent-hub-components/"] in [shlex.split(c) for c in copies]
    # our sink, built in the image from the repository (the build context is the repository root)
    assert ["--from=redis-sink", "/build/target/plugin/", "/usr/share/confluent-hub-components/cdcplane-redis-json/"] in [
        shlex.split(c) for c in copies
    ]
    assert raw_compose["services"]["connect"]["build"]["context"] == ".."
    assert raw_compose["services"]["connect"]["build"]["dockerfile"] == "compose/connect/Dockerfile"
    # the healthcheck waits for exactly these plugins
    hc = (COMPOSE_DIR / "connect" / "healthcheck.sh").read_text()
    for cls in (
        "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",
        "com.cdcplane.redis.RedisJsonSinkConnector",
        "com.redis.kafka.connect.RedisSinkConnector",
        "io.debezium.connector.oracle.OracleConnector",
        "io.confluent.connect.avro.AvroConverter",
    ):
        assert cls in hc


def _local_maven_repo() -> Path:
    return Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))


def _ensure_maven_artifact(coords: str, rel_path: str) -> Path:
    path = _local_maven_repo() / rel_path
    if not path.exists():
        proc = subprocess.run(
            [_tool("mvn"), "-q", "-B", "dependency:get", f"-Dartifact={coords}", "-Dtransitive=false"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, f"mvn dependency:get {coords} failed:\n{proc.stdout}{proc.stderr}"
    assert path.exists(), path
    return path


def _hub_archive(hub: Path, owner: str, name: str, version: str, top: str) -> str:
    """A zip in Confluent Hub's layout (<owner>-<name>-<version>/{manifest.json,lib/}) under a file:// hub root;
    its SHA-256. The real archives cannot be downloaded here; the step under test is download-verify-unpack."""
    import hashlib

    path = hub / owner / name / "versions" / version / f"{owner}-{name}-{version}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/manifest.json", f'{{"name": "{name}", "version": "{version}"}}')
        zf.writestr(f"{top}/lib/{name}-{version}.jar", b"PK-not-really-a-jar")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_connect_plugin_step_replays_with_local_archives(tmp_path):
    """Run the Dockerfile's plugin RUN step as written, Maven Central replaced by the local Maven repository and
    Confluent Hub by a file:// tree: the real Debezium archive passes its pinned checksum and unpacks to the local
    stack's layout (one Oracle JDBC driver); a wrong or missing checksum stops the build with nothing installed."""
    args = {k: v or "" for k, v in _plugin_stage_args().items()}
    dbz = args["DEBEZIUM_VERSION"]
    _ensure_maven_artifact(
        f"io.debezium:debezium-connector-oracle:{dbz}:tar.gz:plugin",
        f"io/debezium/debezium-connector-oracle/{dbz}/debezium-connector-oracle-{dbz}-plugin.tar.gz",
    )
    hub = tmp_path / "hub"
    cdc_top = CONNECT_ARCHIVES["ORACLE_CDC_SHA256"][2].format(v=args["ORACLE_CDC_VERSION"])
    redis_top = CONNECT_ARCHIVES["REDIS_SINK_SHA256"][2].format(v=args["REDIS_SINK_VERSION"])
    sums = {
        "ORACLE_CDC_SHA256": _hub_archive(hub, "confluentinc", "kafka-connect-oracle-cdc", args["ORACLE_CDC_VERSION"], cdc_top),
        "REDIS_SINK_SHA256": _hub_archive(hub, "redis", "redis-kafka-connect", args["REDIS_SINK_VERSION"], redis_top),
    }
    ((step,), _) = _connect_stages()
    plugins = tmp_path / "plugins"
    script = step.replace("/usr/local/bin/fetch_plugin.py", str(FETCH_PLUGIN)).replace(" /plugins", f" {plugins}")
    script = script.replace("python ", f"{sys.executable} ")

    def replay(**overrides: str) -> subprocess.CompletedProcess:
        shutil.rmtree(plugins, ignore_errors=True)
        env = _clean_env(**{**args, **sums, "MAVEN_CENTRAL": _local_maven_repo().as_uri(), "CONFLUENT_HUB": hub.as_uri(), **overrides})
        return subprocess.run(["bash", "-o", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False)

    proc = replay()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in plugins.iterdir()) == sorted([cdc_top, redis_top, "debezium-connector-oracle"])
    assert (plugins / cdc_top / "manifest.json").is_file() and (plugins / redis_top / "lib").is_dir()
    plugin_dir = plugins / "debezium-connector-oracle"
    assert (plugin_dir / f"debezium-connector-oracle-{dbz}.jar").is_file()
    drivers = sorted(p.name for p in plugin_dir.glob("ojdbc*.jar"))
    assert len(drivers) == 1, drivers
    pinned = re.search(r"<ojdbc\.version>([^<]+)<", (ROOT / "stack" / "pom.xml").read_text())
    if pinned:
        assert drivers == [f"ojdbc11-{pinned.group(1)}.jar"], "the local stack pins another ojdbc11"

    # a wrong checksum stops the build before anything of that archive is unpacked
    proc = replay(REDIS_SINK_SHA256="0" * 64)
    assert proc.returncode != 0
    assert "SHA-256 is" in proc.stderr and "REDIS_SINK_SHA256" in proc.stderr and "nothing installed" in proc.stderr
    assert not (plugins / redis_top).exists()
    proc = replay(DEBEZIUM_SHA256="0" * 64)
    assert proc.returncode != 0 and not (plugins / "debezium-connector-oracle").exists()
    # a missing one (the build arg unset) fails with its name and where to read how to get it
    proc = replay(ORACLE_CDC_SHA256="")
    assert proc.returncode != 0
    assert not plugins.exists(), "a step ran although the first archive had no checksum"
    assert "ORACLE_CDC_SHA256" in proc.stderr and "Pinned downloads" in proc.stderr


def _dockerignore_allows(ignore_lines: list[str], rel: str) -> bool:
    """BuildKit's rule for this file's shape: `**` then `!path` exceptions; the last matching line wins."""
    allowed = False
    for line in (x.strip() for x in ignore_lines):
        if not line or line.startswith("#"):
            continue
        neg, pat = line.startswith("!"), line.lstrip("!").rstrip("/")
        if pat == "**" or rel == pat or rel.startswith(pat + "/"):
            allowed = neg
    return allowed


def test_connect_redis_sink_stage_builds_our_plugin_from_its_build_context(tmp_path):
    """Rebuild the Connect image's build context from what compose/connect/Dockerfile COPYs, filtered by its
    .dockerignore as BuildKit does, and run the redis-sink stage's RUN step as written (Maven against the local
    repository): it lays out the plugin directory the worker stage copies, with the connector class the spec names
    for `cdcplane-redis-json` and without the jars the worker provides."""
    from pipeline_defs.systems.redis.spec import PLUGINS

    stage = _connect_stage(1)
    assert stage[0]["value"].split()[0].startswith("maven:3.9.9-eclipse-temurin-17")
    workdir = next(x["value"] for x in stage if x["instruction"] == "WORKDIR")
    ignore = (COMPOSE_DIR / "connect" / "Dockerfile.dockerignore").read_text().splitlines()
    ctx = tmp_path / "build"
    for value in (x["value"] for x in stage if x["instruction"] == "COPY"):
        src, dest = shlex.split(value)
        path = ROOT / src.rstrip("/")
        assert path.exists() and _dockerignore_allows(ignore, src.rstrip("/")), f"{src}: not in the build context"
        target = ctx / dest.removeprefix("./").rstrip("/")
        if path.is_dir():
            shutil.copytree(
                path,
                target,
                ignore=lambda d, names: [n for n in names if not _dockerignore_allows(ignore, str(Path(d, n).relative_to(ROOT)))],
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    assert not (ctx / "src" / "test").exists() and not (ctx / "target").exists()
    (step,) = [x["value"] for x in stage if x["instruction"] == "RUN"]
    # offline against the local repository: the image build resolves the same pinned artifacts from Maven Central
    script = step.replace("mvn ", f"{_tool('mvn')} -o -Dmaven.repo.local={_local_maven_repo()} ", 1)
    proc = subprocess.run(["sh", "-c", script], cwd=ctx, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{workdir}: {proc.stdout}{proc.stderr}"
    plugin = ctx / "target" / "plugin"
    jars = sorted(p.name for p in plugin.glob("*.jar"))
    (ours,) = [j for j in jars if j.startswith("redis-json-sink-")]
    assert any(j.startswith("jedis-") for j in jars), jars
    assert not any(j.startswith(("connect-api-", "kafka-clients-", "slf4j-api-")) for j in jars), jars
    services = zipfile.ZipFile(plugin / ours).read("META-INF/services/org.apache.kafka.connect.sink.SinkConnector").decode()
    assert PLUGINS["cdcplane-redis-json"] in services.split()
    # every other COPY of the Dockerfile gets through the ignore file too
    for src in _copy_sources(CONNECT_DOCKERFILE):
        assert _dockerignore_allows(ignore, src), f"Dockerfile.dockerignore hides {src}"


def test_fetch_plugin_refuses_archive_members_outside_the_plugin_directory(tmp_path):
    import hashlib

    archive = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil-1.0/manifest.json", "{}")
        zf.writestr("../../escaped.txt", "x")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    dest = tmp_path / "plugins"
    proc = subprocess.run(
        [sys.executable, str(FETCH_PLUGIN), "--sha256-name", "X_SHA256", archive.as_uri(), sha, str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "outside" in proc.stderr
    assert not (tmp_path.parent / "escaped.txt").exists() and not (dest.exists() and any(dest.iterdir()))


# ---------------------------------------------------------------------------------------------------- Oracle


def _init_sql() -> str:
    files = sorted(ORACLE_INIT_DIR.glob("*.sql"))
    assert files, "compose/oracle/init has no .sql file"
    return "\n".join(f.read_text() for f in files)


SQLPLUS_LINE_COMMANDS = re.compile(r"^\s*(--|REM\b|SET\b|WHENEVER\b|PROMPT\b|SPOOL\b|HOST\b)", re.IGNORECASE)


def _sql_statements(text: str) -> list[str]:
    """`;`-terminated statements, without comments and SQL*Plus line commands (SET ..., WHENEVER ...)."""
    body = "\n".join(line for line in text.splitlines() if not SQLPLUS_LINE_COMMANDS.match(line))
    return [_normalize_sql(s).strip() for s in body.split(";") if s.strip()]


ORACLE_CHECK_COLUMNS = ("LOG_MODE", "SUPPLEMENTAL_LOG_DATA_MIN", "SUPPLEMENTAL_LOG_DATA_ALL")


def _database_row_after(statements: list[str]) -> dict[str, str]:
    """The V$DATABASE row a fresh 19c database (NOARCHIVELOG, no supplemental logging) shows after `statements`.
    ARCHIVELOG only takes effect in MOUNT state; all-column logging alone shows MIN = IMPLICIT."""
    row = {"LOG_MODE": "NOARCHIVELOG", "SUPPLEMENTAL_LOG_DATA_MIN": "NO", "SUPPLEMENTAL_LOG_DATA_ALL": "NO"}
    mounted = False
    for s in statements:
        if s == "STARTUP MOUNT":
            mounted = True
        elif s == "ALTER DATABASE OPEN":
            mounted = False
        elif s == "ALTER DATABASE ARCHIVELOG" and mounted:
            row["LOG_MODE"] = "ARCHIVELOG"
        elif s == "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA":
            row["SUPPLEMENTAL_LOG_DATA_MIN"] = "YES"
        elif s == "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS":
            row["SUPPLEMENTAL_LOG_DATA_ALL"] = "YES"
            if row["SUPPLEMENTAL_LOG_DATA_MIN"] == "NO":
                row["SUPPLEMENTAL_LOG_DATA_MIN"] = "IMPLICIT"
    return row


def test_oracle_init_sql_turns_on_what_the_asset_checks_verify(raw_compose):
    sql = _init_sql()
    statements = _sql_statements(sql)
    # ARCHIVELOG: only in MOUNT state, then open again
    order = [s for s in statements if s in ("SHUTDOWN IMMEDIATE", "STARTUP MOUNT", "ALTER DATABASE ARCHIVELOG", "ALTER DATABASE OPEN")]
    assert order == ["SHUTDOWN IMMEDIATE", "STARTUP MOUNT", "ALTER DATABASE ARCHIVELOG", "ALTER DATABASE OPEN"], order
    # minimal supplemental logging makes SUPPLEMENTAL_LOG_DATA_MIN = YES; ALL COLUMNS makes ..._ALL = YES
    assert "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA" in statements
    assert "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS" in statements
    assert statements.index("ALTER DATABASE ADD SUPPLEMENTAL LOG DATA") > statements.index("ALTER DATABASE OPEN")
    assert _database_row_after(statements) == {
        "LOG_MODE": "ARCHIVELOG",
        "SUPPLEMENTAL_LOG_DATA_MIN": "YES",
        "SUPPLEMENTAL_LOG_DATA_ALL": "YES",
    }
    # the file names the checks it satisfies
    assert "check_archivelog" in sql and "check_supplemental_logging" in sql
    # mounted where the 19c image runs setup scripts, and the container's health is those checks
    mounts = raw_compose["services"]["oracle"]["volumes"]
    assert "./oracle/init:/opt/oracle/scripts/setup:ro" in mounts
    hc = (COMPOSE_DIR / "oracle" / "healthcheck.sh").read_text()
    assert "LOG_MODE=ARCHIVELOG" in hc and "SUPPLEMENTAL_LOG_DATA_MIN=(YES|IMPLICIT)" in hc


def test_oracle_asset_checks_pass_on_what_the_init_sql_sets():
    """The Oracle asset checks (pipeline_defs/systems/oracle/catalog.py) read V$DATABASE with one probe; the init SQL
    ends with that probe verbatim, and the checks pass on the row the init SQL produces (and fail without its statements)."""
    from types import SimpleNamespace

    from pipeline_defs.systems.oracle import catalog as q

    sql = _init_sql()
    spec = SimpleNamespace(
        role=SimpleNamespace(name="C##CDC_PRIVS"),
        user=SimpleNamespace(name="C##MYUSER"),
        tables=[SimpleNamespace(name="POC_USERDATA"), SimpleNamespace(name="POC_CLICKSTREAM")],
    )
    # the probe the checks really run (catalog_probes), not a text search of the module
    probes = {_normalize_sql(p.sql) for p in q.catalog_probes(spec) if "V$DATABASE" in p.sql.upper()}
    assert len(probes) == 1, probes
    assert all(c in probe for probe in probes for c in ORACLE_CHECK_COLUMNS)
    statements = _sql_statements(sql)
    for probe in probes:
        assert probe in statements, f"compose/oracle/init does not end with the checks' probe `{probe}`"

    state = q.parse_catalog({"database": [_database_row_after(statements)]})
    assert q.check_archivelog(state)[0], q.check_archivelog(state)
    assert q.check_supplemental_logging(spec, state)[0], q.check_supplemental_logging(spec, state)

    # negative controls: without the init statements the same checks fail
    without_archivelog = [s for s in statements if s != "ALTER DATABASE ARCHIVELOG"]
    assert not q.check_archivelog(q.parse_catalog({"database": [_database_row_after(without_archivelog)]}))[0]
    without_supplemental = [s for s in statements if "SUPPLEMENTAL" not in s]
    state = q.parse_catalog({"database": [_database_row_after(without_supplemental)]})
    assert not q.check_supplemental_logging(spec, state)[0]


# ---------------------------------------------------------------------------------------------------- scripts/run-main

FAKE_DOCKER = r"""#!/usr/bin/env bash
# a stand-in `docker` for run-main's checks; logs every call
echo "docker $*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) [ "${FAKE_INFO_OK:-1}" = 1 ] && { echo "Server Version: 28.2.2"; exit 0; }
        echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
        exit 1 ;;
  compose)
    shift
    case "${FAKE_COMPOSE:-v2}" in
      none) echo "docker: unknown command: docker compose" >&2; exit 1 ;;
      v1) exec docker-compose "$@" ;;   # compose-switch: `docker compose` runs the v1 binary
    esac
    case "$1 ${2:-}" in
      "version --short") echo "2.29.7" ;;
      "up --help") echo "      --wait    Wait for services to be running|healthy." ;;
      "up "*) exit "${FAKE_UP_RC:-0}" ;;
      "exec "*) exit "${FAKE_EXEC_RC:-0}" ;;
      *) exit 0 ;;
    esac ;;
esac
"""


def _run_main_tree(tmp_path: Path) -> Path:
    """scripts/run-main, scripts/run-local and compose/.env.example copied into a scratch tree, so a run that gets
    as far as writing compose/.env writes it there."""
    tree = tmp_path / "repo"
    (tree / "scripts").mkdir(parents=True)
    (tree / "compose").mkdir()
    for name in ("run-main", "run-local"):
        shutil.copy2(ROOT / "scripts" / name, tree / "scripts" / name)
    shutil.copy2(ENV_EXAMPLE, tree / "compose" / ".env.example")
    return tree


def _fake_docker_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    # docker-compose v1 (Debian's 1.29) behind a logging shim: run-main must never fall back to it
    real_v1 = shutil.which("docker-compose")
    assert real_v1, "docker-compose (v1) is not installed; run scripts/bootstrap"
    (bin_dir / "docker-compose").write_text(f'#!/usr/bin/env bash\necho "docker-compose $*" >> "$FAKE_DOCKER_LOG"\nexec {real_v1} "$@"\n')
    (bin_dir / "docker-compose").chmod(0o755)
    return bin_dir


def _run_main(tree: Path, *args: str, bin_dir: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    path = os.environ["PATH"] if bin_dir is None else f"{bin_dir}:{os.environ['PATH']}"
    return subprocess.run(
        [str(tree / "scripts" / "run-main"), *args],
        env=_clean_env(PATH=path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _started(log: Path) -> list[str]:
    """The calls that would start something: `docker compose up` (not `up --help`) or any docker-compose v1 `up`."""
    return [c for c in log.read_text().splitlines() if re.match(r"docker(-| )compose up(?! --help)", c)]


def _stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.strip()]


def test_run_main_compose_without_a_docker_engine_exits_with_one_line(tmp_path):
    """For real: this machine has the docker CLI but no engine."""
    docker = shutil.which("docker")
    assert docker, "the docker CLI is not installed: this test needs it to show the real 'no engine' failure"
    assert subprocess.run([docker, "info"], capture_output=True, timeout=60, check=False).returncode != 0, "an engine answers here"
    tree = _run_main_tree(tmp_path)
    proc = _run_main(tree, "--compose")
    assert proc.returncode != 0
    lines = _stderr_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("run-main: no Docker engine reachable") and "Cannot connect to the Docker daemon" in lines[0]
    assert proc.stdout == ""
    assert not (tree / "compose" / ".env").exists(), "run-main wrote compose/.env before its checks passed"


@pytest.mark.parametrize("compose", ["v1", "none"], ids=["docker-compose-is-v1", "no-compose-plugin-v1-on-path"])
def test_run_main_compose_refuses_compose_v1_with_one_line(tmp_path, compose):
    """A fake `docker` whose engine answers but whose Compose is v1 (compose-switch), or that has no compose plugin
    while Debian's docker-compose 1.29 is on PATH: one line, non-zero, nothing started, v1 never used."""
    tree = _run_main_tree(tmp_path)
    log = tmp_path / "docker.log"
    log.touch()
    proc = _run_main(tree, "--compose", bin_dir=_fake_docker_bin(tmp_path), FAKE_DOCKER_LOG=str(log), FAKE_COMPOSE=compose)
    assert proc.returncode != 0
    lines = _stderr_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert "needs Docker Compose v2" in lines[0]
    if compose == "v1":
        assert "1.29" in lines[0]  # the version it found
    calls = log.read_text().splitlines()
    assert "docker info" in calls, "the engine check did not run"
    assert not _started(log), calls
    if compose == "none":
        assert not [c for c in calls if c.startswith("docker-compose")], "run-main fell back to docker-compose v1"
    assert not (tree / "compose" / ".env").exists()


def _set_env_values(env_file: Path, **values: str) -> None:
    lines = []
    for line in env_file.read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if "=" in line and key in values else line)
    env_file.write_text("\n".join(lines) + "\n")


def test_run_main_compose_generates_passwords_refuses_unpinned_downloads_then_launches_through_the_instance(tmp_path):
    tree = _run_main_tree(tmp_path)
    log = tmp_path / "docker.log"
    log.touch()
    bin_dir = _fake_docker_bin(tmp_path)
    env_file = tree / "compose" / ".env"

    # first use: new passwords in compose/.env (mode 600), then a refusal: nothing pins the Oracle image yet
    proc = _run_main(tree, "--compose", bin_dir=bin_dir, FAKE_DOCKER_LOG=str(log))
    assert proc.returncode != 0
    lines = _stderr_lines(proc)
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("run-main: wrote new passwords to ") and str(env_file) in lines[0]
    assert "ORACLE_IMAGE must be pinned by digest" in lines[1]
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = _env_file(env_file)
    passwords = [values[n] for n in REQUIRED_SECRETS]
    assert len(set(passwords)) == len(passwords), "the same password twice"
    for name, pw in zip(REQUIRED_SECRETS, passwords, strict=True):
        # Oracle's ORACLE_PWD rules, unquoted everywhere: letters and digits, upper, lower, digit, a letter first
        assert (
            re.fullmatch(r"[A-Za-z][A-Za-z0-9]{23}", pw) and re.search("[A-Z]", pw) and re.search("[a-z]", pw) and re.search("[0-9]", pw)
        ), f"{name}: weak or malformed generated password"
        assert pw not in proc.stderr + proc.stdout, "a password was printed"
    example = _env_file(ENV_EXAMPLE)
    assert {k: v for k, v in values.items() if k not in REQUIRED_SECRETS} == {
        k: v for k, v in example.items() if k not in REQUIRED_SECRETS
    }  # the rest is the template's
    assert not _started(log)

    # a second run keeps the passwords; unpinned connector archives are refused too
    _set_env_values(env_file, ORACLE_IMAGE=FAKE_ORACLE_IMAGE)
    proc = _run_main(tree, "--compose", bin_dir=bin_dir, FAKE_DOCKER_LOG=str(log))
    assert proc.returncode != 0 and len(_stderr_lines(proc)) == 1 and "ORACLE_CDC_SHA256" in proc.stderr
    assert [_env_file(env_file)[n] for n in REQUIRED_SECRETS] == passwords

    # pinned: compose up --wait, then the job is launched through the instance; run-main's status is the run's
    _set_env_values(env_file, ORACLE_CDC_SHA256="a" * 64, REDIS_SINK_SHA256="b" * 64)
    launch = "docker compose exec -T dagster-webserver cdc-launch-job -w /opt/dagster/dagster_home/workspace.yaml -j provision_pipeline"
    for exec_rc in (1, 0):
        log.write_text("")
        proc = _run_main(tree, "--compose", bin_dir=bin_dir, FAKE_DOCKER_LOG=str(log), FAKE_EXEC_RC=str(exec_rc))
        assert proc.returncode == exec_rc, proc.stderr
        calls = log.read_text().splitlines()
        assert calls[-2:] == ["docker compose up -d --build --wait", launch], calls
    # the launch command is the one the image installs, with the workspace the image holds
    copies = [shlex.split(v) for v in _instructions(USER_CODE_DOCKERFILE, "COPY")]
    assert ["compose/launch_job.py", "/usr/local/bin/cdc-launch-job"] in copies
    log.write_text("")
    proc = _run_main(tree, "--compose", "--no-up", bin_dir=bin_dir, FAKE_DOCKER_LOG=str(log))
    assert proc.returncode == 0 and log.read_text().splitlines()[-1] == launch
    assert not _started(log)
    # a failing `up` is reported in one line with its status, and nothing is launched
    log.write_text("")
    proc = _run_main(tree, "--compose", bin_dir=bin_dir, FAKE_DOCKER_LOG=str(log), FAKE_UP_RC="17")
    assert proc.returncode == 17 and _stderr_lines(proc)[-1].startswith("run-main: 'docker compose up' failed")
    assert launch not in log.read_text()


@pytest.mark.parametrize("value", ["ChangeMe1Oracle", "short1A", ""], ids=["published-example", "short", "empty"])
def test_run_main_compose_refuses_example_or_weak_passwords(tmp_path, value):
    tree = _run_main_tree(tmp_path)
    log = tmp_path / "docker.log"
    log.touch()
    env_file = tree / "compose" / ".env"
    env_file.write_text(_filled_env_text(ORACLE_ADMIN_PASSWORD=value))
    env_file.chmod(0o644)
    proc = _run_main(tree, "--compose", bin_dir=_fake_docker_bin(tmp_path), FAKE_DOCKER_LOG=str(log))
    assert proc.returncode != 0
    lines = _stderr_lines(proc)
    assert lines[-1].startswith(f"run-main: {env_file}: ORACLE_ADMIN_PASSWORD is "), proc.stderr
    assert len(lines) == 2 and "now mode 600" in lines[0]  # and the readable file was closed
    assert env_file.stat().st_mode & 0o777 == 0o600
    if value:
        assert value not in proc.stderr
    assert not _started(log)


def test_run_main_without_arguments_runs_the_local_profile(tmp_path):
    tree = _run_main_tree(tmp_path)
    proc = _run_main(tree, "extra")  # no --compose: run-main hands over to run-local, which takes no argument
    assert proc.returncode == 2
    assert _stderr_lines(proc) == ["run-local: takes no arguments (the compose stack is 'scripts/run-main --compose')"]
    proc = _run_main(tree, "--compose", "--bogus")
    assert proc.returncode == 2 and len(_stderr_lines(proc)) == 1 and "unknown argument '--bogus'" in proc.stderr
