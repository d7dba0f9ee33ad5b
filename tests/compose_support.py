"""Shared by the checks of the compose stack (compose/, tests/test_compose_*.py). There is no Docker engine here,
so everything that can be checked without running containers is checked with the real tools; this module holds the
paths, the helpers that render, parse and read the stack's files with those tools, and the parsed files as session
fixtures (registered in tests/conftest.py: each is made once per run).

A missing tool fails the test (never skips): scripts/bootstrap installs the Debian packages, the dev extras the rest.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DAGSTER_YAML = COMPOSE_DIR / "dagster.yaml"
USER_CODE_DOCKERFILE = COMPOSE_DIR / "Dockerfile"
CONNECT_DOCKERFILE = COMPOSE_DIR / "connect" / "Dockerfile"

CP_VERSION = "7.9.0"  # Confluent Platform 7.9.0 ships Apache Kafka 3.9.0
RUN_LAUNCHER_SERVICE = "dagster-daemon"
USER_CODE_SERVICE = "dagster-user-code"

# .env values that have no published default: compose refuses to start while one is empty
REQUIRED_SECRETS = ["ORACLE_ADMIN_PASSWORD", "ORACLE_PASSWORD", "REDIS_PASSWORD", "DAGSTER_POSTGRES_PASSWORD"]
FAKE_ORACLE_IMAGE = "heartu41/oracle19c@sha256:" + "ab" * 32  # well-formed; the real digest is the user's to pin


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


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# session scope: several test modules share them, each is made once per run (no test changes them)
@pytest.fixture(scope="session")
def raw_compose() -> dict:
    return _load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="session")
def filled_env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose-env") / ".env"
    path.write_text(_filled_env_text())
    return path


@pytest.fixture(scope="session")
def resolved_compose(filled_env_file) -> dict:
    """`docker-compose config` with a filled .env: interpolated, merged, validated by docker-compose itself."""
    proc = _compose_config(filled_env_file)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="session")
def dagster_cfg() -> dict:
    return _load_yaml(DAGSTER_YAML)


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return _env_file(ENV_EXAMPLE)
