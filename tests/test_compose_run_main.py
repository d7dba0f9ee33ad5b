"""scripts/run-main --compose: the checks it makes before starting anything (a Docker engine, Compose v2, pinned
downloads, strong passwords), the passwords it generates, the launch through the instance. For real where this machine
allows it (the docker CLI without an engine), otherwise with a stand-in `docker` that logs every call.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.compose_support import (
    ENV_EXAMPLE,
    FAKE_ORACLE_IMAGE,
    REQUIRED_SECRETS,
    ROOT,
    USER_CODE_DOCKERFILE,
    _clean_env,
    _env_file,
    _filled_env_text,
    _instructions,
)

pytestmark = pytest.mark.unit

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
