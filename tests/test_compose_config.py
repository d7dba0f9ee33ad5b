"""`docker-compose config` (Debian's docker-compose 1.29 parses, interpolates and validates without an engine) and the
Compose Specification JSON schema (vendored by the `check-jsonschema` package) on compose/docker-compose.yml: it renders
with a filled compose/.env and refuses to without each secret and pin; every variable it uses is in .env.example.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest
import yaml

from tests.compose_support import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    REQUIRED_SECRETS,
    ROOT,
    _compose_config,
    _env_mapping,
    _filled_env_text,
    _load_yaml,
)

pytestmark = pytest.mark.unit

PINNED_DOWNLOADS = ["ORACLE_IMAGE", "ORACLE_CDC_SHA256", "REDIS_SINK_SHA256"]


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
