"""compose/connect/Dockerfile, the Kafka Connect image: its plugin step (Maven Central, Confluent Hub) replayed
against the local Maven repository (checksums, plugin layout), its Redis sink stage built with Maven from exactly the
build context the Dockerfile and its .dockerignore let through, and fetch_plugin.py's archive guard.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.compose_support import (
    COMPOSE_DIR,
    CONNECT_DOCKERFILE,
    CP_VERSION,
    ROOT,
    _clean_env,
    _copy_sources,
    _dockerfile,
    _instructions,
    _tool,
)

pytestmark = pytest.mark.unit

FETCH_PLUGIN = COMPOSE_DIR / "connect" / "fetch_plugin.py"
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
