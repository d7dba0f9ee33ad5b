"""The compose stack's Dockerfiles parsed (dockerfile-parse) and linted (hadolint), its shell healthchecks and the
run scripts linted (shellcheck).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.compose_support import COMPOSE_DIR, CONNECT_DOCKERFILE, ROOT, USER_CODE_DOCKERFILE, _dockerfile, _tool

pytestmark = pytest.mark.unit

SHELL_SCRIPTS = [
    COMPOSE_DIR / "oracle" / "healthcheck.sh",
    COMPOSE_DIR / "connect" / "healthcheck.sh",
    ROOT / "scripts" / "run-main",
    ROOT / "scripts" / "run-local",
]


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
