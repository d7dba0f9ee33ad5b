"""compose/Dockerfile, the one Dagster image (code server, webserver, daemon, runs): it installs exactly the
project, and the project builds from exactly the build context the Dockerfile copies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.compose_support import (
    COMPOSE_DIR,
    DAGSTER_YAML,
    ROOT,
    USER_CODE_DOCKERFILE,
    _copy_sources,
    _dockerfile,
    _instructions,
    _load_yaml,
    _pyproject,
)

pytestmark = pytest.mark.unit


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
